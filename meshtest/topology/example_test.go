package topology_test

import (
	"fmt"

	"github.com/meshtest/meshtest/meshtest/topology"
)

// An experiment turns its -topology flag into a graph for meshtest.NewGraph,
// passing the total node count (peers+1) and its seed; the slug names the
// mesh and its artifacts.
func ExampleParse() {
	g, err := topology.Parse("random-regular:d=4", 11, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Name, g.Slug())
	fmt.Println(g.N, "nodes,", len(g.Edges), "edges,", g.DegreeStats(), "connected:", g.Connected())

	_, err = topology.Parse("random-regular:d=3", 11, 1)
	fmt.Println(err)
	// Output:
	// random-regular:d=4,seed=1 random-regular-d4-seed1
	// 11 nodes, 22 edges, degree 4..4, mean 4.00 connected: true
	// topology "random-regular:d=3,seed=1": n=11 × d=3 is odd, but every edge has two ends: make the node count or d even
}

// An edge list fixes its own node count, so the node count given is ignored.
func ExampleParse_file() {
	g, err := topology.Parse("file:../../testdata/topologies/two-stars.edges", 0, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Slug(), g.N, "nodes,", len(g.Edges), "edges,", g.DegreeStats())
	fmt.Println("node 1 dials", g.Dials(1))
	// Output:
	// two-stars 20 nodes, 19 edges, degree 1..10, mean 1.90
	// node 1 dials [0]
}
