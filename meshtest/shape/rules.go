package shape

import (
	"errors"
	"fmt"
	"math"
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

// Bounds of Rules. Each delay class is one delay line, a thread waking at
// every due time, so their number is bounded; a latency matrix rounded to
// the millisecond rarely needs more. Each destination address is one u32
// filter, and u32 numbers at most 4095 filters in a list.
const (
	MaxDelayClasses = 64
	MaxDestinations = 4000
)

// Validate returns every problem of r, each naming the field as it is
// written in JSON ("from[2].loss", "to[0].dst[3]") and how to fix it, or
// nil.
func (r Rules) Validate() error {
	var errs []error
	bad := func(field, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(f, a...)))
	}
	rate := func(field string, v int64) {
		switch {
		case v < 0:
			bad(field, "%d bit/s is negative; use 0 for unlimited", v)
		case v > 0 && v < MinRate:
			bad(field, "%d bit/s is below the minimum %s; raise it or use 0 for unlimited", v, FormatRate(MinRate))
		case v > MaxRate:
			bad(field, "%s exceeds %s; use 0 for unlimited", FormatRate(v), FormatRate(MaxRate))
		}
	}
	addr := func(field string, a netip.Addr) {
		switch {
		case !a.IsValid():
			bad(field, "not an address; write an IPv4 address such as 172.18.0.3")
		case a.Is6() && !a.Is4In6():
			bad(field, "%v is IPv6; only IPv4 paths are shaped, so give the node's IPv4 address", a)
		}
	}
	rate("egress_rate", r.EgressRate)
	rate("ingress_rate", r.IngressRate)
	if p := r.EgressLoss; math.IsNaN(p) || p < 0 || p > 1 {
		bad("egress_loss", "%v is not a probability in 0..1; write 0.01 for one percent", p)
	}

	owner := map[netip.Addr]int{} // destination → the To rule that has it
	ndst := 0
	for i, rr := range r.To {
		f := fmt.Sprintf("to[%d]", i)
		switch {
		case rr.Rate <= 0:
			bad(f+".rate", "%d bit/s: a To rule needs a rate above 0; drop the rule for an unlimited path", rr.Rate)
		default:
			rate(f+".rate", rr.Rate)
		}
		if len(rr.Dst) == 0 {
			bad(f+".dst", "empty; a To rule limits what is sent to the addresses it lists, so list at least one")
		}
		for j, a := range rr.Dst {
			addr(fmt.Sprintf("%s.dst[%d]", f, j), a)
			if k, dup := owner[a.Unmap()]; dup {
				bad(fmt.Sprintf("%s.dst[%d]", f, j), "%v is already in to[%d]; an address has one rate, so keep it in one rule", a, k)
			}
			owner[a.Unmap()] = i
			ndst++
		}
	}
	if ndst > MaxDestinations {
		bad("to", "%d destination addresses exceed %d (one u32 filter each); group destinations that need no rate of their own", ndst, MaxDestinations)
	}

	for i, pr := range r.From {
		f := fmt.Sprintf("from[%d]", i)
		if err := (Link{Latency: pr.Latency, Jitter: pr.Jitter, Loss: pr.Loss}).validate(f); err != nil {
			errs = append(errs, err)
		}
		if len(pr.Src) == 0 && i != len(r.From)-1 {
			bad(f+".src", "empty, so it matches every source, but it is not the last rule and the rules after it would never apply; move it to the end")
		}
		for j, a := range pr.Src {
			addr(fmt.Sprintf("%s.src[%d]", f, j), a)
		}
	}
	if n := len(compileFrom(r.From).classes); n > MaxDelayClasses {
		bad("from", "%d distinct (latency, jitter) pairs exceed %d, one delay line each; round latencies (to 1ms, say) so that paths share classes", n, MaxDelayClasses)
	}
	return errors.Join(errs...)
}
