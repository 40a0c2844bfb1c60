package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/x/rate"
)

// newResourceManager builds a resource manager that refuses nothing unless
// maxConns > 0 asks it to.
//
// go-libp2p v0.51's defaults limit in four places, and an experiment must see
// none of them (a bootstrap was silently trimmed from 237 to ~172 peers):
//
//   - limits: DefaultLimits.AutoScale() scales with memory and FDs; replaced by
//     rcmgr.InfiniteLimits (or only System.Conns = maxConns).
//   - per-IP concurrent connections: 8 per IPv4 /32 and per IPv6 /56, 64 per
//     /48 (conn_limiter.go), loopback exempt — so an in-process test never sees
//     it, but peers behind one NAT or address would. WithLimitPerSubnet with
//     empty (non-nil) slices removes every subnet limit.
//   - network-prefix overrides (loopback unlimited): emptied too, so no address
//     is treated differently from another.
//   - connection rate: a token bucket of burst 16, refill 0.2/s per IPv4 /32
//     (and /56, /48 for IPv6) on every OpenConnection (conn_rate_limiter.go);
//     a zero rate.Limiter allows everything.
func newResourceManager(maxConns int) (network.ResourceManager, error) {
	limits := rcmgr.InfiniteLimits
	if maxConns > 0 {
		limits = rcmgr.PartialLimitConfig{
			System: rcmgr.ResourceLimits{Conns: rcmgr.LimitVal(maxConns)},
		}.Build(rcmgr.InfiniteLimits)
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits),
		rcmgr.WithLimitPerSubnet([]rcmgr.ConnLimitPerSubnet{}, []rcmgr.ConnLimitPerSubnet{}),
		rcmgr.WithNetworkPrefixLimit([]rcmgr.NetworkPrefixLimit{}, []rcmgr.NetworkPrefixLimit{}),
		rcmgr.WithConnRateLimiters(&rate.Limiter{}),
	)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}

// newConnManager returns the connection manager: none that trims (the libp2p
// default trims at 192 down to 160) unless high > 0 asks for the basic one.
func newConnManager(low, high int) (connmgr.ConnManager, error) {
	if high == 0 {
		return &connmgr.NullConnMgr{}, nil
	}
	cm, err := basicconnmgr.NewConnManager(low, high)
	if err != nil {
		return nil, fmt.Errorf("connection manager (low %d, high %d): %w", low, high, err)
	}
	return cm, nil
}
