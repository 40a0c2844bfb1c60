package node

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Retry bounds. Peers and their bootstrap start together, so the first
// attempts usually hit a port nobody listens on yet: start fast, and cap the
// wait so a late target is found within ~2 s of appearing.
const (
	dialBackoffMin = 50 * time.Millisecond
	dialBackoffMax = 2 * time.Second
)

// dialUntil connects to target once, retrying with exponential backoff and
// jitter until it succeeds, ctx ends, or deadline passes (then it reports
// dial_failed). It never redials after a later disconnect: a lost connection
// must show as drift to the harness, not be healed here.
func (n *Node) dialUntil(ctx context.Context, target ma.Multiaddr, deadline time.Time) {
	info, err := peer.AddrInfoFromP2pAddr(target) // validated by Config.validate
	if err != nil {
		n.dialFailed(ctx, target, err, 0)
		return
	}
	attemptCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// The swarm remembers failed dials and refuses to retry a peer for
	// seconds to minutes (ErrDialBackoff); this loop is the backoff, so skip it.
	attemptCtx = network.WithForceDirectDial(attemptCtx, "meshnode retry")

	wait := dialBackoffMin
	for attempt := 1; ; attempt++ {
		if n.host.Network().Connectedness(info.ID) == network.Connected {
			return // the target dialed us first
		}
		err := n.host.Connect(attemptCtx, *info)
		if err == nil {
			return
		}
		// Jitter in [wait/2, wait): a hundred peers retrying one
		// bootstrap should not arrive in lockstep.
		sleep := wait/2 + rand.N(wait/2)
		wait = min(2*wait, dialBackoffMax)
		select { // the deadline ends the wait, so the report comes when it passes
		case <-time.After(sleep):
		case <-attemptCtx.Done():
			n.dialFailed(ctx, target, err, attempt)
			return
		}
	}
}

// dialFailed reports a target given up on, unless the node is closing (ctx
// done): a shutdown is not a failure.
func (n *Node) dialFailed(ctx context.Context, target ma.Multiaddr, err error, attempts int) {
	if ctx.Err() != nil {
		return
	}
	n.events.emit(Event{Event: EventDialFailed, Addr: target.String(), Error: err.Error(), Attempts: attempts})
}
