package shape

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// htbMajor is the handle major of the HTB root qdiscs this package adds
// (0x6d73:, "ms"), so Remove deletes only its own.
const htbMajor = 0x6d73

// ifbName is the IFB device carrying iface's ingress: named by ifindex
// because names are limited to 15 bytes.
func ifbName(l netlink.Link) string { return fmt.Sprintf("mtshape%d", l.Attrs().Index) }

// ErrEgressLatency is returned by Apply for an Egress.Latency or
// Egress.Jitter: see the package documentation.
var ErrEgressLatency = errors.New("egress.latency: not supported: without netem a delay on the sender's output hook collapses TCP " +
	"(TCP Small Queues stops the socket while its packets wait), and the netem path is not built yet; " +
	"set the receiving peer's ingress.latency instead (the delay of A→B is applied at B's input)")

// Shaper is a Shape applied to one interface of the current network
// namespace. The delay line, if any, runs in this process: Close (or the
// process's exit) stops it.
type Shaper struct {
	Iface string
	Shape Shape
	// Mechanism is what delays packets: DelayLine, or "" when the shape
	// adds no delay.
	Mechanism Mechanism

	line      *delayLine
	closeOnce sync.Once
	closeErr  error
}

// Apply shapes iface in the current network namespace: HTB on its egress for
// Egress.Rate, an IFB device with HTB for Ingress.Rate, nftables rules for
// loss, and the delay line for Ingress.Latency and Ingress.Jitter. It first
// removes any shape left on iface (see Remove). On error everything it added
// is removed again and the returned Shaper is nil.
//
// One interface per network namespace is shaped: the nftables table and the
// NFQUEUE number are the namespace's, so a second Apply replaces the first's
// rules. A node has one interface, so this is no limit for meshtest.
func Apply(iface string, s Shape) (*Shaper, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("shape %s: %w", iface, err)
	}
	if s.Egress.Latency != 0 || s.Egress.Jitter != 0 {
		return nil, fmt.Errorf("shape %s: %w", iface, ErrEgressLatency)
	}
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("shape %s: %w", iface, err)
	}
	if err := Remove(iface); err != nil {
		return nil, fmt.Errorf("shape %s: clear previous shape: %w", iface, err)
	}
	sh := &Shaper{Iface: iface, Shape: s}
	if err := sh.apply(l); err != nil {
		return nil, errors.Join(fmt.Errorf("shape %s: %w", iface, err), sh.Close())
	}
	return sh, nil
}

func (sh *Shaper) apply(l netlink.Link) error {
	s := sh.Shape
	if s.Egress.Rate > 0 {
		if err := addHTB(l, s.Egress.Rate); err != nil {
			return fmt.Errorf("egress.rate: %w", err)
		}
	}
	if s.Ingress.Rate > 0 {
		if err := addIngressRate(l, s.Ingress.Rate); err != nil {
			return fmt.Errorf("ingress.rate: %w", err)
		}
	}
	delay := s.Ingress.Latency > 0
	if delay {
		// The listener comes first: a queued packet with no listener is dropped.
		line, err := startDelayLine(QueueNum, s.Ingress.Latency, s.Ingress.Jitter)
		if err != nil {
			return fmt.Errorf("ingress.latency: %w", err)
		}
		sh.line, sh.Mechanism = line, DelayLine
	}
	return addNFT(nftPlan{iface: sh.Iface, ifindex: l.Attrs().Index,
		egressLoss: s.Egress.Loss, ingressLoss: s.Ingress.Loss, delay: delay})
}

// addHTB puts HTB root 6d73: with one default class at rate (= ceil) on l.
func addHTB(l netlink.Link, rate int64) error {
	idx := l.Attrs().Index
	q := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(htbMajor, 0), Parent: netlink.HANDLE_ROOT})
	q.Defcls = 1
	if err := netlink.QdiscReplace(q); err != nil {
		return fmt.Errorf("htb root on %s: %w", l.Attrs().Name, err)
	}
	c := netlink.NewHtbClass(netlink.ClassAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(htbMajor, 0), Handle: netlink.MakeHandle(htbMajor, 1)},
		netlink.HtbClassAttrs{Rate: uint64(rate), Ceil: uint64(rate)})
	if err := netlink.ClassReplace(c); err != nil {
		return fmt.Errorf("htb class on %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// addIngressRate redirects everything l receives through an IFB device
// (ingress qdisc, u32 match-all, mirred redirect) and rate-limits the IFB's
// egress with HTB: the kernel cannot queue on ingress itself.
func addIngressRate(l netlink.Link, rate int64) error {
	name := ifbName(l)
	if err := netlink.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: 1000}}); err != nil {
		return fmt.Errorf("add ifb %s: %w", name, err)
	}
	ifb, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("ifb %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(ifb); err != nil {
		return fmt.Errorf("set ifb %s up: %w", name, err)
	}
	if err := addHTB(ifb, rate); err != nil {
		return err
	}
	ing := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	if err := netlink.QdiscAdd(ing); err != nil {
		return fmt.Errorf("ingress qdisc on %s: %w", l.Attrs().Name, err)
	}
	// A u32 filter with no selector is one zero key: it matches everything.
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.MakeHandle(0xffff, 0), Priority: 1, Protocol: unix.ETH_P_ALL},
		Actions:     []netlink.Action{netlink.NewMirredAction(ifb.Attrs().Index)},
	}
	if err := netlink.FilterAdd(f); err != nil {
		return fmt.Errorf("redirect %s to %s: %w", l.Attrs().Name, name, err)
	}
	return nil
}

// Stats returns the delay line's counters, zero if the shape adds no delay.
func (sh *Shaper) Stats() DelayStats {
	if sh.line == nil {
		return DelayStats{}
	}
	return sh.line.Stats()
}

// Close removes the shape. The nftables rules go first, so no new packet
// enters the delay line; the packets it holds are then released at their due
// time (Close waits up to Ingress.Latency+Ingress.Jitter), not dropped; then
// the qdiscs and the IFB device go. Close is idempotent.
func (sh *Shaper) Close() error {
	sh.closeOnce.Do(func() {
		var errs []error
		if c, err := nftables.New(); err != nil {
			errs = append(errs, fmt.Errorf("nftables: %w", err))
		} else if err := delNFT(c); err != nil {
			errs = append(errs, err)
		}
		if sh.line != nil {
			if err := sh.line.Close(); err != nil {
				errs = append(errs, fmt.Errorf("stop delay line: %w", err))
			}
		}
		if err := Remove(sh.Iface); err != nil {
			errs = append(errs, err)
		}
		sh.closeErr = errors.Join(errs...)
	})
	return sh.closeErr
}

// Remove deletes every trace of this package from iface in the current
// network namespace, and nothing else: the nftables tables named TableName,
// an HTB root qdisc with handle 6d73:, and the IFB device mtshape<ifindex>
// with the ingress qdisc that feeds it. It is what a helper runs after a
// crash, and it is a no-op on an unshaped interface. A delay line still
// running in this process loses its feed; its held packets are dropped when
// it closes.
func Remove(iface string) error {
	var errs []error
	if c, err := nftables.New(); err != nil {
		errs = append(errs, fmt.Errorf("nftables: %w", err))
	} else if err := delNFT(c); err != nil {
		errs = append(errs, err)
	}
	l, err := netlink.LinkByName(iface)
	if err != nil {
		errs = append(errs, fmt.Errorf("remove shape from %s: %w", iface, err))
		return errors.Join(errs...)
	}
	if err := delHTB(l); err != nil {
		errs = append(errs, err)
	}
	if ifb, err := netlink.LinkByName(ifbName(l)); err == nil {
		qs, err := netlink.QdiscList(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("list qdiscs of %s: %w", iface, err))
		}
		for _, q := range qs {
			if q.Attrs().Parent == netlink.HANDLE_INGRESS && q.Type() == "ingress" {
				if err := netlink.QdiscDel(q); err != nil {
					errs = append(errs, fmt.Errorf("delete ingress qdisc of %s: %w", iface, err))
				}
			}
		}
		if err := netlink.LinkDel(ifb); err != nil {
			errs = append(errs, fmt.Errorf("delete ifb %s: %w", ifb.Attrs().Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove shape from %s: %w", iface, errors.Join(errs...))
	}
	return nil
}

func delHTB(l netlink.Link) error {
	qs, err := netlink.QdiscList(l)
	if err != nil {
		return fmt.Errorf("list qdiscs of %s: %w", l.Attrs().Name, err)
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(htbMajor, 0) && q.Type() == "htb" {
			if err := netlink.QdiscDel(q); err != nil {
				return fmt.Errorf("delete htb root of %s: %w", l.Attrs().Name, err)
			}
		}
	}
	return nil
}
