package shape

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table holding every rule of this package, in
// the inet family (input: ingress loss and delay) and the netdev family
// (egress loss). Remove deletes exactly these tables.
const TableName = "meshtest_shape"

// QueueNum is the first NFQUEUE number of the delay lines: each delay class
// has its own, the lowest free from QueueNum up (at most 2·MaxDelayClasses
// while Update replaces classes). Queues are per network namespace, so fixed
// numbers per node are enough; these are unlikely to be in use by anything
// else.
const QueueNum = 0x6d73

// lossModulus is numgen's range: loss has a resolution of 1e-6.
const lossModulus = 1_000_000

// lossExprs drops a packet with probability p: numgen random mod 1e6 < p·1e6.
// numgen yields host order and cmp compares bytes, hence the byteorder.
func lossExprs(p float64) []expr.Any {
	thr := uint32(math.Round(p * lossModulus))
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(thr)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// nfqueueExprs sends a packet to NFQUEUE num. This kernel family may lack
// the native nft queue expression (CONFIG_NFT_QUEUE), so the rule uses the
// xtables NFQUEUE target through nft_compat, as iptables-nft does. Without
// the bypass flag a packet finding no listener is dropped: a node whose
// delay line died is cut off, never silently unshaped.
func nfqueueExprs(num uint16) []expr.Any {
	// struct xt_NFQ_info_v3 { u16 queuenum, queues_total, flags; }, XT_ALIGNed to 8.
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1)
	u := xt.Unknown(info)
	return []expr.Any{
		&expr.Counter{},
		&expr.Target{Name: "NFQUEUE", Rev: 3, Info: &u},
	}
}

// nftContent is the nftables part of Rules on one interface: EgressLoss on
// the netdev egress hook, the From rules on the inet input hook.
type nftContent struct {
	iface      string
	ifindex    int
	egressLoss float64
	from       fromPlan
	queues     []uint16 // the NFQUEUE of each of from.classes
}

// nftTables is which tables named TableName a Shaper has in place, each
// with its one base chain.
//
// A base chain is not deleted while a delay line may hold packets: deleting
// it unregisters its hook, and the kernel then drops every packet queued in
// the network namespace (nf_queue_nf_hook_drop), whatever the queue. So
// Update swaps the rules inside the chains, and a chain the new rules do
// not need stays, empty, until no delay line is left (prune).
type nftTables struct{ inet, netdev bool }

func inetTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
}

func netdevTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyNetdev, Name: TableName}
}

// swap replaces the rules of the base chains with c's in one netlink
// transaction, so every packet meets either the old rules or the new, never
// none; a chain c needs that is missing is created in the same transaction.
func (st *nftTables) swap(c nftContent) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	prio := nftables.ChainPriority(0)
	netdev, inet := netdevTable(), inetTable()
	// The netdev egress hook sees packets as they leave the device, after
	// routing, like a lossy wire; dropping at the output hook instead would
	// report the drop to the local sender.
	egress := &nftables.Chain{Name: "egress", Table: netdev, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookEgress, Priority: &prio, Device: c.iface}
	// The input hook sees what is delivered to this node, after the IFB rate
	// limit.
	input := &nftables.Chain{Name: "input", Table: inet, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: &prio}
	needNetdev, needInet := c.egressLoss > 0, !c.from.empty()
	for _, x := range []struct {
		have, need bool
		ch         *nftables.Chain
	}{{st.netdev, needNetdev, egress}, {st.inet, needInet, input}} {
		switch {
		case x.have:
			conn.FlushChain(x.ch)
		case x.need:
			conn.AddTable(x.ch.Table)
			conn.AddChain(x.ch)
		}
	}
	if needNetdev {
		conn.AddRule(&nftables.Rule{Table: netdev, Chain: egress, Exprs: lossExprs(c.egressLoss)})
	}
	if needInet {
		// Cuts and loss come first so that dropped packets never wait; a
		// queue verdict ends the chain for the packet.
		t, ch := inet, input
		rule := func(e ...[]expr.Any) {
			conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: slices.Concat(e...)})
		}
		// Anything not arriving on the interface (loopback, other devices)
		// leaves this table untouched.
		rule([]expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIF, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(c.ifindex))},
			&expr.Verdict{Kind: expr.VerdictAccept},
		})
		var errs []error
		from := func(src []netip.Addr) []expr.Any {
			e, err := saddrIn(conn, t, src)
			errs = append(errs, err)
			return e
		}
		drop := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
		accept := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
		if p := c.from; len(p.cut) > 0 {
			rule(from(p.cut), drop)
		}
		for _, g := range c.from.loss {
			rule(from(g.src), lossExprs(g.p))
		}
		for i, cl := range c.from.classes {
			if len(cl.src) > 0 {
				rule(from(cl.src), nfqueueExprs(c.queues[i]))
			}
		}
		if r := c.from.rest; r != nil && !r.isZero() {
			if len(c.from.named) > 0 {
				rule(from(c.from.named), accept) // named by a rule: done above
			}
			if r.cut {
				rule(drop)
			}
			if r.loss > 0 {
				rule(lossExprs(r.loss))
			}
			if r.class >= 0 {
				rule(nfqueueExprs(c.queues[r.class]))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: replace the rules of table %s: %w", TableName, err)
	}
	st.netdev = st.netdev || needNetdev
	st.inet = st.inet || needInet
	return nil
}

// prune deletes the tables c does not need. Call it only when no delay line
// holds a packet (see nftTables).
func (st *nftTables) prune(c nftContent) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	netdev, inet := st.netdev && c.egressLoss == 0, st.inet && c.from.empty()
	if netdev {
		conn.DelTable(netdevTable())
	}
	if inet {
		conn.DelTable(inetTable())
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: delete unused table %s: %w", TableName, err)
	}
	st.netdev = st.netdev && !netdev
	st.inet = st.inet && !inet
	return nil
}

// saddrIn matches IPv4 packets whose source is in src, an anonymous
// constant set added to t in the same transaction: one lookup per packet
// however many sources, where a rule per address would be a linear scan.
func saddrIn(conn *nftables.Conn, t *nftables.Table, src []netip.Addr) ([]expr.Any, error) {
	set := &nftables.Set{Table: t, Anonymous: true, Constant: true, KeyType: nftables.TypeIPAddr}
	elems := make([]nftables.SetElement, len(src))
	for i, a := range src {
		b := a.As4()
		elems[i] = nftables.SetElement{Key: b[:]}
	}
	if err := conn.AddSet(set, elems); err != nil {
		return nil, fmt.Errorf("nftables: source set: %w", err)
	}
	return []expr.Any{
		// The inet family sees IPv6 too, whose header has no IPv4 source.
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
	}, nil
}

// delNFT deletes the tables named TableName, and nothing else.
func delNFT(c *nftables.Conn) error {
	var errs []error
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyNetdev} {
		ts, err := c.ListTablesOfFamily(fam)
		if err != nil {
			errs = append(errs, fmt.Errorf("nftables: list tables: %w", err))
			continue
		}
		for _, t := range ts {
			if t.Name == TableName {
				c.DelTable(t)
			}
		}
	}
	if err := c.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("nftables: delete table %s: %w", TableName, err))
	}
	return errors.Join(errs...)
}
