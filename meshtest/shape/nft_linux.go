package shape

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

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

// QueueNum is the NFQUEUE number of the delay line. Queues are per network
// namespace, so one fixed number per node is enough; this one is unlikely to
// be in use by anything else.
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

// iifExprs matches packets that arrived on interface index idx.
func iifExprs(idx int) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIF, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(idx))},
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

// nftPlan is the nftables part of a shape on one interface.
type nftPlan struct {
	iface       string
	ifindex     int
	egressLoss  float64
	ingressLoss float64
	delay       bool // queue ingress packets to QueueNum
}

func (p nftPlan) empty() bool { return p.egressLoss == 0 && p.ingressLoss == 0 && !p.delay }

// addNFT installs the plan's rules in one transaction.
func addNFT(p nftPlan) error {
	if p.empty() {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	prio := nftables.ChainPriority(0)
	if p.egressLoss > 0 {
		// The netdev egress hook sees packets as they leave the device, after
		// routing, like a lossy wire; dropping at the output hook instead
		// would report the drop to the local sender.
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyNetdev, Name: TableName})
		ch := c.AddChain(&nftables.Chain{Name: "egress", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookEgress, Priority: &prio, Device: p.iface})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: lossExprs(p.egressLoss)})
	}
	if p.ingressLoss > 0 || p.delay {
		// The input hook sees what is delivered to this node, after the IFB
		// rate limit; loss comes first so dropped packets never wait.
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
		ch := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: &prio})
		if p.ingressLoss > 0 {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(iifExprs(p.ifindex), lossExprs(p.ingressLoss)...)})
		}
		if p.delay {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(iifExprs(p.ifindex), nfqueueExprs(QueueNum)...)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add table %s: %w", TableName, err)
	}
	return nil
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
