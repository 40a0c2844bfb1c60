package summary

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

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
