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

// dialTarget connects to target (dialUntil) and, when lost is not nil
// (-redial), dials it again each time its last connection closes, until ctx
// ends. Without -redial a lost connection stays lost: drift must be visible to
// the harness, not healed by the node.
//
// Redials have no deadline. A partition lasts as long as the experiment
// wants, and a node that gave up during it would never heal; the node's own
// close (or ctx) is the end.
func (n *Node) dialTarget(ctx context.Context, target ma.Multiaddr, deadline time.Time, lost <-chan struct{}) {
	info, err := peer.AddrInfoFromP2pAddr(target) // validated by Config.validate
	if err != nil {
		n.dialFailed(ctx, target, err, 0)
		return
	}
	for {
		if !n.dialUntil(ctx, target, *info, deadline) || lost == nil {
			return
		}
		// A signal on lost says the last connection to the target closed,
		// and comes after its disconnected line. Waiting for it, not for
		// Connectedness to drop, keeps the redial line after that one: the
		// swarm forgets a connection before it notifies, and a target that
		// closes while our Connect still waits for identify has us see
		// Connectedness fall before the notifiee writes the loss. A signal
		// left over from an earlier loss only costs one more look.
		for {
			select {
			case <-lost:
			case <-ctx.Done():
				return
			}
			if n.host.Network().Connectedness(info.ID) != network.Connected {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
		n.events.emit(Event{Event: EventRedial, Peer: info.ID.String(), Addr: target.String()})
		deadline = time.Time{}
	}
}

// dialUntil connects to the target once, retrying with exponential backoff
// and jitter until it succeeds, ctx ends, or deadline passes (then it reports
// dial_failed); a zero deadline retries until ctx ends. It reports whether
// the node is connected to the target.
func (n *Node) dialUntil(ctx context.Context, target ma.Multiaddr, info peer.AddrInfo, deadline time.Time) bool {
	var attemptCtx context.Context
	var cancel context.CancelFunc
	if deadline.IsZero() {
		attemptCtx, cancel = context.WithCancel(ctx)
	} else {
		attemptCtx, cancel = context.WithDeadline(ctx, deadline)
	}
	defer cancel()
	// The swarm remembers failed dials and refuses to retry a peer for
	// seconds to minutes (ErrDialBackoff); this loop is the backoff, so skip it.
	attemptCtx = network.WithForceDirectDial(attemptCtx, "meshnode retry")

	wait := dialBackoffMin
	for attempt := 1; ; attempt++ {
		if n.host.Network().Connectedness(info.ID) == network.Connected {
			return true // the target dialed us first
		}
		// Dial the target's address and no other. Connect dials every
		// address the peerstore holds for the peer, and after a first
		// connection that is all the target's listen addresses identify
		// reported, kept for a while after the loss. The swarm dials
		// private and other addresses in parallel and keeps every dial
		// that completes, so a redial to a target on several interfaces
		// opened two connections when the machine was slow enough for
		// both to finish (one more than the harness counts), and could
		// heal a partition through an address the experiment did not cut.
		n.host.Peerstore().ClearAddrs(info.ID)
		err := n.host.Connect(attemptCtx, info)
		if err == nil {
			return true
		}
		// Jitter in [wait/2, wait): a hundred peers retrying one
		// bootstrap should not arrive in lockstep.
		sleep := wait/2 + rand.N(wait/2)
		wait = min(2*wait, dialBackoffMax)
		select { // the deadline ends the wait, so the report comes when it passes
		case <-time.After(sleep):
		case <-attemptCtx.Done():
			n.dialFailed(ctx, target, err, attempt)
			return false
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

// lossWatch wakes the dialer of each -dial target whose last connection
// closed (-redial). It is filled before the first dial and never changes
// after, so the notifiee reads it without a lock.
type lossWatch map[peer.ID][]chan struct{}

// watch returns the channel that target's dialer waits on; two targets naming
// the same peer get one channel each.
func (w lossWatch) watch(target ma.Multiaddr) <-chan struct{} {
	info, err := peer.AddrInfoFromP2pAddr(target)
	if err != nil {
		return nil // dialTarget reports it
	}
	ch := make(chan struct{}, 1) // one pending signal is enough: the dialer re-checks
	w[info.ID] = append(w[info.ID], ch)
	return ch
}

// disconnected runs after the disconnected event is written, so a redial
// line never comes before the loss it answers. The swarm has already dropped
// the connection when it notifies, so Connectedness is the state after it.
func (w lossWatch) disconnected(nw network.Network, c network.Conn) {
	chans := w[c.RemotePeer()]
	if len(chans) == 0 || nw.Connectedness(c.RemotePeer()) == network.Connected {
		return
	}
	for _, ch := range chans {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}
