// Package topology describes who dials whom in a mesh. It is pure: graphs are
// values, built and checked without Docker, so the fixture can prove a
// deployed mesh against them.
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
	Name  string // e.g. "star"; used in labels and artifact names
	N     int
	Edges []Edge
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
