package conditions

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// mesh returns n nodes as the fixture names them: the bootstrap, then
// peer-001…, at 10.0.0.2 upwards.
func mesh(n int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{Index: i, Name: fmt.Sprintf("peer-%03d", i), Role: "peer", Group: "bundled", Addr: addr(i)}
	}
	if n > 0 {
		nodes[0].Name, nodes[0].Role = "bootstrap", "bootstrap"
	}
	return nodes
}

func addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte((i + 2) >> 8), byte(i + 2)})
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func link(s string) shape.Link {
	l, err := shape.ParseLink(s)
	if err != nil {
		panic(err)
	}
	return l
}

func TestSelects(t *testing.T) {
	n := Node{Index: 3, Name: "peer-003", Role: "peer", Group: "rust"}
	tests := []struct {
		sel  string
		want bool
	}{
		{"peer-003", true},
		{"peer", true},
		{"rust", true},
		{"*", true},
		{"peer-00*", true},
		{"peer-00[0-3]", true},
		{"peer-00[4-9]", false},
		{"peer-*3", true},
		{"bootstrap", false},
		{"", false},
		{"peer-0", false}, // a prefix is not a match: patterns say so with *
		{"[", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, selects(tt.sel, n), "selector %q", tt.sel)
	}
	// An empty group is not selected by the empty selector.
	assert.False(t, selects("", Node{Name: "x"}))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Conditions
		want []string // each a line of the error
	}{
		{"zero", Conditions{}, nil},
		{"flags", Conditions{Link: link("latency=50ms,jitter=5ms,loss=1%,rate=10mbit")}, nil},
		{"default", Conditions{Link: shape.Link{Latency: 11 * time.Second}}, []string{"link.latency: 11s exceeds 10s"}},
		{"node fields", Conditions{Nodes: []NodeRule{
			{Select: "bootstrap"},
			{Select: "", Up: shape.Link{Latency: 11 * time.Second}, Down: shape.Link{Loss: 2}},
			{Select: "peer-[", Up: shape.Link{Rate: 10}},
		}}, []string{
			"nodes[1].select: empty; name a node, a role or a group",
			"nodes[1].up.latency: 11s exceeds 10s",
			"nodes[1].down.loss: 2 is not a probability",
			`nodes[2].select: "peer-[" is not a valid pattern`,
			"nodes[2].up.rate: 10 bit/s is below the minimum 8kbit",
		}},
		{"link fields", Conditions{Links: []LinkRule{
			{From: "", To: "bootstrap", Link: shape.Link{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}},
		}}, []string{
			"links[0].from: empty",
			"links[0].link.jitter: 2ms exceeds latency 1ms",
		}},
		{"regions", Conditions{Regions: Regions{
			Names:  []string{"eu", "eu", ""},
			Links:  [][]shape.Link{{{}, {}, {}}, {{}}, {{}, {}, {Loss: -1}}},
			Up:     []shape.Link{{}},
			Assign: []Assign{{Select: "bootstrap", Region: "asia"}, {Select: "", Region: "eu"}},
		}}, []string{
			`regions.names[1]: "eu" is also names[0]`,
			"regions.names[2]: empty",
			"regions.links[eu]: 1 links for 3 regions",
			"regions.links[2][2].loss: -1 is not a probability",
			"regions.up: 1 links for 3 regions",
			`regions.assign[0].region: "asia" is not a region; use one of eu, eu, `,
			"regions.assign[1].select: empty",
		}},
		{"regions without names", Conditions{Regions: Regions{Assign: []Assign{{Select: "*", Region: "eu"}}}},
			[]string{"regions.names: empty, but links, up, down or assign are given"}},
		{"regions and a default", Conditions{Link: link("latency=10ms"), Regions: Regions{Names: []string{"eu"}, Links: [][]shape.Link{{{}}}}},
			[]string{"link: latency=10ms has no effect with regions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assertLines(t, err, tt.want)
		})
	}
}

// assertLines checks that err has one line per want, each containing it,
// in order: every problem reported, none twice.
func assertLines(t *testing.T, err error, want []string) {
	t.Helper()
	lines := flatten(err)
	require.Len(t, lines, len(want), "error:\n%v", err)
	for i, w := range want {
		assert.Contains(t, lines[i].Error(), w)
	}
}

func TestValidateFor(t *testing.T) {
	nodes := mesh(5)
	tests := []struct {
		name  string
		c     Conditions
		nodes []Node
		want  []string
	}{
		{"known selectors", Conditions{
			Nodes: []NodeRule{{Select: "bootstrap"}, {Select: "peer"}, {Select: "bundled"}, {Select: "peer-00*"}, {Select: "*"}},
			Links: []LinkRule{{From: "peer", To: "peer"}, {From: "bootstrap", To: "peer-001"}},
		}, nodes, nil},
		{"unknown selectors", Conditions{
			Nodes:   []NodeRule{{Select: "bootstrp"}},
			Links:   []LinkRule{{From: "peer-1", To: "relay"}},
			Regions: Regions{Names: []string{"eu"}, Links: [][]shape.Link{{{}}}, Assign: []Assign{{Select: "seed", Region: "eu"}}},
		}, nodes, []string{
			`nodes[0].select: "bootstrp" picks no node; the nodes are bootstrap, peer-001, …, peer-004 (5 in all); roles bootstrap, peer; groups bundled`,
			`links[0].from: "peer-1" picks no node`,
			`links[0].to: "relay" picks no node`,
			`regions.assign[0].select: "seed" picks no node`,
		}},
		{"link to itself", Conditions{Links: []LinkRule{{From: "bootstrap", To: "bootstrap"}}}, nodes,
			[]string{`links[0]: from "bootstrap" and to "bootstrap" pick only bootstrap, and a node's link to itself carries nothing`}},
		{"link to itself by two names", Conditions{Links: []LinkRule{{From: "bootstrap", To: "bootstrap*"}}}, nodes,
			[]string{`links[0]: from "bootstrap" and to "bootstrap*" pick only bootstrap`}},
		{"invalid conditions too", Conditions{Nodes: []NodeRule{{Select: ""}}}, nodes, []string{"nodes[0].select: empty"}},
		{"nodes", Conditions{}, []Node{
			{Index: 0, Name: "a", Addr: addr(0)},
			{Index: 0, Name: "a", Addr: addr(0)},
			{Index: -1, Name: "", Addr: netip.Addr{}},
		}, []string{
			`node 0 ("a"): name also used by node 0`,
			`node 0 ("a"): index also used by "a"`,
			`node 0 ("a"): address 10.0.0.2 also used by "a"`,
			"node -1: no name",
			`node -1 (""): index -1 is negative`,
			`node -1 (""): no address`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.ValidateFor(tt.nodes)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assertLines(t, err, tt.want)
		})
	}
}

func TestIsZero(t *testing.T) {
	assert.True(t, Conditions{}.IsZero())
	// Rules and regions that add nothing change nothing.
	assert.True(t, Conditions{
		Nodes:   []NodeRule{{Select: "*"}},
		Links:   []LinkRule{{From: "a", To: "b"}},
		Regions: Regions{Names: []string{"eu", "us"}, Links: [][]shape.Link{{{}, {}}, {{}, {}}}},
	}.IsZero())
	assert.False(t, Conditions{Link: link("rate=1mbit")}.IsZero())
	assert.False(t, Conditions{Nodes: []NodeRule{{Select: "*", Down: link("loss=1%")}}}.IsZero())
	assert.False(t, Conditions{Links: []LinkRule{{From: "a", To: "b", Link: link("latency=1ms")}}}.IsZero())
	assert.False(t, Conditions{Regions: Regions{Names: []string{"eu"}, Links: [][]shape.Link{{link("latency=2ms")}}}}.IsZero())
	assert.False(t, Conditions{Regions: Regions{Names: []string{"eu"}, Links: [][]shape.Link{{{}}}, Up: []shape.Link{link("rate=1mbit")}}}.IsZero())
}
