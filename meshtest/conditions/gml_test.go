package conditions

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/shape"
)

func readGML(t *testing.T, path string) Regions {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := ReadGML(f)
	require.NoError(t, err)
	return r
}

func TestReadGMLWorld(t *testing.T) {
	r := readGML(t, "testdata/world-8.gml")
	names := []string{"australia", "europe", "east_asia", "west_asia", "na_east", "na_west", "south_africa", "south_america"}
	require.Equal(t, names, r.Names)
	lat := func(from, to string) time.Duration {
		for i, n := range names {
			if n == from {
				for j, m := range names {
					if m == to {
						return r.Links[i][j].Latency
					}
				}
			}
		}
		t.Fatalf("no regions %s, %s", from, to)
		return 0
	}
	for _, tt := range []struct {
		from, to string
		want     time.Duration
	}{
		{"australia", "australia", ms(2)},
		{"east_asia", "east_asia", ms(4)},
		{"south_america", "south_america", ms(7)},
		{"australia", "south_africa", ms(220)},
		{"europe", "west_asia", ms(60)},
		{"na_west", "na_east", ms(60)},
		// Directed: the two ways differ.
		{"south_africa", "south_america", ms(190)},
		{"south_america", "south_africa", ms(195)},
	} {
		assert.Equal(t, tt.want, lat(tt.from, tt.to), "%s→%s", tt.from, tt.to)
	}
	lo, hi := time.Hour, time.Duration(0)
	for i, row := range r.Links {
		require.Len(t, row, 8)
		for j, l := range row {
			lo, hi = min(lo, l.Latency), max(hi, l.Latency)
			assert.Zero(t, l.Loss)
			assert.Zero(t, l.Jitter)
			// Shortest paths: no way through a third region is shorter.
			for k := range r.Links {
				if k != i && k != j && i != j {
					assert.LessOrEqual(t, l.Latency, r.Links[i][k].Latency+r.Links[k][j].Latency)
				}
			}
		}
	}
	assert.Equal(t, ms(2), lo)
	assert.Equal(t, ms(220), hi)
	for i := range names {
		assert.Equal(t, shape.Link{Rate: 50e6}, r.Up[i])
		assert.Equal(t, shape.Link{Rate: 50e6}, r.Down[i])
	}
	require.NoError(t, Conditions{Regions: r}.Validate())
}

// The shortest way wins over a longer direct edge, as in Shadow; latency
// and jitter add along it, losses compose.
func TestReadGMLShortestPath(t *testing.T) {
	r := readGML(t, "testdata/triangle.gml")
	assert.Equal(t, []string{"eu", "us", "asia"}, r.Names)
	euUS := shape.Link{Latency: ms(40), Jitter: ms(2), Loss: 0.01}
	usAsia := shape.Link{Latency: ms(60), Loss: 0.02}
	euAsia := shape.Link{Latency: ms(100), Jitter: ms(2), Loss: 1 - 0.99*0.98}
	want := [][]shape.Link{
		{{Latency: ms(1)}, euUS, euAsia},
		{euUS, {}, usAsia},
		{euAsia, usAsia, {}},
	}
	for i := range want {
		for j := range want[i] {
			got := r.Links[i][j]
			assert.InDelta(t, want[i][j].Loss, got.Loss, 1e-15, "%d→%d", i, j)
			got.Loss, want[i][j].Loss = 0, 0
			assert.Equal(t, want[i][j], got, "%d→%d", i, j)
		}
	}
	assert.Equal(t, []shape.Link{{Rate: 100e6}, {}, {}}, r.Up)
	assert.Equal(t, []shape.Link{{Rate: 1e9}, {}, {}}, r.Down)
}

func TestReadGMLForms(t *testing.T) {
	tests := []struct {
		name string
		gml  string
		want Regions
	}{
		{"ids name regions without labels; edges before nodes; a comment", `
			# two regions
			graph [
			  edge [ source 7 target 3 latency "1.5 ms" ]
			  node [ id 7 ]
			  node [ id 3 ]
			]`, Regions{Names: []string{"7", "3"}, Links: [][]shape.Link{{{}, {Latency: 1500 * time.Microsecond}}, {{Latency: 1500 * time.Microsecond}, {}}}}},
		{"entities, units, a directed path through a third region", `Creator "networkx" graph [ directed 1
			  node [ id 0 label "s&#227;o_paulo" host_bandwidth_up "64 Kibit" ]
			  node [ id 1 label "b" host_bandwidth_up "2000" ]
			  node [ id 2 label "c" bandwidth_up "1 Gbit" ]
			  edge [ source 0 target 1 latency "500 us" packet_loss 1e-2 ]
			  edge [ source 1 target 2 latency "0.5ms" ]
			  edge [ source 2 target 0 latency "2 ms" jitter "100 μs" ]
			]`, Regions{
			Names: []string{"são_paulo", "b", "c"},
			Links: [][]shape.Link{
				{{}, {Latency: ms(0.5), Loss: 0.01}, {Latency: ms(1), Loss: 0.01}},
				{{Latency: ms(2.5), Jitter: ms(0.1)}, {}, {Latency: ms(0.5)}},
				{{Latency: ms(2), Jitter: ms(0.1)}, {Latency: ms(2.5), Jitter: ms(0.1), Loss: 0.01}, {}},
			},
			Up: []shape.Link{{Rate: 65536}, {Rate: 2000}, {Rate: 1e9}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadGML(strings.NewReader(tt.gml))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadGMLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string // a file under testdata/bad, or the GML itself
		want string
	}{
		{"disconnected.gml", "", "read gml: no path from eu to asia; Shadow needs every region to reach every other, so add an edge"},
		{"no-unit.gml", "", `read gml: line 4: edge: latency: "50" has no unit (Shadow would read seconds); write it with one, as in "50 ms" or "50 s"`},
		{"duplicate-edge.gml", "", "read gml: line 6: a second edge us–eu (the first is on line 5); keep one"},
		{"unclosed.gml", "", "read gml: line 4: the file ends inside a list; close it with ]"},
		{"bandwidth.gml", "", `read gml: line 2: node: host_bandwidth_up: "100 MB": unknown unit "MB"; bandwidth is in bits per second`},
		{"no graph", `Creator "me"`, "read gml: no graph [ … ] in the file"},
		{"two graphs", "graph [ ]\ngraph [ ]", "read gml: line 2: a second graph (the first is on line 1)"},
		{"graph not a list", `graph 1`, "read gml: line 1: graph is a number; want graph [ … ]"},
		{"no nodes", `graph [ directed 0 ]`, "read gml: the graph has no nodes"},
		{"directed 2", `graph [ directed 2 node [ id 0 ] ]`, "read gml: line 1: directed 2: want 0 or 1"},
		{"node without id", "graph [\n node [ label \"eu\" ] ]", "read gml: line 2: node without an id"},
		{"id not whole", `graph [ node [ id 1.5 ] ]`, "read gml: line 1: node: id: 1.5 is not a whole number"},
		{"same id", "graph [\n node [ id 0 ]\n node [ id 0 ] ]", "read gml: line 3: node id 0 is also the node on line 2"},
		{"same label", "graph [\n node [ id 0 label \"eu\" ]\n node [ id 1 label \"eu\" ] ]", `read gml: line 3: label "eu" is also the node's on line 2`},
		{"unknown node", `graph [ node [ id 0 ] edge [ source 0 target 9 latency "1 ms" ] ]`, "read gml: line 1: edge: target: no node has id 9"},
		{"no target", `graph [ node [ id 0 ] edge [ source 0 latency "1 ms" ] ]`, "read gml: line 1: edge without a source and a target"},
		{"no latency", `graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 ] ]`, "read gml: line 1: edge without a latency"},
		{"latency a number", `graph [ node [ id 0 ] edge [ source 0 target 0 latency 50 ] ]`, `read gml: line 1: edge: latency: a number; want a "string" such as "50 ms"`},
		{"latency unit", `graph [ node [ id 0 ] edge [ source 0 target 0 latency "50 lightyears" ] ]`, `unknown unit "lightyears"; use ns, us, ms or s`},
		{"negative latency", `graph [ node [ id 0 ] edge [ source 0 target 0 latency "-5 ms" ] ]`, `"-5 ms": want a number and a unit`},
		{"loss out of range", `graph [ node [ id 0 ] edge [ source 0 target 0 latency "1 ms" packet_loss 2 ] ]`, "edge: packet_loss: 2 is not a fraction in 0..1"},
		{"loss a string", `graph [ node [ id 0 ] edge [ source 0 target 0 latency "1 ms" packet_loss "1%" ] ]`, "edge: packet_loss: a string; want a fraction in 0..1"},
		{"bad token", `graph [ node [ id zero ] ]`, `read gml: line 1: id: "zero" is not a number, a "string" or a [ list ]`},
		{"unterminated string", "graph [ node [ id 0 label \"eu ] ]", "read gml: line 1: label: the string never ends"},
		{"stray bracket", `graph [ ] ]`, "read gml: line 1: ] closes no list"},
		{"key expected", `graph [ "x" ]`, `read gml: line 1: "\"x\"" where a key was expected`},
		{"nested too deep", "graph " + strings.Repeat("[ a ", 40), "read gml: line 1: lists nested deeper than 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.in == "" && strings.HasSuffix(tt.name, ".gml") {
				f, ferr := os.Open("testdata/bad/" + tt.name)
				require.NoError(t, ferr)
				defer f.Close()
				_, err = ReadGML(f)
			} else {
				_, err = ReadGML(strings.NewReader(tt.in))
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
