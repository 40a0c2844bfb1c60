package conditions

import (
	"math/bits"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// Path is the composed one-way condition of a path A→B: what a packet from A
// to B meets, summed over A's uplink, the link A→B and B's downlink.
type Path struct {
	// Latency is the one-way delay added, A.Up + link + B.Down.
	Latency time.Duration `json:"latency_ns,omitempty"`
	// Jitter is the sum of the three jitters: a bound on the spread, applied
	// as one uniform spread of ±Jitter at B, not the convolution of three.
	Jitter time.Duration `json:"jitter_ns,omitempty"`
	// Loss is the probability a packet is dropped somewhere on the path,
	// 1−(1−a)(1−l)(1−b).
	Loss float64 `json:"loss,omitempty"`
	// LinkRate is the rate of the link A→B (a class of its own at A),
	// EgressRate A's uplink (everything A sends), IngressRate B's downlink
	// (everything B receives); bit/s on the wire, 0 for unlimited.
	LinkRate    int64 `json:"link_rate,omitempty"`
	EgressRate  int64 `json:"egress_rate,omitempty"`
	IngressRate int64 `json:"ingress_rate,omitempty"`
	// Throughput is what A→B carries alone, with no other traffic at A or B:
	// the smallest of the three rates that are set; 0 for unlimited.
	Throughput int64 `json:"throughput,omitempty"`
}

// String reads like "latency=60ms,loss=1%,throughput=10mbit", or "none".
func (p Path) String() string {
	s := shape.Link{Latency: p.Latency, Jitter: p.Jitter, Loss: p.Loss}.String()
	if p.Throughput == 0 {
		return s
	}
	t := "throughput=" + shape.FormatRate(p.Throughput)
	if s == "none" {
		return t
	}
	return s + "," + t
}

// Path returns the conditions of the path from→to, composed as the package
// documentation says. from and to are two different nodes, and c is valid:
// Path does not check (ValidateFor does).
func (c Conditions) Path(from, to Node) Path {
	return c.resolve([]Node{from, to}).path(0, 1)
}

// RTT is the round-trip time ab and ba add: the sum of their latencies.
func RTT(ab, ba Path) time.Duration { return ab.Latency + ba.Latency }

// RoundTripLoss is the probability that a probe over ab or its reply over ba
// is lost.
func RoundTripLoss(ab, ba Path) float64 { return combineLoss(ab.Loss, ba.Loss) }

// compose sums an uplink, a link and a downlink into a Path.
func compose(up, link, down shape.Link) Path {
	l := chain(chain(up, link), down)
	return Path{
		Latency:     l.Latency,
		Jitter:      l.Jitter,
		Loss:        l.Loss,
		LinkRate:    link.Rate,
		EgressRate:  up.Rate,
		IngressRate: down.Rate,
		Throughput:  minRate(minRate(link.Rate, up.Rate), down.Rate),
	}
}

// chain is the delay, jitter and loss of a then b, one after the other; the
// rate of a chain is no single figure, and is left 0.
func chain(a, b shape.Link) shape.Link {
	return shape.Link{Latency: a.Latency + b.Latency, Jitter: a.Jitter + b.Jitter, Loss: combineLoss(a.Loss, b.Loss)}
}

// combineLoss is the loss of two lossy stages in a row, 1−(1−a)(1−b). A
// lossless stage returns the other exactly, so a path with loss at one place
// only shows that figure (0.01, not 1−0.99 = 0.010000000000000009).
func combineLoss(a, b float64) float64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return 1 - (1-a)*(1-b)
}

// minRate is the smaller of two rates, 0 standing for unlimited.
func minRate(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// network is Conditions resolved against a list of nodes: every node's
// uplink, downlink and region, and for each node the link rules whose From
// and To pick it, as bit sets, so that the link of a pair costs a few word
// operations rather than a pass over the rules. Compile looks up n² pairs.
type network struct {
	c        *Conditions
	up, down []shape.Link
	region   []int    // nil without regions
	words    int      // uint64 words per bit set: ceil(len(c.Links)/64)
	from, to []uint64 // node i's bit set is [i*words, (i+1)*words)
	both     []uint64 // the rules with Both set
}

// resolve builds the network of nodes. It does not validate: a selector that
// picks nothing simply never applies, and regions of the wrong shape give
// the zero Link.
func (c *Conditions) resolve(nodes []Node) *network {
	n := &network{c: c, up: make([]shape.Link, len(nodes)), down: make([]shape.Link, len(nodes))}
	regions := c.Regions.set() && len(c.Regions.Names) > 0
	if regions {
		n.region = make([]int, len(nodes))
	}
	for i, node := range nodes {
		if regions {
			k := c.Regions.region(node)
			n.region[i] = k
			n.up[i], n.down[i] = at(c.Regions.Up, k), at(c.Regions.Down, k)
		}
		for j := len(c.Nodes) - 1; j >= 0; j-- {
			if r := c.Nodes[j]; selects(r.Select, node) {
				n.up[i], n.down[i] = r.Up, r.Down
				break
			}
		}
	}
	if len(c.Links) == 0 {
		return n
	}
	n.words = (len(c.Links) + 63) / 64
	n.from = make([]uint64, len(nodes)*n.words)
	n.to = make([]uint64, len(nodes)*n.words)
	n.both = make([]uint64, n.words)
	for k, r := range c.Links {
		w, bit := k/64, uint64(1)<<(k%64)
		if r.Both {
			n.both[w] |= bit
		}
		for i, node := range nodes {
			if selects(r.From, node) {
				n.from[i*n.words+w] |= bit
			}
			if selects(r.To, node) {
				n.to[i*n.words+w] |= bit
			}
		}
	}
	return n
}

// rule returns the index of the last LinkRule that matches i→j, or -1.
func (n *network) rule(i, j int) int {
	fi, ti := n.from[i*n.words:(i+1)*n.words], n.to[i*n.words:(i+1)*n.words]
	fj, tj := n.from[j*n.words:(j+1)*n.words], n.to[j*n.words:(j+1)*n.words]
	for w := n.words - 1; w >= 0; w-- {
		if m := fi[w]&tj[w] | n.both[w]&fj[w]&ti[w]; m != 0 {
			return w*64 + 63 - bits.LeadingZeros64(m)
		}
	}
	return -1
}

// link returns the link part of i→j: the last matching LinkRule, else the
// regions' link, else the default.
func (n *network) link(i, j int) shape.Link {
	if n.words > 0 {
		if k := n.rule(i, j); k >= 0 {
			return n.c.Links[k].Link
		}
	}
	if n.region != nil {
		return at(at(n.c.Regions.Links, n.region[i]), n.region[j])
	}
	return n.c.Link
}

// path composes i→j.
func (n *network) path(i, j int) Path {
	return compose(n.up[i], n.link(i, j), n.down[j])
}

// at returns s[i], or the zero value where s is too short: regions that
// failed Validate must not panic in Path.
func at[T any](s []T, i int) T {
	if i < 0 || i >= len(s) {
		var zero T
		return zero
	}
	return s[i]
}
