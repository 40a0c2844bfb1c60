package shape

import (
	"net/netip"
	"time"
)

// delayKey is a delay class: every source whose packets wait Latency±Jitter
// shares one delay line.
type delayKey struct{ Latency, Jitter time.Duration }

// fromPlan is Rules.From compiled for the input hook. Each source named by
// a rule belongs to the first rule that names it, so the sets below are
// disjoint and their order no longer matters: cut, then loss, then delay.
type fromPlan struct {
	cut     []netip.Addr // Loss 1
	loss    []lossGroup  // 0 < Loss < 1, grouped by probability
	classes []delayClass // Latency > 0 and Loss < 1, grouped by class
	// named is every source some rule names. It is set only when a rule
	// for every source (rest) follows, which must not touch them.
	named []netip.Addr
	rest  *restPlan
}

// lossGroup is the sources dropped with probability p.
type lossGroup struct {
	p   float64
	src []netip.Addr
}

// delayClass is the sources delayed by key; rest is set when the rule for
// every other source is delayed by the same class, and so shares its line.
type delayClass struct {
	key  delayKey
	src  []netip.Addr
	rest bool
}

// restPlan is the rule with an empty Src: it conditions every packet from a
// source no other rule names, IPv4 or not.
type restPlan struct {
	cut   bool
	loss  float64 // 0 < loss < 1, or 0
	class int     // index in classes, or -1
}

// compileFrom resolves rules into disjoint sets, in the order of the rules
// (the first rule naming a source wins, as Rules documents). It assumes
// valid rules; IPv4-mapped IPv6 addresses are unmapped.
func compileFrom(rules []PathRule) fromPlan {
	var p fromPlan
	seen := map[netip.Addr]bool{}
	classOf := map[delayKey]int{}
	lossOf := map[float64]int{}
	class := func(k delayKey) int {
		i, ok := classOf[k]
		if !ok {
			i = len(p.classes)
			classOf[k] = i
			p.classes = append(p.classes, delayClass{key: k})
		}
		return i
	}
	for _, r := range rules {
		k := delayKey{r.Latency, r.Jitter}
		if len(r.Src) == 0 {
			rest := &restPlan{class: -1}
			switch {
			case r.Loss >= 1:
				rest.cut = true
			default:
				rest.loss = r.Loss
				if r.Latency > 0 {
					rest.class = class(k)
					p.classes[rest.class].rest = true
				}
			}
			p.rest = rest
			break // Validate keeps it last; anything after it never applies
		}
		var src []netip.Addr
		for _, a := range r.Src {
			a = a.Unmap()
			if !seen[a] {
				seen[a] = true
				src = append(src, a)
			}
		}
		if len(src) == 0 {
			continue
		}
		p.named = append(p.named, src...)
		switch {
		case r.Loss >= 1:
			p.cut = append(p.cut, src...)
			continue // a cut path delays nothing
		case r.Loss > 0:
			i, ok := lossOf[r.Loss]
			if !ok {
				i = len(p.loss)
				lossOf[r.Loss] = i
				p.loss = append(p.loss, lossGroup{p: r.Loss})
			}
			p.loss[i].src = append(p.loss[i].src, src...)
		}
		if r.Latency > 0 {
			i := class(k)
			p.classes[i].src = append(p.classes[i].src, src...)
		}
	}
	if p.rest == nil {
		p.named = nil
	}
	return p
}

// empty reports whether the plan conditions nothing.
func (p fromPlan) empty() bool {
	return len(p.cut) == 0 && len(p.loss) == 0 && len(p.classes) == 0 && (p.rest == nil || p.rest.isZero())
}

func (r *restPlan) isZero() bool { return !r.cut && r.loss == 0 && r.class < 0 }

// htbPlan is the classes of one HTB tree: a parent at the uplink rate, a
// default class for unlisted destinations, and a class per To rule.
type htbPlan struct {
	parent   int64
	dflt     htbRate
	children []htbChild
}

type htbRate struct{ rate, ceil int64 }

type htbChild struct {
	htbRate
	dst []netip.Addr
}

// planHTB shares the uplink among the To rules. HTB lets a class send at
// its rate whatever its parent has left, so children whose rates summed
// above the uplink would exceed it: each class is guaranteed an equal share
// of the uplink (or its own rate, if lower) and borrows up to its ceil, its
// rule's rate. Alone on the link a class so reaches its ceil, and the sum
// of all never exceeds the uplink. uplink 0 is MaxRate.
func planHTB(uplink int64, to []RateRule) htbPlan {
	if uplink == 0 {
		uplink = MaxRate
	}
	share := max(uplink/int64(len(to)+1), MinRate)
	p := htbPlan{parent: uplink, dflt: htbRate{rate: min(share, uplink), ceil: uplink}}
	for _, r := range to {
		ceil := min(r.Rate, uplink)
		dst := make([]netip.Addr, len(r.Dst))
		for i, a := range r.Dst {
			dst[i] = a.Unmap()
		}
		p.children = append(p.children, htbChild{htbRate{rate: min(ceil, share), ceil: ceil}, dst})
	}
	return p
}
