package series

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faulted is star with the faults of a chaos run marked among its samples:
// conditions set before the window, peer-2 killed in round 1, a mesh-wide
// partition and heal in round 2, and peer-7, a node never measured, started
// in a round after the last one measured. The events are in no particular
// order, as a fault injector running beside the sampler appends them.
func faulted() *Table {
	r := star()
	r.Samples = append(r.Samples,
		Sample{Round: 2, Elapsed: 2700 * time.Millisecond, Event: "heal"},
		Sample{Round: 1, Elapsed: 1500 * time.Millisecond, Node: "peer-2", Role: "peer", Event: "kill"},
		Sample{Round: 3, Elapsed: 3200 * time.Millisecond, Node: "peer-7", Role: "peer", Event: "start"},
		Sample{Round: 2, Elapsed: 2100 * time.Millisecond, Event: "partition"},
		Sample{Round: 0, Elapsed: -500 * time.Millisecond, Event: "conditions"},
	)
	return r
}

// TestEventsAreNotSamples: every name, statistic, series and check of a
// table with events is the one of the same table without them. An event
// row has no values; were it counted, peer-2 would have missed a sample in
// round 1, the peers a fourth round, the mesh a role named "" and peer-7
// would be a node that never reported.
func TestEventsAreNotSamples(t *testing.T) {
	plain, ev := star(), faulted()

	assert.Equal(t, plain.Roles(), ev.Roles())
	assert.Equal(t, plain.Figures(), ev.Figures())
	for _, role := range []string{"bootstrap", "peer", ""} {
		assert.Equal(t, plain.Nodes(role), ev.Nodes(role), "nodes of %q", role)
		p, e := plain.Role(role), ev.Role(role)
		assert.Equal(t, p.Nodes(), e.Nodes(), "role %q", role)
		assert.Equal(t, p.Rounds(), e.Rounds(), "rounds of %q", role)
		for _, f := range []string{"connections", "mem_bytes", "cpu_cores"} {
			assert.Equal(t, p.Stats(f), e.Stats(f), "%s of %q", f, role)
			assert.Equal(t, p.NodeMeans(f), e.NodeMeans(f), "%s of %q", f, role)
			assert.Equal(t, p.Spread(f), e.Spread(f), "%s of %q", f, role)
			assert.Equal(t, math.IsNaN(p.Last(f)), math.IsNaN(e.Last(f)), "last %s of %q", f, role)
			if !math.IsNaN(p.Last(f)) {
				assert.Equal(t, p.Last(f), e.Last(f), "last %s of %q", f, role)
			}
			assert.Equal(t, plain.RoleOverTime(role, f), ev.RoleOverTime(role, f), "%s of %q over time", f, role)
		}
	}
	// Every node, named or not, wants one connection: the event rows,
	// which have none, must not show up as violations.
	one := func(string, string) float64 { return 1 }
	assert.Equal(t, violationStrings(plain.Check("connections", one)), violationStrings(ev.Check("connections", one)))
}

func TestEvents(t *testing.T) {
	var kinds []string
	for _, e := range faulted().Events() {
		kinds = append(kinds, e.Event)
	}
	assert.Equal(t, []string{"conditions", "kill", "partition", "heal", "start"}, kinds, "in the order they happened")
	assert.Empty(t, star().Events())
	assert.True(t, Sample{Event: "kill"}.IsEvent())
	assert.False(t, Sample{Node: "peer-1"}.IsEvent())
}

// faultedCSV is faulted as samples.csv: the event column last, empty for
// measurements; a round's events after its measurements, in time order.
const faultedCSV = `round,elapsed_s,node,role,connections,cpu_cores,mem_bytes,event
0,0,bootstrap,bootstrap,3,0.125,100,
0,0,peer-1,peer,1,,10,
0,0,peer-2,peer,1,,20,
0,0,peer-10,peer,1,,30,
0,-0.5,,,,,,conditions
1,1.0015,bootstrap,bootstrap,3,0.25,110,
1,1.0015,peer-1,peer,1,,12,
1,1.0015,peer-2,peer,0,,22,
1,1.0015,peer-10,peer,1,,,
1,1.5,peer-2,peer,,,,kill
2,2,bootstrap,bootstrap,2,0.5,120,
2,2,peer-1,peer,1,,14,
2,2,peer-2,peer,1,,24,
2,2,peer-10,peer,1,,36,
2,2.1,,,,,,partition
2,2.7,,,,,,heal
3,3.2,peer-7,peer,,,,start
`

func TestWriteCSVEvents(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, faulted().WriteCSV(&buf))
	assert.Equal(t, faultedCSV, buf.String())
}

func TestCSVEventsRoundTrip(t *testing.T) {
	got, err := ReadCSV(strings.NewReader(faultedCSV))
	require.NoError(t, err)
	assert.Equal(t, faulted().sortedSamples(), got.Samples)
	for _, s := range got.Samples {
		if s.IsEvent() {
			assert.Nil(t, s.Values, "event %s has no values", s.Event)
		} else {
			assert.NotNil(t, s.Values, "measurement of %s in round %d", s.Node, s.Round)
		}
	}
	var again bytes.Buffer
	require.NoError(t, got.WriteCSV(&again))
	assert.Equal(t, faultedCSV, again.String())

	// A file of the days before events reads as it did: no sample is an
	// event.
	old, err := ReadCSV(strings.NewReader(starCSV))
	require.NoError(t, err)
	assert.Empty(t, old.Events())
	assert.Equal(t, star().Samples, old.Samples)
}

func TestCSVEventErrors(t *testing.T) {
	write := []struct {
		name string
		rec  *Table
		want string
	}{
		{"event with values", &Table{Samples: []Sample{
			{Round: 1, Node: "peer-2", Role: "peer", Event: "kill", Values: map[string]float64{"connections": 0}},
		}}, `(round 1, peer-2): event "kill" has values`},
		{"figure named event", &Table{Samples: []Sample{
			{Node: "a", Role: "peer", Values: map[string]float64{"event": 1}},
		}}, `a figure is named "event"`},
	}
	for _, tt := range write {
		t.Run("write/"+tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			assert.ErrorContains(t, tt.rec.WriteCSV(&buf), tt.want)
		})
	}

	read := []struct{ name, in, want string }{
		{"event row with a value", "round,elapsed_s,node,role,x,event\n0,0,a,peer,1,\n0,0.5,a,peer,2,kill\n",
			`line 3: x: event "kill" has a value`},
		{"event column not last", "round,elapsed_s,node,role,event,x\n", `column "event" is not the last`},
		{"missing event cell", "round,elapsed_s,node,role,x,event\n0,0,a,peer,1\n", "wrong number of fields"},
	}
	for _, tt := range read {
		t.Run("read/"+tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in))
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
