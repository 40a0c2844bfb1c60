package topology

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// generator is one generator with the parameters under test and the
// properties its output must have at every size and seed.
type generator struct {
	name   string
	build  func(n int, seed uint64) (Graph, error)
	sizes  []int
	edges  func(n int) int    // the exact edge count; nil where it is random
	degree func(n, i int) int // the exact degree of node i; nil where random
	minDeg func(n int) int    // a lower bound on every degree; nil for 1
	random bool               // depends on the seed
}

func generators() []generator {
	tree := func(k int) generator {
		return generator{
			name:  fmt.Sprintf("tree k=%d", k),
			build: func(n int, _ uint64) (Graph, error) { return Tree(n, k) },
			sizes: []int{2, 3, 11, 30, 101},
			edges: func(n int) int { return n - 1 },
			degree: func(n, i int) int { // a parent unless the root, plus children k·i+1..k·i+k below n
				children := max(0, min(n-1, k*i+k)-(k*i+1)+1)
				return children + min(i, 1)
			},
		}
	}
	regular := func(d int, sizes ...int) generator {
		return generator{
			name:   fmt.Sprintf("random-regular d=%d", d),
			build:  func(n int, seed uint64) (Graph, error) { return RandomRegular(n, d, seed) },
			sizes:  sizes,
			edges:  func(n int) int { return n * d / 2 },
			degree: func(int, int) int { return d },
			random: true,
		}
	}
	ba := func(m int) generator {
		return generator{
			name:   fmt.Sprintf("barabasi-albert m=%d", m),
			build:  func(n int, seed uint64) (Graph, error) { return BarabasiAlbert(n, m, seed) },
			sizes:  []int{m + 1, m + 2, 11, 30, 101},
			edges:  func(n int) int { return m*(m-1)/2 + m*(n-m) },
			minDeg: func(int) int { return m },
			random: true,
		}
	}
	ws := func(k int, beta float64) generator {
		g := generator{
			name:   fmt.Sprintf("watts-strogatz k=%d beta=%v", k, beta),
			build:  func(n int, seed uint64) (Graph, error) { return WattsStrogatz(n, k, beta, seed) },
			sizes:  []int{k + 1, k + 2, 11, 30, 101},
			edges:  func(n int) int { return n * k / 2 },
			random: beta > 0,
		}
		if beta == 0 { // the lattice itself
			g.degree = func(int, int) int { return k }
		}
		return g
	}
	return []generator{
		{
			name:  "star",
			build: func(n int, _ uint64) (Graph, error) { return Star(n - 1), nil },
			sizes: []int{2, 3, 11, 101},
			edges: func(n int) int { return n - 1 },
			degree: func(n, i int) int {
				if i == 0 {
					return n - 1
				}
				return 1
			},
		},
		{
			name:  "line",
			build: func(n int, _ uint64) (Graph, error) { return Line(n) },
			sizes: []int{2, 3, 11, 101},
			edges: func(n int) int { return n - 1 },
			degree: func(n, i int) int {
				if i == 0 || i == n-1 {
					return 1
				}
				return 2
			},
		},
		{
			name:   "ring",
			build:  func(n int, _ uint64) (Graph, error) { return Ring(n) },
			sizes:  []int{3, 4, 11, 101},
			edges:  func(n int) int { return n },
			degree: func(int, int) int { return 2 },
		},
		{
			name:   "full",
			build:  func(n int, _ uint64) (Graph, error) { return Full(n) },
			sizes:  []int{2, 3, 11, 40},
			edges:  func(n int) int { return n * (n - 1) / 2 },
			degree: func(n, _ int) int { return n - 1 },
		},
		tree(1), tree(2), tree(3),
		regular(2, 3, 4, 5, 11, 101),
		regular(3, 4, 6, 12, 30, 100),
		regular(4, 5, 6, 11, 30, 101),
		regular(7, 8, 10, 12, 30), // dense at n <= 14: drawn as a complement
		{
			name:   "erdos-renyi p=0.1",
			build:  func(n int, seed uint64) (Graph, error) { return ErdosRenyi(n, 0.1, seed) },
			sizes:  []int{2, 3, 11, 30, 101},
			random: true,
		},
		{
			name:   "erdos-renyi p=0", // no edges drawn: a random tree of joins
			build:  func(n int, seed uint64) (Graph, error) { return ErdosRenyi(n, 0, seed) },
			sizes:  []int{2, 11, 30},
			edges:  func(n int) int { return n - 1 },
			random: true,
		},
		{
			name:   "erdos-renyi p=1",
			build:  func(n int, seed uint64) (Graph, error) { return ErdosRenyi(n, 1, seed) },
			sizes:  []int{2, 11, 30},
			edges:  func(n int) int { return n * (n - 1) / 2 },
			degree: func(n, _ int) int { return n - 1 },
		},
		ba(1), ba(2), ba(3),
		ws(2, 0), ws(4, 0), ws(4, 0.2), ws(6, 0.5), ws(4, 1),
	}
}

// TestGenerators checks every generator's promises at several sizes and
// seeds: node and edge counts, degrees, one dial per edge with the higher
// node dialling, no loops or repeats, connectivity, and determinism.
func TestGenerators(t *testing.T) {
	for _, gen := range generators() {
		for _, n := range gen.sizes {
			for seed := range uint64(3) {
				t.Run(fmt.Sprintf("%s/n=%d/seed=%d", gen.name, n, seed), func(t *testing.T) {
					g, err := gen.build(n, seed)
					require.NoError(t, err)
					require.NoError(t, g.Validate())
					require.Equal(t, n, g.N, "nodes")
					if gen.edges != nil {
						require.Len(t, g.Edges, gen.edges(n), "edges")
					}
					assert.True(t, g.Connected(), "connected: %d components", g.Components())
					for _, e := range g.Edges {
						require.Greater(t, e.From, e.To, "the higher node dials")
					}
					deg := g.Degrees()
					for i, d := range deg {
						switch {
						case gen.degree != nil:
							require.Equal(t, gen.degree(n, i), d, "degree of node %d", i)
						case gen.minDeg != nil:
							require.GreaterOrEqual(t, d, gen.minDeg(n), "degree of node %d", i)
						}
					}
					again, err := gen.build(n, seed)
					require.NoError(t, err)
					require.Equal(t, g, again, "same seed, same graph")
				})
			}
		}
	}
}

// TestGeneratorsSeedMatters: at 30 nodes there are far too many graphs of each
// random model for three seeds to draw the same one.
func TestGeneratorsSeedMatters(t *testing.T) {
	for _, gen := range generators() {
		if !gen.random {
			continue
		}
		t.Run(gen.name, func(t *testing.T) {
			a, err := gen.build(30, 1)
			require.NoError(t, err)
			b, err := gen.build(30, 2)
			require.NoError(t, err)
			c, err := gen.build(30, 3)
			require.NoError(t, err)
			assert.False(t, equalEdges(a, b) && equalEdges(b, c), "seeds 1, 2 and 3 drew the same edges")
		})
	}
}

func equalEdges(a, b Graph) bool {
	if len(a.Edges) != len(b.Edges) {
		return false
	}
	for i := range a.Edges {
		if a.Edges[i] != b.Edges[i] {
			return false
		}
	}
	return true
}

// TestErdosRenyiMeanDegree: the mean degree of G(n, p) is p(n-1). At n = 200
// one draw's edge count has a relative standard deviation of at most 3 %
// (p = 0.05), so the mean over five seeds stays within 5 % with room to spare;
// at these densities the graph is connected as drawn and join adds nothing.
func TestErdosRenyiMeanDegree(t *testing.T) {
	const n, seeds = 200, 5
	for _, p := range []float64{0.05, 0.1, 0.3} {
		t.Run(fmt.Sprintf("p=%v", p), func(t *testing.T) {
			var sum float64
			for seed := range uint64(seeds) {
				g, err := ErdosRenyi(n, p, seed)
				require.NoError(t, err)
				assert.Equal(t, "erdos-renyi: connected as drawn", g.Note)
				sum += g.DegreeStats().Mean
			}
			want := p * (n - 1)
			assert.InEpsilon(t, want, sum/seeds, 0.05, "mean degree over %d seeds", seeds)
		})
	}
}

// TestErdosRenyiJoins: a sparse draw falls apart, and join adds exactly one
// edge per extra component, as Note says.
func TestErdosRenyiJoins(t *testing.T) {
	g, err := ErdosRenyi(100, 0.01, 1)
	require.NoError(t, err)
	require.True(t, g.Connected())
	var parts, added int
	_, err = fmt.Sscanf(g.Note, "erdos-renyi: drew %d components, added %d edges to connect them", &parts, &added)
	require.NoError(t, err, "note %q", g.Note)
	assert.Equal(t, parts-1, added)
	assert.Greater(t, parts, 1, "p=0.01 at 100 nodes, mean degree ~1, is not connected as drawn")
}

// TestBarabasiAlbertHubs: preferential attachment makes hubs, unlike the
// near-uniform degrees of the other random models; the expected largest
// degree grows like m·√n (≈ 35 here) against a mean of 2m.
func TestBarabasiAlbertHubs(t *testing.T) {
	g, err := BarabasiAlbert(300, 2, 1)
	require.NoError(t, err)
	s := g.DegreeStats()
	assert.GreaterOrEqual(t, float64(s.Max), 4*s.Mean, "%v", s)
}

// TestWattsStrogatzRewires: beta = 0 is the ring lattice and beta > 0 moves
// some edges, without changing the count.
func TestWattsStrogatzRewires(t *testing.T) {
	lattice, err := WattsStrogatz(30, 4, 0, 1)
	require.NoError(t, err)
	rewired, err := WattsStrogatz(30, 4, 0.2, 1)
	require.NoError(t, err)
	assert.Len(t, rewired.Edges, len(lattice.Edges))
	assert.False(t, equalEdges(lattice, rewired))
	for i := range 30 {
		want := []int{(i + 1) % 30, (i + 2) % 30, (i + 28) % 30, (i + 29) % 30}
		slices.Sort(want)
		assert.Equal(t, want, lattice.Neighbors(i), "node %d links its two nearest on either side", i)
	}
}

// TestGeneratorErrors: each bad parameter is rejected with the input named
// and the way out stated.
func TestGeneratorErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"line n=1", second(Line(1)), `topology "line": n=1: a line needs at least 2 nodes; add nodes`},
		{"ring n=2", second(Ring(2)), `a ring needs at least 3`},
		{"full n=1", second(Full(1)), `a full mesh needs at least 2 nodes`},
		{"tree k=0", second(Tree(5, 0)), `topology "tree:k=0": k=0: each node needs at least 1 child; use k >= 1`},
		{"tree n=1", second(Tree(1, 2)), `a tree needs at least 2`},
		{"regular d=1", second(RandomRegular(10, 1, 1)), `d=1: a connected regular graph needs d >= 2`},
		{"regular d=n", second(RandomRegular(4, 4, 1)), `topology "random-regular:d=4,seed=1": n=4: degree 4 needs at least 5 nodes (a node has at most n-1 neighbours); add nodes or lower d`},
		{"regular odd", second(RandomRegular(11, 3, 1)), `n=11 × d=3 is odd, but every edge has two ends: make the node count or d even`},
		{"er p>1", second(ErdosRenyi(10, 1.5, 1)), `topology "erdos-renyi:p=1.5,seed=1": p=1.5: p is the probability of each edge, so it lies in 0..1`},
		{"er p<0", second(ErdosRenyi(10, -0.1, 1)), `p=-0.1`},
		{"er NaN", second(ErdosRenyi(10, math.NaN(), 1)), `p=NaN`},
		{"er n=1", second(ErdosRenyi(1, 0.5, 1)), `a graph needs at least 2`},
		{"ba m=0", second(BarabasiAlbert(10, 0, 1)), `m=0: each new node attaches to m earlier ones; use m >= 1`},
		{"ba m=n", second(BarabasiAlbert(3, 3, 1)), `n=3: m=3 needs at least 4 nodes (m to start from, then newcomers); add nodes or lower m`},
		{"ws k odd", second(WattsStrogatz(10, 3, 0.2, 1)), `k=3: each node links k/2 neighbours on either side, so k must be even and at least 2; use k=4`},
		{"ws k=0", second(WattsStrogatz(10, 0, 0.2, 1)), `use k=2`},
		{"ws k=n", second(WattsStrogatz(4, 4, 0.2, 1)), `n=4: k=4 needs at least 5 nodes`},
		{"ws beta", second(WattsStrogatz(10, 2, 2, 1)), `beta=2: beta is the probability of rewiring an edge, so it lies in 0..1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.err, tc.want)
		})
	}
}

func second(_ Graph, err error) error { return err }
