package shape

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// htbMajor is the handle major of the HTB root qdiscs this package adds
// (0x6d73:, "ms"), so Remove deletes only its own.
const htbMajor = 0x6d73

// HTB class minors under root 6d73: the uplink, the default class every
// unlisted destination goes to, and To rule k at htbFirstRule+k.
const (
	htbUplink    = 1
	htbDefault   = 2
	htbFirstRule = 3
)

// ifbName is the IFB device carrying iface's ingress: named by ifindex
// because names are limited to 15 bytes.
func ifbName(l netlink.Link) string { return fmt.Sprintf("mtshape%d", l.Attrs().Index) }

// htbTree is what this package has put on one device: nothing, or an HTB
// root with rules To classes whose u32 filters sit at priority prio.
type htbTree struct {
	on    bool
	rules int
	prio  uint16 // 0: no filters
}

// set makes l's HTB tree the plan p, in place: classes are replaced (a rate
// changes without emptying a queue), new filters are added at a priority
// the old ones do not use and the old ones then deleted, so every packet is
// classified by either the old filters or the new. Classes of rules that
// are gone are deleted last; what they still queued is dropped.
func (h *htbTree) set(l netlink.Link, p htbPlan) error {
	idx, name := l.Attrs().Index, l.Attrs().Name
	root := netlink.MakeHandle(htbMajor, 0)
	if !h.on {
		q := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: root, Parent: netlink.HANDLE_ROOT})
		q.Defcls = htbDefault
		if err := netlink.QdiscReplace(q); err != nil {
			return fmt.Errorf("htb root on %s: %w", name, err)
		}
		h.on = true
	}
	class := func(minor, parent uint32, r htbRate) error {
		c := netlink.NewHtbClass(netlink.ClassAttrs{LinkIndex: idx, Parent: parent, Handle: netlink.MakeHandle(htbMajor, uint16(minor))},
			netlink.HtbClassAttrs{Rate: uint64(r.rate), Ceil: uint64(r.ceil), Quantum: quantum(r.rate),
				Buffer: burst(r.rate), Cbuffer: burst(r.ceil)})
		if err := netlink.ClassReplace(c); err != nil {
			return fmt.Errorf("htb class %x:%x on %s: %w", htbMajor, minor, name, err)
		}
		return nil
	}
	uplink := netlink.MakeHandle(htbMajor, htbUplink)
	if err := class(htbUplink, root, htbRate{p.parent, p.parent}); err != nil {
		return err
	}
	if err := class(htbDefault, uplink, p.dflt); err != nil {
		return err
	}
	for k, c := range p.children {
		if err := class(uint32(htbFirstRule+k), uplink, c.htbRate); err != nil {
			return err
		}
	}
	var prio uint16
	if len(p.children) > 0 {
		prio = 1
		if h.prio == 1 {
			prio = 2
		}
		for k, c := range p.children {
			for _, a := range c.dst {
				if err := netlink.FilterAdd(dstFilter(idx, prio, a.As4(), netlink.MakeHandle(htbMajor, uint16(htbFirstRule+k)))); err != nil {
					return errors.Join(fmt.Errorf("u32 filter for %v on %s: %w", a, name, err), delFilters(idx, prio))
				}
			}
		}
	}
	if h.prio != 0 {
		if err := delFilters(idx, h.prio); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	h.prio = prio
	for k := len(p.children); k < h.rules; k++ {
		c := netlink.NewHtbClass(netlink.ClassAttrs{LinkIndex: idx, Parent: uplink, Handle: netlink.MakeHandle(htbMajor, uint16(htbFirstRule+k))}, netlink.HtbClassAttrs{})
		if err := netlink.ClassDel(c); err != nil {
			return fmt.Errorf("delete htb class %x:%x on %s: %w", htbMajor, htbFirstRule+k, name, err)
		}
	}
	h.rules = len(p.children)
	return nil
}

// quantum is the bytes a class sends per round when it borrows: HTB's
// default, rate/10, clamped to the range the kernel accepts without a
// warning.
func quantum(rate int64) uint32 { return uint32(min(max(rate/8/10, 1600), 200_000)) }

// burst is the bytes a class may send at once after waiting: 10 ms of its
// rate and an MTU. The kernel's default (netlink's too) is a tick of rate
// and an MTU, 1 ms here, and HTB drops the credit beyond it, so on a loaded
// 2-core machine, where the qdisc's watchdog fires late, every late dequeue
// lost time: TestRateProbe measured a 10 Mbit/s link at 8.67 and a 20 at
// 17.5 while a CI suite ran beside it. 10 ms of burst moves a window of
// seconds by well under 1 %.
func burst(rate int64) uint32 { return uint32(min(rate/8/100+1600, math.MaxUint32)) }

// dstFilter sends IPv4 packets to dst into class.
func dstFilter(idx int, prio uint16, dst [4]byte, class uint32) *netlink.U32 {
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(htbMajor, 0), Priority: prio, Protocol: unix.ETH_P_IP},
		ClassId:     class,
		Sel: &nl.TcU32Sel{Flags: nl.TC_U32_TERMINAL, Keys: []nl.TcU32Key{
			{Mask: 0xffffffff, Val: binary.BigEndian.Uint32(dst[:]), Off: 16}, // the IPv4 destination
		}},
	}
}

// delFilters deletes every u32 filter of priority prio under root 6d73:.
func delFilters(idx int, prio uint16) error {
	f := &netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(htbMajor, 0), Priority: prio, Protocol: unix.ETH_P_IP}}
	if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete u32 filters of priority %d: %w", prio, err)
	}
	return nil
}

// setEgress makes l's egress the plan for (rate, to), or removes the tree
// when there is neither.
func (h *htbTree) setEgress(l netlink.Link, rate int64, to []RateRule) error {
	if rate == 0 && len(to) == 0 {
		if !h.on {
			return nil
		}
		*h = htbTree{}
		return delHTB(l)
	}
	return h.set(l, planHTB(rate, to))
}

// ingressIFB is the IFB device that carries l's ingress when IngressRate is
// set: an ingress qdisc on l, a u32 match-all filter and a mirred redirect
// to the IFB, and HTB on the IFB's egress, because the kernel cannot queue
// on ingress itself.
type ingressIFB struct {
	tree htbTree
	ifb  netlink.Link
}

// set limits l's ingress to rate, adding the IFB if it is missing, changing
// its classes in place if not, and removing it for rate 0 (what it still
// queued is dropped).
func (g *ingressIFB) set(l netlink.Link, rate int64) error {
	switch {
	case rate == 0 && g.ifb == nil:
		return nil
	case rate == 0:
		*g = ingressIFB{}
		return removeIFB(l)
	case g.ifb != nil:
		return g.tree.set(g.ifb, planHTB(rate, nil))
	}
	name := ifbName(l)
	if err := netlink.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: 1000}}); err != nil {
		return fmt.Errorf("add ifb %s: %w", name, err)
	}
	ifb, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("ifb %s: %w", name, err)
	}
	g.ifb = ifb // from here on removeIFB undoes it
	if err := netlink.LinkSetUp(ifb); err != nil {
		return fmt.Errorf("set ifb %s up: %w", name, err)
	}
	if err := g.tree.set(ifb, planHTB(rate, nil)); err != nil {
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

// removeIFB deletes l's ingress qdisc and its IFB device, if there is one.
func removeIFB(l netlink.Link) error {
	ifb, err := netlink.LinkByName(ifbName(l))
	if err != nil {
		return nil // no IFB: nothing of ours on ingress
	}
	var errs []error
	qs, err := netlink.QdiscList(l)
	if err != nil {
		errs = append(errs, fmt.Errorf("list qdiscs of %s: %w", l.Attrs().Name, err))
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_INGRESS && q.Type() == "ingress" {
			if err := netlink.QdiscDel(q); err != nil {
				errs = append(errs, fmt.Errorf("delete ingress qdisc of %s: %w", l.Attrs().Name, err))
			}
		}
	}
	if err := netlink.LinkDel(ifb); err != nil {
		errs = append(errs, fmt.Errorf("delete ifb %s: %w", ifb.Attrs().Name, err))
	}
	return errors.Join(errs...)
}

// delHTB deletes l's HTB root 6d73:, and with it its classes and filters.
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
