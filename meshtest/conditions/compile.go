package conditions

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// Compile turns c into the Rules of every node, by name, as shape.Rules
// describes them: the delay, jitter and loss of each path A→B at its
// receiver B, the rates at its sender A.
//
// At B, one PathRule per distinct (latency, jitter, loss) among the paths
// entering B, listing the addresses of the sources with those conditions;
// a path with nothing to delay or drop gets no rule. If cut is not nil and
// cut(A, B) reports true, A→B is cut: its source goes in a PathRule with
// Loss 1, first, which drops data and probes alike. Sources are always
// listed, never the empty Src that matches every source, so that traffic
// from outside the mesh (the host, a monitor) is left alone.
//
// At A, EgressRate is A's uplink rate and IngressRate its downlink rate,
// and every link from A with a rate gets a RateRule of its own, one
// destination each: shape gives each RateRule one HTB class that all its
// destinations share, and a link's rate is per directed link, so grouping
// destinations by rate would have them share it. A cut path keeps its rate
// rule; the cut is applied at the receiver.
//
// Rules, sources and destinations come in a fixed order (cut first, then by
// latency, jitter and loss; rates ascending, then by address; addresses
// ascending), so the same conditions and nodes give the same rules. Every
// node has an entry, the zero Rules where nothing applies. Every entry
// passes shape.Rules.Validate: the links are valid, and Compile refuses
// IPv6 addresses (ValidateFor), more than shape.MaxDelayClasses delay
// classes at a receiver and more than shape.MaxDestinations rated links at
// a sender, rather than call Validate on rules valid by construction (it
// formats a field name per address, most of the cost of Compile at 1000
// nodes). The cost is n² path look-ups of a few word operations each; with
// regions, a receiver has at most one class per region for nodes whose
// uplinks agree.
func (c Conditions) Compile(nodes []Node, cut func(from, to string) bool) (map[string]shape.Rules, error) {
	if err := c.ValidateFor(nodes); err != nil {
		return nil, fmt.Errorf("compile conditions: %w", err)
	}
	net := c.resolve(nodes)
	byAddr := make([]int, len(nodes)) // positions in nodes, by address
	for i := range byAddr {
		byAddr[i] = i
	}
	slices.SortFunc(byAddr, func(a, b int) int { return nodes[a].Addr.Compare(nodes[b].Addr) })

	type class struct {
		latency, jitter time.Duration
		loss            float64
	}
	var (
		out        = make(map[string]shape.Rules, len(nodes))
		classes    = make(map[class]int) // index in from, reset per receiver
		tooLong    int
		firstBad   string
		invalid    []error // the first nodes whose rules shape refuses
		unreported int     // and how many more
	)
	for b, rcv := range nodes {
		r := shape.Rules{EgressRate: net.up[b].Rate, IngressRate: net.down[b].Rate}
		var cutFrom []netip.Addr
		clear(classes)
		for _, a := range byAddr {
			if a == b {
				continue
			}
			src := nodes[a]
			if cut != nil && cut(src.Name, rcv.Name) {
				cutFrom = append(cutFrom, src.Addr)
				continue
			}
			p := net.path(a, b)
			if p.Latency > shape.MaxLatency {
				if tooLong++; tooLong == 1 {
					firstBad = fmt.Sprintf("%s→%s: latency %v (uplink, link and downlink)", src.Name, rcv.Name, p.Latency)
				}
				continue
			}
			k := class{p.Latency, p.Jitter, p.Loss}
			if k == (class{}) {
				continue
			}
			i, ok := classes[k]
			if !ok {
				i = len(r.From)
				classes[k] = i
				r.From = append(r.From, shape.PathRule{Latency: k.latency, Jitter: k.jitter, Loss: k.loss})
			}
			r.From[i].Src = append(r.From[i].Src, src.Addr)
		}
		slices.SortFunc(r.From, func(x, y shape.PathRule) int {
			return cmp.Or(cmp.Compare(x.Latency, y.Latency), cmp.Compare(x.Jitter, y.Jitter), cmp.Compare(x.Loss, y.Loss))
		})
		if len(cutFrom) > 0 {
			r.From = slices.Insert(r.From, 0, shape.PathRule{Src: cutFrom, Loss: 1})
		}

		for _, d := range byAddr {
			if rate := net.link(b, d).Rate; d != b && rate > 0 {
				r.To = append(r.To, shape.RateRule{Dst: []netip.Addr{nodes[d].Addr}, Rate: rate})
			}
		}
		// Stable: equal rates stay in address order.
		slices.SortStableFunc(r.To, func(x, y shape.RateRule) int { return cmp.Compare(x.Rate, y.Rate) })
		if err := bounds(r); err != nil {
			if len(invalid) < maxReported {
				invalid = append(invalid, fmt.Errorf("node %s: %w", rcv.Name, err))
			} else {
				unreported++
			}
		}
		out[rcv.Name] = r
	}
	if tooLong > 0 {
		more := ""
		if tooLong > 1 {
			more = fmt.Sprintf(" (and %d more paths)", tooLong-1)
		}
		return nil, fmt.Errorf("compile conditions: path %s exceeds %v, the longest the delay line holds a packet%s; lower the latencies that add up to it", firstBad, shape.MaxLatency, more)
	}
	if len(invalid) > 0 {
		if unreported > 0 {
			invalid = append(invalid, fmt.Errorf("and %d more nodes", unreported))
		}
		return nil, within("compile conditions: ", errors.Join(invalid...))
	}
	return out, nil
}

// maxReported is how many nodes' refused rules an error lists: in a mesh
// of 1000, one mistake often repeats at every node.
const maxReported = 3

// bounds reports what shape.Rules.Validate would refuse in compiled rules:
// more delay classes than delay lines, more destinations than u32 filters.
func bounds(r shape.Rules) error {
	type delay struct{ latency, jitter time.Duration }
	classes := map[delay]bool{}
	for _, pr := range r.From {
		if pr.Loss < 1 && pr.Latency > 0 {
			classes[delay{pr.Latency, pr.Jitter}] = true
		}
	}
	var errs []error
	if len(classes) > shape.MaxDelayClasses {
		errs = append(errs, fmt.Errorf("%d delay classes (distinct latency and jitter) among its paths in exceed shape's %d, one delay line each; round latencies (to 1ms, say) so that paths share classes", len(classes), shape.MaxDelayClasses))
	}
	if len(r.To) > shape.MaxDestinations {
		errs = append(errs, fmt.Errorf("%d links out with a rate exceed shape's %d, one filter each; give fewer links a rate of their own, or limit the uplink instead", len(r.To), shape.MaxDestinations))
	}
	return errors.Join(errs...)
}
