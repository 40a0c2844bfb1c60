package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// Line is nodes 0..n-1 in a chain, each dialling its predecessor: n-1 edges,
// the two ends of degree 1 and the rest of degree 2.
func Line(n int) (Graph, error) {
	g := Graph{Name: "line", N: n}
	if err := atLeast(g.Name, n, 2, "a line"); err != nil {
		return Graph{}, err
	}
	for i := 1; i < n; i++ {
		g.Edges = append(g.Edges, link(i, i-1))
	}
	return g, nil
}

// Ring is a Line closed by node n-1 dialling node 0: n edges, every degree 2.
func Ring(n int) (Graph, error) {
	g := Graph{Name: "ring", N: n}
	// With 2 nodes the closing edge would repeat the only one.
	if err := atLeast(g.Name, n, 3, "a ring"); err != nil {
		return Graph{}, err
	}
	for i := 1; i < n; i++ {
		g.Edges = append(g.Edges, link(i, i-1))
	}
	g.Edges = append(g.Edges, link(n-1, 0))
	sortEdges(g.Edges)
	return g, nil
}

// Full connects every pair of nodes, n(n-1)/2 edges; node i dials the i nodes
// below it, so the dialling work grows with the index.
func Full(n int) (Graph, error) {
	g := Graph{Name: "full", N: n}
	if err := atLeast(g.Name, n, 2, "a full mesh"); err != nil {
		return Graph{}, err
	}
	for i := 1; i < n; i++ {
		for j := range i {
			g.Edges = append(g.Edges, link(i, j))
		}
	}
	return g, nil
}

// Tree is a complete k-ary tree rooted at the bootstrap, filled level by level
// in index order: node i dials its parent (i-1)/k. It has n-1 edges; k = 1 is
// a Line.
func Tree(n, k int) (Graph, error) {
	g := Graph{Name: spec("tree", "k", strconv.Itoa(k)), N: n}
	if k < 1 {
		return Graph{}, specErrorf(g.Name, "k=%d: each node needs at least 1 child; use k >= 1", k)
	}
	if err := atLeast(g.Name, n, 2, "a tree"); err != nil {
		return Graph{}, err
	}
	for i := 1; i < n; i++ {
		g.Edges = append(g.Edges, link(i, (i-1)/k))
	}
	return g, nil
}

// link is the edge between a and b, dialled by the higher-numbered node. One
// fixed rule means each edge is dialled exactly once, and the bootstrap
// (node 0) never dials: it only accepts, as in a real deployment.
func link(a, b int) Edge {
	if a < b {
		a, b = b, a
	}
	return Edge{From: a, To: b}
}

// sortEdges puts edges in (From, To) order, so a generator's output does not
// depend on the order it happened to find them in (or on map iteration).
func sortEdges(es []Edge) {
	slices.SortFunc(es, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
}

// spec renders a topology name with its parameters, as Parse reads it:
// spec("tree", "k", "3") is "tree:k=3".
func spec(name string, kv ...string) string {
	s := name
	for i := 0; i+1 < len(kv); i += 2 {
		sep := ","
		if i == 0 {
			sep = ":"
		}
		s += sep + kv[i] + "=" + kv[i+1]
	}
	return s
}

// specErrorf is an error about the topology called name: every error of this
// package starts by naming the input it rejects.
func specErrorf(name, format string, args ...any) error {
	return fmt.Errorf("topology %q: "+format, append([]any{name}, args...)...)
}

// atLeast rejects fewer than least nodes; what names the shape for the message.
func atLeast(name string, n, least int, what string) error {
	if n < least {
		return specErrorf(name, "n=%d: %s needs at least %d nodes; add nodes", n, what, least)
	}
	return nil
}
