package topology

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// stream is the second word of every PCG state. PCG takes two; fixing one
// leaves a single seed for the user to state, and the value ("meshtest" in
// ASCII) keeps our streams apart from code that seeds PCG(seed, 0).
const stream = 0x6d65736874657374

// Bounds on drawing again. A random 3-regular graph is connected and simple
// often enough that 1000 tries fail only for a broken input; Watts–Strogatz
// gets the 100 tries of networkx's connected_watts_strogatz_graph, beyond
// which the parameters, not the luck, are the problem.
const (
	regularAttempts = 1000
	rewireAttempts  = 100
)

// newRand is the only source of randomness here: one explicit PCG per graph,
// never the global generator, so a seed rebuilds the same graph.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// RandomRegular is a random connected simple graph in which every node has
// degree d: n·d/2 edges. It pairs edge ends at random, avoiding loops and
// repeated edges as it goes (Steger–Wormald, as networkx does), and starts
// again when it gets stuck or the result is disconnected. Dense graphs
// (2d > n-1) are drawn as the complement of a sparse one, where pairing rarely
// gets stuck, and d = 2 as a random Hamiltonian cycle, the only connected
// 2-regular graphs.
func RandomRegular(n, d int, seed uint64) (Graph, error) {
	name := spec("random-regular", "d", strconv.Itoa(d), "seed", strconv.FormatUint(seed, 10))
	switch {
	case d < 2:
		return Graph{}, specErrorf(name, "d=%d: a connected regular graph needs d >= 2 (d=1 only pairs nodes off); use d >= 2", d)
	case n <= d:
		return Graph{}, specErrorf(name, "n=%d: degree %d needs at least %d nodes (a node has at most n-1 neighbours); add nodes or lower d", n, d, d+1)
	case n*d%2 != 0:
		return Graph{}, specErrorf(name, "n=%d × d=%d is odd, but every edge has two ends: make the node count or d even", n, d)
	}
	r := newRand(seed)
	for range regularAttempts {
		var edges []Edge
		switch {
		case 2*d > n-1:
			sparse, ok := pairing(r, n, n-1-d)
			if !ok {
				continue
			}
			edges = complement(n, sparse)
		case d == 2:
			edges = randomCycle(r, n)
		default:
			var ok bool
			if edges, ok = pairing(r, n, d); !ok {
				continue
			}
		}
		g := Graph{Name: name, N: n, Edges: edges}
		if g.Connected() {
			sortEdges(g.Edges)
			return g, nil
		}
	}
	return Graph{}, specErrorf(name, "no connected %d-regular graph on %d nodes in %d attempts; try another seed", d, n, regularAttempts)
}

// pairing draws a simple d-regular graph on n nodes, or reports that this try
// got stuck with only loops or repeated edges left to make.
func pairing(r *rand.Rand, n, d int) ([]Edge, bool) {
	has := make(map[Edge]bool, n*d/2)
	edges := make([]Edge, 0, n*d/2)
	ends := make([]int, 0, n*d) // each node once per edge end it still lacks
	for i := range n {
		for range d {
			ends = append(ends, i)
		}
	}
	left := make([]int, n)
	for len(ends) > 0 {
		clear(left)
		r.Shuffle(len(ends), func(i, j int) { ends[i], ends[j] = ends[j], ends[i] })
		for i := 0; i+1 < len(ends); i += 2 {
			e := link(ends[i], ends[i+1])
			if e.From != e.To && !has[e] {
				has[e] = true
				edges = append(edges, e)
				continue
			}
			left[ends[i]]++
			left[ends[i+1]]++
		}
		if !joinable(has, left) {
			return nil, false
		}
		ends = ends[:0]
		for i, c := range left {
			for range c {
				ends = append(ends, i)
			}
		}
	}
	return edges, true
}

// joinable reports whether two of the nodes with ends left can still be
// joined by a new edge; if not, reshuffling will never finish the graph.
func joinable(has map[Edge]bool, left []int) bool {
	var open []int
	for i, c := range left {
		if c > 0 {
			open = append(open, i)
		}
	}
	if len(open) == 0 {
		return true
	}
	for a := range open {
		for b := range a {
			if !has[link(open[a], open[b])] {
				return true
			}
		}
	}
	return false
}

// complement returns every edge of the full graph on n nodes not in es.
func complement(n int, es []Edge) []Edge {
	has := make(map[Edge]bool, len(es))
	for _, e := range es {
		has[e] = true
	}
	var out []Edge
	for i := 1; i < n; i++ {
		for j := range i {
			if e := link(i, j); !has[e] {
				out = append(out, e)
			}
		}
	}
	return out
}

// randomCycle visits the nodes in a random order and back to the first.
func randomCycle(r *rand.Rand, n int) []Edge {
	p := r.Perm(n)
	es := make([]Edge, n)
	for i := range n {
		es[i] = link(p[i], p[(i+1)%n])
	}
	return es
}

// ErdosRenyi is G(n, p): each of the n(n-1)/2 pairs is an edge with
// probability p, for p·n(n-1)/2 edges and mean degree p(n-1) on average.
//
// The experiments need every node reachable, so a draw of c > 1 components is
// connected with the fewest extra edges, c-1: each component joins a random
// node of those before it. The draw is not repeated, as that would bias small
// p towards unusually dense graphs; Note says how many edges were added.
func ErdosRenyi(n int, p float64, seed uint64) (Graph, error) {
	name := spec("erdos-renyi", "p", formatFloat(p), "seed", strconv.FormatUint(seed, 10))
	if !(p >= 0 && p <= 1) { // also rejects NaN
		return Graph{}, specErrorf(name, "p=%v: p is the probability of each edge, so it lies in 0..1", p)
	}
	if err := atLeast(name, n, 2, "a graph"); err != nil {
		return Graph{}, err
	}
	r := newRand(seed)
	g := Graph{Name: name, N: n}
	for i := 1; i < n; i++ {
		for j := range i {
			if r.Float64() < p {
				g.Edges = append(g.Edges, link(i, j))
			}
		}
	}
	if added, parts := join(r, &g); added == 0 {
		g.Note = "erdos-renyi: connected as drawn"
	} else {
		g.Note = fmt.Sprintf("erdos-renyi: drew %d components, added %d edges to connect them", parts, added)
	}
	sortEdges(g.Edges)
	return g, nil
}

// join adds the fewest edges that make g connected, one per component after
// the first, and returns how many it added and how many components there
// were. Each component links a random node of its own to a random node of the
// components before it: always linking to node 0 would make the bootstrap a
// hub the model never drew.
func join(r *rand.Rand, g *Graph) (added, parts int) {
	label := g.components() // label[i] is the smallest node of i's component
	var members [][]int     // in order of each component's smallest node
	index := make([]int, g.N)
	for i, c := range label {
		if c == i {
			index[i] = len(members)
			members = append(members, nil)
		}
		members[index[c]] = append(members[index[c]], i)
	}
	joined := members[0]
	for _, m := range members[1:] {
		g.Edges = append(g.Edges, link(m[r.IntN(len(m))], joined[r.IntN(len(joined))]))
		joined = append(joined, m...)
	}
	return len(members) - 1, len(members)
}

// BarabasiAlbert grows a scale-free graph by preferential attachment. Nodes
// 0..m-1 start as a clique; each later node dials m distinct earlier nodes,
// each chosen with probability proportional to its degree. That gives
// m(m-1)/2 + m(n-m) edges, every node of degree >= m, and the early nodes —
// the bootstrap among them — as the hubs.
func BarabasiAlbert(n, m int, seed uint64) (Graph, error) {
	name := spec("barabasi-albert", "m", strconv.Itoa(m), "seed", strconv.FormatUint(seed, 10))
	if m < 1 {
		return Graph{}, specErrorf(name, "m=%d: each new node attaches to m earlier ones; use m >= 1", m)
	}
	if n <= m {
		return Graph{}, specErrorf(name, "n=%d: m=%d needs at least %d nodes (m to start from, then newcomers); add nodes or lower m", n, m, m+1)
	}
	r := newRand(seed)
	g := Graph{Name: name, N: n}
	// ends lists each node once per edge end, so a uniform draw from it picks
	// a node with probability proportional to its degree.
	ends := make([]int, 0, m*(m-1)+2*m*(n-m))
	add := func(a, b int) {
		g.Edges = append(g.Edges, link(a, b))
		ends = append(ends, a, b)
	}
	for i := 1; i < m; i++ {
		for j := range i {
			add(i, j)
		}
	}
	chosen := make([]bool, n)
	targets := make([]int, 0, m)
	for i := m; i < n; i++ {
		targets = targets[:0]
		if i == m {
			// The first newcomer has exactly m nodes to choose from, and for
			// m = 1 the lone start node has degree 0, so it cannot be drawn.
			for j := range m {
				targets = append(targets, j)
			}
		}
		for len(targets) < m {
			if t := ends[r.IntN(len(ends))]; !chosen[t] {
				chosen[t] = true
				targets = append(targets, t)
			}
		}
		for _, t := range targets {
			chosen[t] = false
			add(i, t)
		}
	}
	sortEdges(g.Edges)
	return g, nil
}

// WattsStrogatz is a small world: a ring in which each node links to its k/2
// nearest neighbours on either side, after which each of those n·k/2 edges has
// its far end moved, with probability beta, to a random node it is not yet
// linked to. Rewiring keeps the graph simple and the edge count at n·k/2.
//
// Rewiring can cut a node off. A disconnected draw is drawn again (as
// networkx's connected_watts_strogatz_graph does), up to 100 times; Note says
// how many were discarded, and an error says when none was connected.
func WattsStrogatz(n, k int, beta float64, seed uint64) (Graph, error) {
	name := spec("watts-strogatz", "k", strconv.Itoa(k), "beta", formatFloat(beta), "seed", strconv.FormatUint(seed, 10))
	switch {
	case k < 2 || k%2 != 0:
		return Graph{}, specErrorf(name, "k=%d: each node links k/2 neighbours on either side, so k must be even and at least 2; use k=%d", k, max(2, k+k%2))
	case !(beta >= 0 && beta <= 1): // also rejects NaN
		return Graph{}, specErrorf(name, "beta=%v: beta is the probability of rewiring an edge, so it lies in 0..1", beta)
	case n <= k:
		return Graph{}, specErrorf(name, "n=%d: k=%d needs at least %d nodes (a node has at most n-1 neighbours); add nodes or lower k", n, k, k+1)
	}
	r := newRand(seed)
	for attempt := range rewireAttempts {
		g := Graph{Name: name, N: n, Edges: rewire(r, n, k, beta)}
		if g.Connected() {
			g.Note = "watts-strogatz: connected as rewired"
			if attempt > 0 {
				g.Note = fmt.Sprintf("watts-strogatz: discarded %d disconnected rewirings, kept the next", attempt)
			}
			return g, nil
		}
	}
	return Graph{}, specErrorf(name, "all %d rewirings left the graph disconnected; lower beta or raise k", rewireAttempts)
}

// rewire draws one Watts–Strogatz graph, sorted.
func rewire(r *rand.Rand, n, k int, beta float64) []Edge {
	has := make(map[Edge]bool, n*k/2)
	deg := make([]int, n)
	for j := 1; j <= k/2; j++ {
		for i := range n {
			has[link(i, (i+j)%n)] = true
		}
	}
	for i := range deg {
		deg[i] = k
	}
	// Lattice distance first, then node, as in the original model: the
	// nearest links of every node are considered before the further ones.
	for j := 1; j <= k/2; j++ {
		for u := range n {
			v := (u + j) % n
			if r.Float64() >= beta || deg[u] >= n-1 {
				continue // kept, or u is linked to everyone and has nowhere to go
			}
			w := r.IntN(n)
			for w == u || has[link(u, w)] {
				w = r.IntN(n)
			}
			delete(has, link(u, v))
			has[link(u, w)] = true
			deg[v]--
			deg[w]++
		}
	}
	edges := make([]Edge, 0, len(has))
	for e := range has {
		edges = append(edges, e)
	}
	sortEdges(edges) // map order is random; the seed alone must decide
	return edges
}

// formatFloat writes a parameter the shortest way that reads back exactly.
func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
