// Package conditions describes the network of one experiment — latency,
// jitter, loss and bandwidth per node, per link and between regions — and
// compiles it into the shape.Rules each node's shaper applies. It also says
// what a calibration should measure and judges what it did. It is pure:
// values in, values out, no Docker, no netlink, no privileges.
//
// # The model
//
// Nodes are joined by directed links: A→B and B→A are two links. Every node
// has an uplink, everything it sends, and a downlink, everything it
// receives. Conditions hold:
//
//   - Link, the default of every link between two nodes, which the
//     -latency, -jitter, -loss and -rate flags set: with latency=50ms, A→B
//     waits 50 ms one way and the RTT of any two nodes is 100 ms; a rate
//     limits each directed link on its own.
//   - Nodes, NodeRules giving the nodes a selector picks an uplink (Up) and
//     a downlink (Down). Their rates are the node's total capacity each way;
//     their latency, jitter and loss add to every path leaving (Up) or
//     entering (Down) the node.
//   - Links, LinkRules giving chosen links, From→To (and To→From with Both),
//     conditions of their own.
//   - Regions: nodes placed in regions, with a link from each region to
//     each (Links[i][j]; Links[i][i] within region i, the zero Link when
//     nothing is given), and optionally an uplink and downlink for the nodes
//     of each region. This is the model of Shadow's network graphs and of
//     libp2p's gossipsub-interop (eight regions, 2 to 220 ms apart).
//
// # One path
//
// The conditions of the path A→B are, precisely:
//
//	link    = the last LinkRule matching A→B (From picks A and To picks B,
//	          or Both and the reverse), else, with regions,
//	          Regions.Links[region(A)][region(B)], else Link
//	up(A)   = Up of the last NodeRule selecting A, else the Up of A's
//	          region, else none
//	down(B) = Down of the last NodeRule selecting B, else the Down of B's
//	          region, else none
//
//	latency    = up(A).Latency + link.Latency + down(B).Latency
//	jitter     = up(A).Jitter + link.Jitter + down(B).Jitter
//	loss       = 1 − (1 − up(A).Loss)(1 − link.Loss)(1 − down(B).Loss)
//	rates      = link.Rate at A for A→B alone, up(A).Rate for everything A
//	             sends, down(B).Rate for everything B receives
//	throughput = the smallest of the rates that are set: what A→B carries
//	             alone, with no other traffic at A or B
//
// A rule is replaced whole by a later one that matches: a NodeRule that
// gives the bootstrap a 50 ms uplink also takes away its region's uplink
// and downlink, rates included, unless it repeats them. With regions, Link
// must be zero: every pair of regions has its own link, so a default would
// never apply.
//
// The jitter of a path is the sum of its parts' jitters: a bound on the
// spread. It is applied as one uniform spread of ±jitter at the receiver,
// which is wider than the convolution of independent spreads would be (the
// sum of three uniforms is peaked; one uniform over the summed width is
// not). The delay line never reorders, so under load the spread is
// one-sided. Path gives these figures for one pair, RTT and RoundTripLoss
// for a round trip.
//
// # Selectors
//
// A selector picks the nodes whose Name, Role or Group it equals, the nodes
// whose Name it matches as a path.Match pattern ("peer-0*", "peer-00[1-5]"),
// or every node ("*"). Validate refuses empty selectors and bad patterns;
// ValidateFor, given the nodes of a mesh, also refuses a selector that picks
// none of them, naming it and the nodes there are, and a LinkRule whose
// From and To pick only one and the same node: a link to itself.
//
// # Regions
//
// A node goes to the region of the last Regions.Assign entry that selects
// it. A node no entry selects goes to Names[Index mod len(Names)]: round
// robin in index order, so without entries the bootstrap (index 0) is in
// the first region, peer-001 in the second, and so on. Since the region of
// a node depends on that node alone, Path needs no other nodes.
//
// # Compiling
//
// Compile follows shape.Rules: the delay, jitter and loss of A→B are
// applied at B, in one PathRule per distinct (latency, jitter, loss) listing
// its sources; rates at A (EgressRate, a RateRule per rated link) and
// B's downlink rate at B (IngressRate). A path the fixture has cut (a
// partition) is a PathRule with Loss 1 at the receiver, listed first. With
// regions, a receiver has at most one delay class per region.
//
// # Calibration
//
// Expect gives what a calibration between two nodes should find, Pick the
// pairs worth measuring (a few of each distinct expectation among the
// topology's edges), and Check the verdict on a measurement, per figure:
//
//	rtt         the median within 5 % of the configured RTT, or 1 ms,
//	            whichever is larger (this machine's bridge adds ~0.05 ms)
//	loss        within 1 percentage point, decided only from MinProbes
//	            probes on: the binomial 3σ at the expected loss must be at
//	            most 1 pp (891 probes at 1 %, 1,756 at 1 % each way), and at
//	            least 100
//	throughput  TCP goodput within 10 % of the configured rate; HTB counts
//	            wire bytes, so goodput sits 4–7 % under the rate. Decided on
//	            lossless paths only: loss holds TCP under any rate.
//
// A figure that cannot be decided is Undecided, never passed.
//
// # The file format
//
// Parse and Load read conditions from JSON; links are written in
// shape.ParseLink's compact form ("latency=50ms,jitter=5ms,loss=1%,rate=10mbit",
// "none" for no conditions). Conditions marshal to the same form, so the
// conditions in a summary.json read back with Parse. Every field may be
// left out:
//
//	{
//	  "link": "latency=10ms",
//	  "nodes": [
//	    {"select": "bootstrap", "up": "latency=50ms", "down": "latency=50ms,rate=10mbit"}
//	  ],
//	  "links": [
//	    {"from": "peer-001", "to": "bootstrap", "link": "loss=1%", "both": true}
//	  ]
//	}
//
// link is Conditions.Link; nodes are NodeRules (select, up, down); links
// are LinkRules (from, to, link, both). Regions are a list of names and
// a matrix per figure, row i the links leaving region i, in the order of
// names:
//
//	"regions": {
//	  "names":   ["eu", "us"],
//	  "latency": [["2ms", "40ms"], ["40ms", "2ms"]],
//	  "loss":    [["0", "0.1%"], ["0.1%", "0"]],
//	  "up":      ["rate=50mbit", "rate=20mbit"],
//	  "assign":  [{"select": "bootstrap", "region": "us"}]
//	}
//
// latency is required; jitter and loss, and rate (per directed link, as
// "10mbit"), are optional matrices of the same shape; up and down give the
// nodes of each region an uplink and a downlink; assign is a list of
// {select, region} or "round-robin" (the same as leaving it out). Instead
// of names and matrices, "gml": "world-8.gml" takes the regions from a
// Shadow graph, relative to the file's directory; assign still applies.
// Unknown fields are errors, and every error names the file and the field
// ("conditions c.json: nodes[1].up: …").
//
// Load also reads a Shadow GML graph directly, for a file whose name ends
// in .gml: its nodes become regions, assigned round-robin. ReadGML says how
// it reads one; testdata/world-8.gml is the eight regions of
// gossipsub-interop.
package conditions
