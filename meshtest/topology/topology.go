package topology

import (
	"fmt"
	"slices"
)

// Edge is one connection of the mesh: node From dials node To. Each edge is
// dialled exactly once, so a connected edge shows as one connection on each
// end.
type Edge struct {
	From, To int
}

// Graph is a topology over N nodes numbered 0..N-1. Node 0 is the bootstrap
// where a topology has one.
type Graph struct {
	// Name is the spec that built the graph, parameters and seed included
	// (e.g. "star", "random-regular:d=4,seed=1"), so a label or summary says
	// exactly which graph ran; Parse accepts it back. It holds ':' and '=',
	// so file and container names (meshtest.Config.Name) take Slug instead.
	Name  string
	N     int
	Edges []Edge
	// Note says what a random model that can come out disconnected did to
	// connect it (edges added, draws discarded), for the test log; empty for
	// the models that are connected by construction and for edge lists.
	Note string
}

// Star is a bootstrap (node 0) and peers 1..peers, each dialling only the
// bootstrap: the bootstrap's degree is peers, every peer's is 1.
func Star(peers int) Graph {
	g := Graph{Name: "star", N: peers + 1}
	for i := 1; i <= peers; i++ {
		g.Edges = append(g.Edges, Edge{From: i, To: 0})
	}
	return g
}

// Degrees returns the number of connections each node must hold.
func (g Graph) Degrees() []int {
	deg := make([]int, g.N)
	for _, e := range g.Edges {
		deg[e.From]++
		deg[e.To]++
	}
	return deg
}

// Dials returns the nodes that node i dials, in ascending order.
func (g Graph) Dials(i int) []int {
	var out []int
	for _, e := range g.Edges {
		if e.From == i {
			out = append(out, e.To)
		}
	}
	slices.Sort(out)
	return out
}

// Neighbors returns the nodes node i must be connected to, in ascending
// order, whoever dials.
func (g Graph) Neighbors(i int) []int {
	var out []int
	for _, e := range g.Edges {
		switch i {
		case e.From:
			out = append(out, e.To)
		case e.To:
			out = append(out, e.From)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate reports edges that point outside the graph, loops and repeated
// edges: each would make the expected connection counts wrong.
func (g Graph) Validate() error {
	if g.N < 1 {
		return fmt.Errorf("topology %q: %d nodes, need at least 1", g.Name, g.N)
	}
	seen := make(map[Edge]bool, len(g.Edges))
	for _, e := range g.Edges {
		switch {
		case e.From < 0 || e.From >= g.N || e.To < 0 || e.To >= g.N:
			return fmt.Errorf("topology %q: edge %d->%d outside nodes 0..%d", g.Name, e.From, e.To, g.N-1)
		case e.From == e.To:
			return fmt.Errorf("topology %q: node %d dials itself", g.Name, e.From)
		case seen[e] || seen[Edge{e.To, e.From}]:
			return fmt.Errorf("topology %q: edge %d-%d appears twice", g.Name, e.From, e.To)
		}
		seen[e] = true
	}
	return nil
}

// DegreeStats summarises the degree sequence of a graph.
type DegreeStats struct {
	Min, Max int
	Mean     float64 // 2·edges / nodes
}

// String reads like "degree 1..9, mean 1.80".
func (s DegreeStats) String() string {
	return fmt.Sprintf("degree %d..%d, mean %.2f", s.Min, s.Max, s.Mean)
}

// DegreeStats returns the smallest, largest and mean degree; zero for a
// graph without nodes.
func (g Graph) DegreeStats() DegreeStats {
	deg := g.Degrees()
	if len(deg) == 0 {
		return DegreeStats{}
	}
	return DegreeStats{
		Min:  slices.Min(deg),
		Max:  slices.Max(deg),
		Mean: 2 * float64(len(g.Edges)) / float64(g.N),
	}
}

// Connected reports whether every node can reach every other one, as the
// experiments need: a node cut off from the bootstrap never joins the mesh.
func (g Graph) Connected() bool {
	return g.Components() == 1
}

// Components returns the number of connected components; an isolated node
// counts as one. Edges outside 0..N-1 are ignored (Validate reports them).
func (g Graph) Components() int {
	return len(g.componentRoots())
}

// componentRoots returns the smallest node of each component, in ascending
// order: what an error message names so the reader can find the pieces.
func (g Graph) componentRoots() []int {
	if g.N <= 0 {
		return nil
	}
	comp := g.components()
	var roots []int
	for i, c := range comp {
		if c == i {
			roots = append(roots, i)
		}
	}
	return roots
}

// components labels each node with the smallest node of its component,
// by union-find with the smaller root kept so labels are deterministic.
func (g Graph) components() []int {
	parent := make([]int, max(g.N, 0))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]] // path halving
			i = parent[i]
		}
		return i
	}
	for _, e := range g.Edges {
		if e.From < 0 || e.From >= g.N || e.To < 0 || e.To >= g.N {
			continue
		}
		a, b := find(e.From), find(e.To)
		if a > b {
			a, b = b, a
		}
		parent[b] = a
	}
	for i := range parent {
		parent[i] = find(i)
	}
	return parent
}

// Hops is the length in edges of a shortest path from node from to every
// node (0 for itself), -1 where no path exists: how many relays a message
// from that node needs at least.
func (g Graph) Hops(from int) []int {
	hops := make([]int, g.N)
	for i := range hops {
		hops[i] = -1
	}
	adj := make([][]int, g.N)
	for _, e := range g.Edges {
		adj[e.From] = append(adj[e.From], e.To)
		adj[e.To] = append(adj[e.To], e.From)
	}
	hops[from] = 0
	queue := []int{from}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range adj[i] {
			if hops[j] < 0 {
				hops[j] = hops[i] + 1
				queue = append(queue, j)
			}
		}
	}
	return hops
}

// Diameter is the longest of the shortest paths between two nodes, in
// edges; -1 when the graph is not connected.
func (g Graph) Diameter() int {
	d := 0
	for i := range g.N {
		for _, h := range g.Hops(i) {
			if h < 0 {
				return -1
			}
			d = max(d, h)
		}
	}
	return d
}
