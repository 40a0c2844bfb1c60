package node

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectedTo reports whether n has a connection to p.
func connectedTo(n *Node, p peer.ID) bool {
	return n.host.Network().Connectedness(p) == network.Connected
}

// connsTo describes n's connections to p, for failure messages.
func connsTo(n *Node, p peer.ID) []string {
	var out []string
	for _, c := range n.host.Network().ConnsToPeer(p) {
		out = append(out, fmt.Sprintf("%s %s->%s", direction(c.Stat().Direction), c.LocalMultiaddr(), c.RemoteMultiaddr()))
	}
	return out
}

func TestRedialAfterRemoteCloses(t *testing.T) {
	var out lineBuffer
	a := startNode(t, Config{})
	target := dialAddr(t, a)
	b := startNode(t, Config{Out: &out, Dial: []ma.Multiaddr{target}, Redial: true})
	require.Eventually(t, func() bool { return connectedTo(a, b.ID()) }, 10*time.Second, 10*time.Millisecond)

	// The target drops B, as a node that restarts or trims would.
	closed := time.Now()
	require.NoError(t, a.host.Network().ClosePeer(b.ID()))
	// Immediate when idle; the bound is room for a CI suite's load under -race.
	reconnected := func() bool { return len(out.find(t, EventConnected)) == 2 && connectedTo(a, b.ID()) }
	if !assert.Eventually(t, reconnected, 10*time.Second, 10*time.Millisecond) {
		// The events as they are now, not as they were when the wait began.
		t.Fatalf("B did not reconnect; its events: %v; its connections to A: %v", out.events(t), connsTo(b, a.ID()))
	}
	t.Logf("reconnected %v after the close", time.Since(closed))

	// One dial, one connection, to the target's address: A listens on every
	// interface and identify told B all of them, but a redial dials only the
	// -dial address (a second connection would be counted by the harness).
	conns := b.host.Network().ConnsToPeer(a.ID())
	require.Len(t, conns, 1, "B's connections to A: %v", connsTo(b, a.ID()))
	transport, _ := ma.SplitLast(target)
	require.Equal(t, transport.String(), conns[0].RemoteMultiaddr().String())

	redials := out.find(t, EventRedial)
	require.Len(t, redials, 1)
	require.Equal(t, a.ID().String(), redials[0].Peer)
	require.Equal(t, target.String(), redials[0].Addr)
	var order []string
	for _, e := range out.events(t) {
		switch e.Event {
		case EventConnected, EventDisconnected, EventRedial:
			order = append(order, e.Event)
		}
	}
	require.Equal(t, []string{EventConnected, EventDisconnected, EventRedial, EventConnected}, order)
	require.Equal(t, "outbound", out.find(t, EventConnected)[1].Direction, "B dialed again, A did not")
}

// TestRedialDialsOnlyTheTarget gives B a second address for A, one that
// go-libp2p's dial ranker tries first (IPv6 before IPv4), as identify gives it
// A's other interfaces. The redial must not dial it: dialing every known
// address in parallel is how a redial came to open two connections.
func TestRedialDialsOnlyTheTarget(t *testing.T) {
	decoy, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { _ = decoy.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := decoy.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()

	var out lineBuffer
	a := startNode(t, Config{})
	b := startNode(t, Config{Out: &out, Dial: []ma.Multiaddr{dialAddr(t, a)}, Redial: true})
	require.Eventually(t, func() bool { return connectedTo(a, b.ID()) }, 10*time.Second, 10*time.Millisecond)
	decoyAddr, err := manet.FromNetAddr(decoy.Addr())
	require.NoError(t, err)
	b.host.Peerstore().AddAddr(a.ID(), decoyAddr, time.Hour)

	require.NoError(t, a.host.Network().ClosePeer(b.ID()))
	reconnected := func() bool { return len(out.find(t, EventConnected)) == 2 && connectedTo(a, b.ID()) }
	if !assert.Eventually(t, reconnected, 10*time.Second, 10*time.Millisecond) {
		t.Fatalf("B did not reconnect; its events: %v", out.events(t))
	}
	require.Zero(t, accepted.Load(), "the redial dialed an address that is not the -dial target")
	require.Len(t, b.host.Network().ConnsToPeer(a.ID()), 1, "B's connections to A: %v", connsTo(b, a.ID()))
}

func TestRedialAfterTargetRestarts(t *testing.T) {
	priv, err := generateKey()
	require.NoError(t, err)
	port := freePort(t)
	a, err := Start(t.Context(), Config{Key: priv, ListenPort: port})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() }) // closed below; Close is idempotent
	target, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, a.ID()))
	require.NoError(t, err)

	// A -dial-timeout shorter than the outage: redials have no deadline. It
	// must still cover B's first dial (connect, handshake, identify), which
	// took over 300 ms about 1 in 40 runs under -race on 2 busy cores.
	var out lineBuffer
	b := startNode(t, Config{Out: &out, Dial: []ma.Multiaddr{target}, DialTimeout: time.Second, Redial: true})
	require.Eventually(t, func() bool { return connectedTo(b, a.ID()) }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, a.Close())
	require.Eventually(t, func() bool { return len(out.find(t, EventRedial)) == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(2500 * time.Millisecond) // B keeps failing while A is gone, past -dial-timeout
	require.False(t, connectedTo(b, a.ID()))

	back := startNode(t, Config{Key: priv, ListenPort: port})
	restarted := time.Now()
	// The backoff is at most 2 s by now, plus jitter below it and the dial;
	// the rest of the bound is room for a loaded machine.
	require.Eventually(t, func() bool { return connectedTo(b, back.ID()) }, 10*time.Second, 10*time.Millisecond,
		"B did not reconnect to the restarted target")
	t.Logf("reconnected %v after the target came back", time.Since(restarted))
	require.Empty(t, out.find(t, EventDialFailed), "a redial never gives up")
}

func TestNoRedial(t *testing.T) {
	tests := []struct {
		name   string
		target Config // the node that is dialed and closes the connection
		dialer Config // its Dial is filled in
	}{
		{name: "without -redial", target: Config{}, dialer: Config{}},
		// -redial on the node that was dialed: a peer that dialed us is
		// not ours to redial.
		{name: "inbound peer", target: Config{Redial: true}, dialer: Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var outA, outB lineBuffer
			tt.target.Out, tt.dialer.Out = &outA, &outB
			a := startNode(t, tt.target)
			tt.dialer.Dial = []ma.Multiaddr{dialAddr(t, a)}
			b := startNode(t, tt.dialer)
			require.Eventually(t, func() bool { return connectedTo(a, b.ID()) }, 10*time.Second, 10*time.Millisecond)

			require.NoError(t, a.host.Network().ClosePeer(b.ID()))
			require.Eventually(t, func() bool { return len(outB.find(t, EventDisconnected)) == 1 }, 5*time.Second, 10*time.Millisecond)
			// A redial would start at once and retry every 50 ms at first.
			time.Sleep(time.Second)
			require.False(t, connectedTo(a, b.ID()))
			require.False(t, connectedTo(b, a.ID()))
			for _, out := range []*lineBuffer{&outA, &outB} {
				require.Len(t, out.find(t, EventConnected), 1)
				require.Empty(t, out.find(t, EventRedial))
			}
		})
	}
}
