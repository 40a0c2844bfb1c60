// Package topology describes who dials whom in a mesh. It is pure: graphs are
// values, built and checked without Docker, so the fixture can prove a
// deployed mesh against them.
//
// # Generators
//
// Every generator returns a connected simple graph over nodes 0..n-1, node 0
// being the bootstrap, and dials each edge exactly once: the higher-numbered
// node dials the lower, so the bootstrap only accepts. Edge counts:
//
//	star             n-1            Star(peers) has peers+1 nodes
//	line             n-1
//	ring             n              n >= 3
//	full             n(n-1)/2
//	tree:k=K         n-1            node i dials its parent (i-1)/K
//	random-regular   n·d/2          every degree d; 2 <= d < n, n·d even
//	erdos-renyi      ≈ p·n(n-1)/2   plus c-1 edges joining c components
//	barabasi-albert  m(m-1)/2 + m(n-m)   a clique of m, then m per newcomer
//	watts-strogatz   n·k/2          k even, 2 <= k < n; rewiring keeps it
//
// The random ones draw from a PCG seeded with the seed they are given, never
// from the global generator: the same seed and parameters give the same
// edges. Two of them may not come out connected, and say in Graph.Note what
// they did about it: Erdős–Rényi adds the fewest edges that connect it (one
// per extra component), Watts–Strogatz draws the rewiring again (up to 100
// times, then fails).
//
// # Specs
//
// Parse turns the -topology flag into a graph. A spec is a name, optionally
// followed by a colon and comma-separated key=value parameters:
//
//	star
//	line
//	ring
//	full
//	tree             k=2 (children per node)
//	random-regular   d=4 (degree of every node)
//	erdos-renyi      p=0.1 (probability of each edge)
//	barabasi-albert  m=2 (edges each new node makes)
//	watts-strogatz   k=4 (ring neighbours, even), beta=0.2 (rewiring probability)
//	file:PATH        an edge list; it fixes the node count
//
// for example "random-regular:d=4", "tree:k=3",
// "watts-strogatz:k=6,beta=0.1" or "file:testdata/topologies/ring-10.edges".
// The random ones also take seed=S, overriding the seed given to Parse.
// Graph.Name is the spec with every parameter spelled out, seed included
// ("random-regular:d=4,seed=1"), so Parse rebuilds a graph from its name;
// Graph.Slug is the same made safe for file and container names
// ("random-regular-d4-seed1").
//
// # Edge lists
//
// An edge list names one connection per line:
//
//	# two hubs, the bootstrap and node 1, joined
//	nodes 6
//	1 0
//	2 0
//	3 0
//	4 1
//	5 1
//
// "A B" means node A dials node B, and each connection is listed once, in
// one direction. Ids run from 0, the bootstrap, to N-1. Text after "#" and
// blank lines are ignored. An optional first line "nodes N" states the node
// count, which is otherwise the largest id plus one; as every node must have
// an edge, it serves as a check that none was left out. The graph must be
// connected. Examples are in testdata/topologies at the root of the module.
package topology
