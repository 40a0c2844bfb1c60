package conditions

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/shape"
)

func addrs(nodes []Node) []netip.Addr {
	out := make([]netip.Addr, len(nodes))
	for i, n := range nodes {
		out[i] = n.Addr
	}
	return out
}

// A star whose bootstrap has a 50 ms uplink and downlink: every peer delays
// what comes from the bootstrap's address, the bootstrap what comes from
// every peer, and peers leave each other alone.
func TestCompileStar(t *testing.T) {
	nodes := mesh(10)
	c := Conditions{Nodes: []NodeRule{{Select: "bootstrap", Up: link("latency=50ms"), Down: link("latency=50ms")}}}
	rules, err := c.Compile(nodes, nil)
	require.NoError(t, err)
	require.Len(t, rules, 10)
	assert.Equal(t, shape.Rules{From: []shape.PathRule{{Src: addrs(nodes[1:]), Latency: ms(50)}}}, rules["bootstrap"])
	for _, p := range nodes[1:] {
		assert.Equal(t, shape.Rules{From: []shape.PathRule{{Src: []netip.Addr{nodes[0].Addr}, Latency: ms(50)}}}, rules[p.Name], p.Name)
	}
}

// Eight regions of 100 nodes: every receiver has at most one delay class per
// region, whatever the number of nodes (fewer where two regions are as far
// from it: australia is 110 ms from both east_asia and na_west).
func TestCompileRegions(t *testing.T) {
	c, err := Load("testdata/world-8.gml")
	require.NoError(t, err)
	nodes := mesh(800)
	rules, err := c.Compile(nodes, nil)
	require.NoError(t, err)
	require.Len(t, rules, len(nodes))
	for _, n := range nodes {
		r := rules[n.Name]
		to := c.Regions.region(n)
		distinct := map[time.Duration]bool{}
		for from := range c.Regions.Names {
			distinct[c.Regions.Links[from][to].Latency] = true
		}
		require.Len(t, r.From, len(distinct), n.Name)
		require.LessOrEqual(t, len(r.From), 8)
		srcs := 0
		for _, pr := range r.From {
			srcs += len(pr.Src)
			assert.True(t, slices.IsSortedFunc(pr.Src, netip.Addr.Compare), "%s: sources sorted", n.Name)
		}
		assert.Equal(t, len(nodes)-1, srcs, n.Name)
		assert.True(t, slices.IsSortedFunc(r.From, func(a, b shape.PathRule) int { return int(a.Latency - b.Latency) }))
		assert.Equal(t, int64(50e6), r.EgressRate)
		assert.Equal(t, int64(50e6), r.IngressRate)
		assert.Empty(t, r.To)
		require.NoError(t, r.Validate())
	}
	// peer-001 is in europe (index 1): from australia (nodes 0, 8, 16, …)
	// it waits the australia→europe edge.
	r := rules["peer-001"]
	i := slices.IndexFunc(r.From, func(pr shape.PathRule) bool { return slices.Contains(pr.Src, nodes[8].Addr) })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, ms(165), r.From[i].Latency)
	assert.Len(t, r.From[i].Src, 100)
}

func TestCompileCut(t *testing.T) {
	nodes := mesh(4)
	c := Conditions{Link: link("latency=10ms")}
	// peer-001 is cut off from everyone, both ways.
	cut := func(from, to string) bool { return from == "peer-001" || to == "peer-001" }
	rules, err := c.Compile(nodes, cut)
	require.NoError(t, err)
	assert.Equal(t, []shape.PathRule{
		{Src: []netip.Addr{nodes[1].Addr}, Loss: 1},
		{Src: []netip.Addr{nodes[2].Addr, nodes[3].Addr}, Latency: ms(10)},
	}, rules["bootstrap"].From)
	assert.Equal(t, []shape.PathRule{{Src: addrs([]Node{nodes[0], nodes[2], nodes[3]}), Loss: 1}}, rules["peer-001"].From)

	// A cut is a rule even where the path has nothing else to apply.
	rules, err = Conditions{}.Compile(nodes, func(from, to string) bool { return from == "bootstrap" && to == "peer-002" })
	require.NoError(t, err)
	assert.Equal(t, shape.Rules{From: []shape.PathRule{{Src: []netip.Addr{nodes[0].Addr}, Loss: 1}}}, rules["peer-002"])
	for _, n := range []string{"bootstrap", "peer-001", "peer-003"} {
		assert.True(t, rules[n].IsZero(), n)
	}
}

// Each link with a rate is a class of its own at its sender, one destination
// each, since shape gives every RateRule one class its destinations share.
func TestCompileRates(t *testing.T) {
	nodes := mesh(4)
	c := Conditions{
		Link:  link("rate=10mbit"),
		Nodes: []NodeRule{{Select: "bootstrap", Up: link("rate=100mbit"), Down: link("rate=50mbit")}},
		Links: []LinkRule{{From: "peer-003", To: "bootstrap", Link: link("rate=1mbit")}, {From: "peer-003", To: "peer-001", Link: shape.Link{}}},
	}
	rules, err := c.Compile(nodes, nil)
	require.NoError(t, err)
	assert.Equal(t, shape.Rules{EgressRate: 100e6, IngressRate: 50e6, To: []shape.RateRule{
		{Dst: []netip.Addr{nodes[1].Addr}, Rate: 10e6},
		{Dst: []netip.Addr{nodes[2].Addr}, Rate: 10e6},
		{Dst: []netip.Addr{nodes[3].Addr}, Rate: 10e6},
	}}, rules["bootstrap"])
	assert.Equal(t, shape.Rules{To: []shape.RateRule{
		{Dst: []netip.Addr{nodes[0].Addr}, Rate: 1e6},
		{Dst: []netip.Addr{nodes[2].Addr}, Rate: 10e6},
	}}, rules["peer-003"])
}

// Compile agrees with Path on every pair, whatever the mix of rules.
func TestCompileMatchesPath(t *testing.T) {
	nodes := mesh(30)
	for i := range nodes {
		nodes[i].Group = []string{"go", "rust", "js"}[i%3]
	}
	c := Conditions{
		Nodes: []NodeRule{
			{Select: "rust", Up: link("latency=5ms,loss=1%"), Down: link("rate=20mbit")},
			{Select: "bootstrap", Up: link("latency=20ms,jitter=2ms,rate=100mbit"), Down: link("latency=1ms")},
		},
		Links: []LinkRule{
			{From: "js", To: "go", Link: link("latency=30ms,rate=5mbit"), Both: true},
			{From: "peer-01*", To: "bootstrap", Link: link("loss=2%")},
		},
		Regions: Regions{
			Names:  []string{"eu", "us", "asia"},
			Links:  [][]shape.Link{{link("latency=2ms"), link("latency=40ms"), link("latency=120ms,rate=10mbit")}, {link("latency=40ms"), {}, link("latency=90ms")}, {link("latency=120ms"), link("latency=90ms"), link("latency=3ms")}},
			Up:     []shape.Link{link("rate=50mbit"), {}, link("rate=30mbit")},
			Assign: []Assign{{Select: "peer-00[5-9]", Region: "asia"}},
		},
	}
	cut := func(from, to string) bool { return from == "peer-029" && to == "peer-028" }
	rules, err := c.Compile(nodes, cut)
	require.NoError(t, err)
	byAddr := map[netip.Addr]Node{}
	for _, n := range nodes {
		byAddr[n.Addr] = n
	}
	for _, b := range nodes {
		r := rules[b.Name]
		require.NoError(t, r.Validate(), b.Name)
		seen := map[string]bool{}
		for _, pr := range r.From {
			for _, a := range pr.Src {
				from := byAddr[a]
				assert.False(t, seen[from.Name], "%s listed twice at %s", from.Name, b.Name)
				seen[from.Name] = true
				if cut(from.Name, b.Name) {
					assert.Equal(t, 1.0, pr.Loss)
					continue
				}
				p := c.Path(from, b)
				assert.Equal(t, p.Latency, pr.Latency, "%s→%s", from.Name, b.Name)
				assert.Equal(t, p.Jitter, pr.Jitter, "%s→%s", from.Name, b.Name)
				assert.Equal(t, p.Loss, pr.Loss, "%s→%s", from.Name, b.Name)
			}
		}
		for _, a := range nodes {
			if a.Name == b.Name || seen[a.Name] {
				continue
			}
			p := c.Path(a, b)
			assert.True(t, p.Latency == 0 && p.Jitter == 0 && p.Loss == 0, "%s→%s has %v but no rule", a.Name, b.Name, p)
		}
		// The sender's side: its uplink, its downlink, a class per rated link.
		assert.Equal(t, c.Path(b, nodes[(b.Index+1)%len(nodes)]).EgressRate, r.EgressRate, b.Name)
		assert.Equal(t, c.Path(nodes[(b.Index+1)%len(nodes)], b).IngressRate, r.IngressRate, b.Name)
		rated := 0
		for _, d := range nodes {
			if d.Name != b.Name && c.Path(b, d).LinkRate > 0 {
				rated++
				i := slices.IndexFunc(r.To, func(rr shape.RateRule) bool { return rr.Dst[0] == d.Addr })
				require.GreaterOrEqual(t, i, 0, "%s→%s", b.Name, d.Name)
				assert.Equal(t, c.Path(b, d).LinkRate, r.To[i].Rate)
			}
		}
		assert.Len(t, r.To, rated, b.Name)
	}
}

func TestCompileDeterministic(t *testing.T) {
	c, err := Load("testdata/regions.json")
	require.NoError(t, err)
	c.Links = []LinkRule{{From: "peer-00*", To: "peer-01*", Link: link("latency=7ms,rate=2mbit"), Both: true}}
	nodes := mesh(40)
	want, err := c.Compile(nodes, nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := c.Compile(shuffled, nil)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestCompileErrors(t *testing.T) {
	nodes := mesh(3)
	tests := []struct {
		name  string
		c     Conditions
		nodes []Node
		want  []string
	}{
		{"unknown selector", Conditions{Nodes: []NodeRule{{Select: "bootstrp", Up: link("latency=1ms")}}}, nodes,
			[]string{`compile conditions: nodes[0].select: "bootstrp" picks no node`}},
		{"a path too long", Conditions{Nodes: []NodeRule{{Select: "*", Up: link("latency=6s"), Down: link("latency=6s")}}}, nodes,
			[]string{"compile conditions: path peer-001→bootstrap: latency 12s (uplink, link and downlink) exceeds 10s, the longest the delay line holds a packet (and 5 more paths)"}},
		{"IPv6", Conditions{Link: link("latency=1ms")}, []Node{
			{Index: 0, Name: "bootstrap", Addr: netip.MustParseAddr("fd00::2")},
			{Index: 1, Name: "peer-001", Addr: netip.MustParseAddr("10.0.0.3")},
		}, []string{`compile conditions: node 0 ("bootstrap"): fd00::2 is IPv6; only IPv4 paths are shaped`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Compile(tt.nodes, nil)
			require.Error(t, err)
			assertLines(t, err, tt.want)
		})
	}
}

// More delay classes than shape has delay lines is refused, naming the
// first few nodes only.
func TestCompileTooManyClasses(t *testing.T) {
	nodes := mesh(100)
	var c Conditions
	for i := range nodes {
		c.Nodes = append(c.Nodes, NodeRule{Select: nodes[i].Name, Up: shape.Link{Latency: time.Duration(i+1) * time.Millisecond}})
	}
	_, err := c.Compile(nodes, nil)
	require.Error(t, err)
	lines := flatten(err)
	require.Len(t, lines, maxReported+1)
	assert.Equal(t, "compile conditions: node bootstrap: 99 delay classes (distinct latency and jitter) among its paths in exceed shape's 64, one delay line each; round latencies (to 1ms, say) so that paths share classes", lines[0].Error())
	// The bound is shape's: 65 classes are refused (at peer-065 and up,
	// which hear from nodes 0 to 64), 64 pass shape's own Validate.
	c.Nodes = c.Nodes[:65]
	_, err = c.Compile(nodes, nil)
	require.Error(t, err)
	assert.Contains(t, flatten(err)[0].Error(), "node peer-065: 65 delay classes")
	c.Nodes = c.Nodes[:64]
	rules, err := c.Compile(nodes, nil)
	require.NoError(t, err)
	assert.Len(t, rules["peer-099"].From, 64)
	for name, r := range rules {
		require.NoError(t, r.Validate(), name)
	}
	assert.Equal(t, "compile conditions: and 97 more nodes", lines[maxReported].Error())
}

// Compile is n² look-ups: a thousand nodes in eight regions with a few link
// rules.
func BenchmarkCompile(b *testing.B) {
	c, err := Load("testdata/world-8.gml")
	require.NoError(b, err)
	c.Nodes = []NodeRule{{Select: "bootstrap", Up: link("rate=1gbit"), Down: link("rate=1gbit")}}
	c.Links = []LinkRule{{From: "peer-00*", To: "bootstrap", Link: link("loss=1%"), Both: true}}
	for _, n := range []int{100, 1000} {
		nodes := mesh(n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Compile(nodes, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
