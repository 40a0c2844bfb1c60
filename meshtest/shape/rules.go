package shape

import (
	"net/netip"
	"time"
)

// Rules are everything one node's interface imposes, compiled by the harness
// from the conditions of every path that starts or ends at the node. A path
// A→B is conditioned in two places only:
//
//   - at A, the rates: A's uplink (EgressRate) and, under it, the rate of the
//     link to B (a To rule), because a queue can only form where packets are
//     sent;
//   - at B, the delay, jitter and loss of the whole path (a From rule for
//     A's address): A's uplink, the link A→B and B's downlink summed, so that
//     no packet is ever held on a sender's output hook (see ErrEgressLatency)
//     and a partition is a From rule with Loss 1.
//
// B's downlink rate (IngressRate) is applied at B through an IFB device.
// The zero Rules change nothing; applying them removes every rule.
type Rules struct {
	// EgressRate limits everything the node sends, in bit/s; 0: unlimited.
	EgressRate int64 `json:"egress_rate,omitempty"`
	// IngressRate limits everything the node receives, in bit/s; 0: unlimited.
	IngressRate int64 `json:"ingress_rate,omitempty"`
	// EgressLoss drops what the node sends to anyone with this probability,
	// on the interface's egress hook: Shape's Egress.Loss. The harness
	// compiles a node's uplink loss into its receivers' From rules instead.
	EgressLoss float64 `json:"egress_loss,omitempty"`
	// To are per-destination rates, each a class under EgressRate.
	To []RateRule `json:"to,omitempty"`
	// From condition what the node receives. The first rule whose Src holds
	// a packet's source applies; an empty Src matches every source arriving
	// on the interface and belongs last.
	From []PathRule `json:"from,omitempty"`
}

// RateRule limits what the node sends to the addresses Dst.
type RateRule struct {
	Dst  []netip.Addr `json:"dst"`
	Rate int64        `json:"rate"` // bit/s, > 0
}

// PathRule conditions packets received from the addresses Src (every
// source when empty): each is dropped with probability Loss (1: the path is
// cut), else held for Latency±Jitter before delivery, in arrival order.
type PathRule struct {
	Src     []netip.Addr  `json:"src,omitempty"`
	Latency time.Duration `json:"latency_ns,omitempty"`
	Jitter  time.Duration `json:"jitter_ns,omitempty"`
	Loss    float64       `json:"loss,omitempty"`
}

// IsZero reports whether r changes nothing.
func (r Rules) IsZero() bool {
	return r.EgressRate == 0 && r.IngressRate == 0 && r.EgressLoss == 0 && len(r.To) == 0 && len(r.From) == 0
}

// Rules returns the Rules that apply s: its ingress conditions to every
// source, its egress loss on the interface, and its rates.
func (s Shape) Rules() Rules {
	r := Rules{EgressRate: s.Egress.Rate, IngressRate: s.Ingress.Rate, EgressLoss: s.Egress.Loss}
	if in := s.Ingress; in.Latency != 0 || in.Jitter != 0 || in.Loss != 0 {
		r.From = []PathRule{{Latency: in.Latency, Jitter: in.Jitter, Loss: in.Loss}}
	}
	return r
}
