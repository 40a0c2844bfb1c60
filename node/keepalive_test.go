package node

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/stretchr/testify/require"
)

// yamuxPongTimeout is go-yamux's ConnectionWriteTimeout, how long a keepalive
// ping waits for its pong.
const yamuxPongTimeout = 10 * time.Second

func TestNewMuxer(t *testing.T) {
	defaults := *yamux.DefaultTransport.Config()
	require.Equal(t, 30*time.Second, defaults.KeepAliveInterval, "the documented yamux default")
	require.Equal(t, yamuxPongTimeout, defaults.ConnectionWriteTimeout, "the documented bound")

	require.Same(t, yamux.DefaultTransport, newMuxer(0))
	m := newMuxer(250 * time.Millisecond)
	require.Equal(t, 250*time.Millisecond, m.Config().KeepAliveInterval)
	require.True(t, m.Config().EnableKeepAlive)
	require.Equal(t, defaults.MaxStreamWindowSize, m.Config().MaxStreamWindowSize, "go-libp2p's other settings stay")
	require.Equal(t, defaults, *yamux.DefaultTransport.Config(), "the shared default is not changed")
}

// TestKeepaliveClosesSilentlyCutConnection cuts two connections the same way,
// dropping every byte with no reset, like a partition that drops packets: the
// node with -keepalive closes its connection within keepalive + yamux's pong
// timeout, the one on yamux's 30 s keepalive still holds its dead one then.
func TestKeepaliveClosesSilentlyCutConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for yamux's 10 s pong timeout")
	}
	const keepalive = 300 * time.Millisecond
	a := startNode(t, Config{})
	fastCut, slowCut := newBlackhole(t, a), newBlackhole(t, a)
	var out lineBuffer
	fast := startNode(t, Config{Out: &out, Dial: []ma.Multiaddr{fastCut.addr}, Keepalive: keepalive})
	slow := startNode(t, Config{Dial: []ma.Multiaddr{slowCut.addr}})
	require.Eventually(t, func() bool { return connectedTo(fast, a.ID()) && connectedTo(slow, a.ID()) },
		10*time.Second, 10*time.Millisecond)
	time.Sleep(2 * keepalive) // a few keepalive rounds pass while the path works
	require.True(t, connectedTo(fast, a.ID()), "keepalive closed a working connection")

	cut := time.Now()
	fastCut.cut()
	slowCut.cut()
	bound := keepalive + yamuxPongTimeout
	require.Eventually(t, func() bool { return len(out.find(t, EventDisconnected)) == 1 }, bound+3*time.Second, 20*time.Millisecond,
		"the silently cut connection was not closed within keepalive %v + %v", keepalive, yamuxPongTimeout)
	took := out.find(t, EventDisconnected)[0].Time.Sub(cut)
	t.Logf("closed %v after the cut (keepalive %v)", took, keepalive)
	require.Less(t, took, bound+time.Second)
	require.GreaterOrEqual(t, took, yamuxPongTimeout-time.Second, "closed by something other than the keepalive")
	require.False(t, connectedTo(fast, a.ID()))
	require.True(t, connectedTo(slow, a.ID()), "with yamux's 30 s keepalive the dead connection is still held")
}

// blackhole relays TCP between a dialer and a node until cut; after that it
// keeps both sockets open and reads and discards all that arrives, so writes
// succeed, nothing is answered and nothing is reset.
type blackhole struct {
	addr ma.Multiaddr // the relay's address with the node's /p2p/
	ln   net.Listener
	dead chan struct{}
	once sync.Once

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// newBlackhole starts a relay to node to, closed when the test ends.
func newBlackhole(t testing.TB, to *Node) *blackhole {
	t.Helper()
	nodeAddr, _ := ma.SplitLast(dialAddr(t, to)) // without /p2p/
	upstream, err := manet.ToNetAddr(nodeAddr)
	require.NoError(t, err)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackhole{ln: ln, dead: make(chan struct{})}
	t.Cleanup(b.close)
	laddr, err := manet.FromNetAddr(ln.Addr())
	require.NoError(t, err)
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: to.ID(), Addrs: []ma.Multiaddr{laddr}})
	require.NoError(t, err)
	b.addr = addrs[0]

	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return // closed
			}
			up, err := net.Dial("tcp4", upstream.String())
			if err != nil {
				_ = down.Close()
				continue
			}
			if !b.track(down, up) {
				return
			}
			go b.pipe(up, down)
			go b.pipe(down, up)
		}
	}()
	return b
}

// track keeps the connections for close, or closes them if it already ran.
func (b *blackhole) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	b.conns = append(b.conns, cs...)
	return true
}

// pipe copies src to dst until the cut, then swallows src. Before the cut a
// close is passed on; after it, nobody is told.
func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		select {
		case <-b.dead:
			if err != nil {
				return
			}
			continue
		default:
		}
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				_ = src.Close()
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

func (b *blackhole) cut() { b.once.Do(func() { close(b.dead) }) }

func (b *blackhole) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, c := range b.conns {
		_ = c.Close()
	}
}
