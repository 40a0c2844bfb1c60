package summary

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/series"
)

func TestRead(t *testing.T) {
	data, err := (&File{Schema: Schema, SchemaVersion: Version, Run: "star-1"}).Marshal()
	require.NoError(t, err)
	s, err := Read(data)
	require.NoError(t, err)
	assert.Equal(t, "star-1", s.Run)

	for _, doc := range []string{
		`{"schema":"meshtest/summary","schema_version":0}`,
		`{"schema":"meshtest/summary","schema_version":99}`,
		`{"schema":"meshtest/baseline","schema_version":1}`,
	} {
		_, err := Read([]byte(doc))
		var se *SchemaError
		require.True(t, errors.As(err, &se), doc)
		assert.ErrorContains(t, err, "re-run the experiment to regenerate it", doc)
	}
	_, err = Read([]byte("{"))
	assert.Error(t, err)
}

// TestReadVersion1: a summary written before version 2 ("Mean", "P95",
// a "docker" section) still reads, into the version 2 fields.
func TestReadVersion1(t *testing.T) {
	v1 := `{"schema":"meshtest/summary","schema_version":1,"run":"star-1",
	  "docker":{"server_version":"20.10.24","api_version":"1.41"},
	  "roles":{"bootstrap":{"goroutines":{"N":3,"Mean":460,"Min":459,"P50":460,"P95":461,"Max":461,"Stddev":1}}},
	  "sweep":{"fits":{"bootstrap_goroutines":{"Slope":4,"Intercept":21,"R2":1,"N":4}}}}`
	s, err := Read([]byte(v1))
	require.NoError(t, err)
	assert.Equal(t, "docker", s.Backend.Backend)
	assert.Equal(t, "20.10.24", s.Backend.ServerVersion)
	assert.Equal(t, series.Stats{N: 3, Mean: 460, Min: 459, P50: 460, P95: 461, Max: 461, Stddev: 1}, s.Roles["bootstrap"]["goroutines"])
	assert.Equal(t, 4.0, s.Sweep.Fits["bootstrap_goroutines"].Slope)
}

// TestKeysAreSnakeCase: every key summary.json writes is snake_case, the
// one style of the document, down to the statistics of every role and
// figure and the encoded Config.
func TestKeysAreSnakeCase(t *testing.T) {
	f := &File{
		Schema: Schema, SchemaVersion: Version,
		Config:      json.RawMessage(`{"name":"star","converge_timeout_s":61,"interval_s":1,"spec":{"name":"x","connections":{"name":"connections","family":"f"}}}`),
		Images:      map[string]string{"meshnode": "meshtest-node:abc"},
		Convergence: Convergence{Roles: map[string]string{"Bootstrap": ByPeerIDs}},
		Roles:       map[string]map[string]series.Stats{"Peer": {"Goroutines": series.Describe([]float64{1, 2})}},
		Spread:      map[string]map[string]series.Stats{"Peer": {"Goroutines": series.Describe([]float64{1, 2})}},
		OverTime:    map[string]map[string][]RoundPoint{"Peer": {"Goroutines": {{Round: 0}}}},
		Sweep: &Sweep{Sizes: map[string]map[string]SweepFigure{"peers=10": {"B": {Mean: 1}}},
			Fits: map[string]series.Line{"X": {Slope: 1}}},
		Network: shaped().Network,
		Events:  shaped().Events,
	}
	data, err := f.Marshal()
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc))
	assert.Empty(t, notSnakeCase(doc), "keys of summary.json")

	// The walk looks inside the data-keyed maps: a statistic's key in
	// another style is caught there.
	var bad any
	require.NoError(t, json.Unmarshal([]byte(`{"roles":{"peer":{"goroutines":{"Mean":1}}}}`), &bad))
	assert.Equal(t, []string{".roles.peer.goroutines.Mean"}, notSnakeCase(bad))
}

// shaped is the summary of a run with link conditions and faults: a delay
// line in user space, one path off its loss, a partition healed.
func shaped() *File {
	start := time.Date(2026, 5, 4, 9, 42, 17, 0, time.UTC)
	return &File{
		Schema: Schema, SchemaVersion: Version, Run: "star-10",
		Network: &Network{
			Mechanism: "nfqueue-delay-line",
			Kernel:    "sch_netem missing; nfqueue, ifb, htb",
			Note:      "the kernel has no sch_netem: delay in user space",
			Calibration: []Calibration{
				{From: "bootstrap", To: "peer-1", WantRTTMs: 40, GotRTTMs: 40.6, WantLoss: 0.0199, GotLoss: 0.02, Probes: 500,
					WantRateBitsPerS: 10e6, GotRateBitsPerS: 9.7e6, Verdict: CalibrationOK},
				{From: "peer-1", To: "peer-2", WantRTTMs: 80, GotRTTMs: 81, WantLoss: 0.01, GotLoss: 0.08, Probes: 500,
					Verdict: CalibrationMismatch, Mismatches: []string{"loss 8.0 %, want 1.0 % ± 1.5 %"}},
			},
			DelayLine: &DelayLineCost{Packets: 120000, CPUSeconds: 1.8, CPUMsPer1000Packets: 15, MeanLateMs: 0.12, MaxLateMs: 2.5},
		},
		Events: []Event{
			{At: start.Add(-time.Second), ElapsedS: -1, Kind: "conditions", Detail: "latency 20ms, loss 1%"},
			{At: start.Add(10 * time.Second), ElapsedS: 10, Kind: "partition", Nodes: []string{"peer-1", "peer-2"}, Detail: "{peer-1, peer-2} | {rest}"},
			{At: start.Add(20 * time.Second), ElapsedS: 20, Kind: "heal", RecoveredS: 3.2, Recovery: ByPeerIDs},
			{At: start.Add(30 * time.Second), ElapsedS: 30, Kind: "kill", Nodes: []string{"peer-3"}, Recovery: "not awaited"},
		},
	}
}

// TestNetworkAndEventsRoundTrip: the network and events sections read back
// as written, and a summary without them writes neither key, so that the
// summary of a run without conditions or faults is the one it always was.
func TestNetworkAndEventsRoundTrip(t *testing.T) {
	want := shaped()
	data, err := want.Marshal()
	require.NoError(t, err)
	got, err := Read(data)
	require.NoError(t, err)
	assert.Equal(t, want.Network, got.Network)
	assert.Equal(t, want.Events, got.Events)

	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	ev := doc["events"].([]any)
	assert.Equal(t, map[string]any{"at": "2026-05-04T09:42:37Z", "elapsed_s": 20.0, "kind": "heal", "recovered_s": 3.2, "recovery": "peer-ids"}, ev[2],
		"an event leaves out what it does not have")
	assert.Equal(t, -1.0, ev[0].(map[string]any)["elapsed_s"], "an event before the window")

	plain, err := (&File{Schema: Schema, SchemaVersion: Version}).Marshal()
	require.NoError(t, err)
	assert.NotContains(t, string(plain), `"network"`)
	assert.NotContains(t, string(plain), `"events"`)
	old, err := Read(plain)
	require.NoError(t, err)
	assert.Nil(t, old.Network)
	assert.Nil(t, old.Events)
}

// TestReadVersion2WithoutNetwork: a version 2 summary written before the
// network and events sections existed reads, without them.
func TestReadVersion2WithoutNetwork(t *testing.T) {
	v2 := `{"schema":"meshtest/summary","schema_version":2,"run":"star-1",
	  "roles":{"bootstrap":{"goroutines":{"n":3,"mean":460}}},"charts":["star-1-memory.png"]}`
	s, err := Read([]byte(v2))
	require.NoError(t, err)
	assert.Equal(t, "star-1", s.Run)
	assert.Equal(t, 460.0, s.Roles["bootstrap"]["goroutines"].Mean)
	assert.Nil(t, s.Network)
	assert.Empty(t, s.Events)
}

// notSnakeCase lists the schema keys of a decoded summary that are not
// snake_case. Maps keyed by data (images, roles, figures, sizes) are not
// schema: dataLevels says how many levels of keys below each are data.
func notSnakeCase(doc any) []string {
	dataLevels := map[string]int{"images": 1, "roles": 2, "spread": 2, "over_time": 2, "sizes": 2, "fits": 1}
	var out []string
	var walk func(path, parent string, skip int, v any)
	walk = func(path, parent string, skip int, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				next := skip - 1
				if skip <= 0 {
					if strings.ToLower(k) != k || strings.ContainsAny(k, "- ") {
						out = append(out, path+"."+k)
					}
					next = dataLevels[k]
					if parent == "convergence" && k == "roles" {
						next = 1 // role -> method
					}
				}
				walk(path+"."+k, k, next, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", parent, skip, x)
			}
		}
	}
	walk("", "", 0, doc)
	return out
}
