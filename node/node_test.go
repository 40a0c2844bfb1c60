package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// lineBuffer is a Config.Out that tests can read while the node writes.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// events decodes every line written so far; a line that is not an Event is a
// test failure, since the harness parses each one.
func (b *lineBuffer) events(t testing.TB) []Event {
	t.Helper()
	b.mu.Lock()
	data := b.buf.String()
	b.mu.Unlock()
	var out []Event
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		var e Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "event line %q", sc.Text())
		require.NotEmpty(t, e.Event, "event line %q", sc.Text())
		require.False(t, e.Time.IsZero(), "event line %q has no time", sc.Text())
		out = append(out, e)
	}
	return out
}

func (b *lineBuffer) find(t testing.TB, name string) []Event {
	t.Helper()
	var out []Event
	for _, e := range b.events(t) {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// startNode starts a node on random ports and closes it when the test ends.
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := Start(t.Context(), cfg)
	t.Cleanup(func() {
		if n != nil {
			require.NoError(t, n.Close())
		}
	})
	require.NoError(t, err)
	return n
}

// dialAddr is n's loopback address with /p2p/, what another node's -dial takes.
func dialAddr(t testing.TB, n *Node) ma.Multiaddr {
	t.Helper()
	for _, a := range n.Addrs() {
		if strings.HasPrefix(a.String(), "/ip4/127.0.0.1/") {
			addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.ID(), Addrs: []ma.Multiaddr{a}})
			require.NoError(t, err)
			return addrs[0]
		}
	}
	t.Fatalf("node %s has no loopback address in %v", n.ID(), n.Addrs())
	return nil
}

// baseURL reaches the HTTP server bound to 0.0.0.0 through loopback.
func baseURL(t testing.TB, n *Node) string {
	t.Helper()
	_, port, err := net.SplitHostPort(n.MetricsAddr())
	require.NoError(t, err)
	return "http://127.0.0.1:" + port
}

func get(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	return body
}

func peersOf(t testing.TB, n *Node) PeersResponse {
	t.Helper()
	var p PeersResponse
	require.NoError(t, json.Unmarshal(get(t, baseURL(t, n)+"/peers"), &p))
	return p
}

// scrape parses /metrics, with query appended as is (e.g. "?name[]=x").
func scrape(t testing.TB, n *Node, query string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(get(t, baseURL(t, n)+"/metrics"+query)))
	require.NoError(t, err)
	return mfs
}

func gauge(t testing.TB, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "metric %s missing", name)
	require.Len(t, mf.GetMetric(), 1, "metric %s", name)
	return mf.GetMetric()[0].GetGauge().GetValue()
}

func TestTwoNodes(t *testing.T) {
	var outA, outB lineBuffer
	a := startNode(t, Config{Out: &outA})
	b := startNode(t, Config{Out: &outB, Dial: []ma.Multiaddr{dialAddr(t, a)}})

	require.Eventually(t, func() bool {
		pa, pb := peersOf(t, a), peersOf(t, b)
		return slices.Equal(pa.Peers, []string{b.ID().String()}) && slices.Equal(pb.Peers, []string{a.ID().String()})
	}, 10*time.Second, 20*time.Millisecond, "the nodes never saw each other")

	for _, n := range []*Node{a, b} {
		p := peersOf(t, n)
		require.Equal(t, n.ID().String(), p.PeerID)
		require.Equal(t, 1, p.Connections)

		mfs := scrape(t, n, "")
		require.Equal(t, 1.0, gauge(t, mfs, "meshnode_connections"))
		require.Equal(t, 1.0, gauge(t, mfs, "meshnode_peers"))
		require.Contains(t, mfs, "meshnode_streams")
		require.Contains(t, mfs, "go_goroutines")
		require.Contains(t, mfs, "process_resident_memory_bytes")
		require.Contains(t, mfs, "process_open_fds")
		require.Contains(t, mfs, "libp2p_swarm_connections_opened_total", "go-libp2p's own metrics")
		info := mfs["meshnode_info"].GetMetric()[0]
		require.Contains(t, info.GetLabel(), &dto.LabelPair{Name: new("peer_id"), Value: new(n.ID().String())})

		filtered := scrape(t, n, "?name[]=go_goroutines&name[]=meshnode_peers")
		require.Len(t, filtered, 2, "the name[] filter keeps only the families asked for")
		require.Contains(t, filtered, "go_goroutines")
		require.Equal(t, 1.0, gauge(t, filtered, "meshnode_peers"))
		require.Contains(t, scrape(t, n, "?name[]=libp2p_swarm_connections_opened_total"), "libp2p_swarm_connections_opened_total")
		require.Empty(t, scrape(t, n, "?name[]=no_such_metric"))

		require.Equal(t, "ok", string(get(t, baseURL(t, n)+"/healthz")))
	}

	readyA := outA.find(t, EventReady)
	require.Len(t, readyA, 1)
	require.Equal(t, a.ID().String(), readyA[0].PeerID)
	require.Equal(t, "generated", readyA[0].Key)
	require.Equal(t, a.MetricsAddr(), readyA[0].Metrics)
	require.NotEmpty(t, readyA[0].Addrs)
	require.Equal(t, EventReady, outB.events(t)[0].Event, "ready is the first line")

	require.Eventually(t, func() bool {
		in, out := outA.find(t, EventConnected), outB.find(t, EventConnected)
		return len(in) == 1 && in[0].Peer == b.ID().String() && in[0].Direction == "inbound" &&
			len(out) == 1 && out[0].Peer == a.ID().String() && out[0].Direction == "outbound"
	}, 5*time.Second, 10*time.Millisecond, "connected events: A %v, B %v", outA.find(t, EventConnected), outB.find(t, EventConnected))

	// Closing B shows as a disconnect on A, and A does not heal it.
	require.NoError(t, b.Close())
	require.Equal(t, EventShutdown, outB.events(t)[len(outB.events(t))-1].Event, "shutdown is the last line")
	require.Eventually(t, func() bool { return len(outA.find(t, EventDisconnected)) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 0.0, gauge(t, scrape(t, a, ""), "meshnode_connections"))
}

func TestGivenKey(t *testing.T) {
	priv, err := generateKey()
	require.NoError(t, err)
	want, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	var out lineBuffer
	n := startNode(t, Config{Key: priv, Out: &out})
	require.Equal(t, want, n.ID())
	require.Equal(t, "given", out.find(t, EventReady)[0].Key)
}

func TestManyToOne(t *testing.T) {
	const dialers = 30
	hub := startNode(t, Config{})
	target := []ma.Multiaddr{dialAddr(t, hub)}
	for range dialers {
		startNode(t, Config{Dial: target})
	}
	require.Eventually(t, func() bool { return peersOf(t, hub).Connections == dialers },
		20*time.Second, 50*time.Millisecond, "hub holds %d of %d connections", peersOf(t, hub).Connections, dialers)

	// Nothing trims them a moment later either.
	time.Sleep(2 * time.Second)
	p := peersOf(t, hub)
	require.Len(t, p.Peers, dialers)
	require.Equal(t, dialers, p.Connections)
	require.Equal(t, float64(dialers), gauge(t, scrape(t, hub, "?name[]=meshnode_peers"), "meshnode_peers"))
}

func TestDialRetryUntilTargetAppears(t *testing.T) {
	priv, err := generateKey()
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	port := freePort(t)
	target, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, id))
	require.NoError(t, err)

	var out lineBuffer
	b := startNode(t, Config{Out: &out, Dial: []ma.Multiaddr{target}, DialTimeout: 30 * time.Second})
	time.Sleep(500 * time.Millisecond) // B fails a few attempts first
	a := startNode(t, Config{Key: priv, ListenPort: port})

	require.Eventually(t, func() bool { return len(peersOf(t, b).Peers) == 1 }, 10*time.Second, 20*time.Millisecond,
		"B never connected to A after it appeared")
	require.Equal(t, []string{a.ID().String()}, peersOf(t, b).Peers)
	require.Empty(t, out.find(t, EventDialFailed))
}

func TestDialDeadline(t *testing.T) {
	priv, err := generateKey()
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	target, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", freePort(t), id))
	require.NoError(t, err)

	var out lineBuffer
	startNode(t, Config{Out: &out, Dial: []ma.Multiaddr{target}, DialTimeout: 700 * time.Millisecond})
	require.Eventually(t, func() bool { return len(out.find(t, EventDialFailed)) == 1 }, 5*time.Second, 20*time.Millisecond)
	e := out.find(t, EventDialFailed)[0]
	require.Equal(t, target.String(), e.Addr)
	require.NotEmpty(t, e.Error)
	require.Greater(t, e.Attempts, 2, "retried before giving up")
}

func TestCloseIdempotent(t *testing.T) {
	var out lineBuffer
	n, err := Start(t.Context(), Config{Out: &out})
	require.NoError(t, err)
	require.NoError(t, n.Close())
	require.NoError(t, n.Close())
	require.Len(t, out.find(t, EventShutdown), 1)
	_, err = http.Get(baseURL(t, n) + "/healthz")
	require.Error(t, err, "the HTTP server is down after Close")
}

func TestExtraBytesPerConn(t *testing.T) {
	const extra = 1 << 20
	hub, err := Start(t.Context(), Config{ExtraBytesPerConn: extra})
	require.NoError(t, err)
	t.Cleanup(func() { _ = hub.Close() })
	peerNode := startNode(t, Config{Dial: []ma.Multiaddr{dialAddr(t, hub)}})
	require.Eventually(t, func() bool { return hub.ballast.bytes() == extra }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, peerNode.Close())
	require.Eventually(t, func() bool { return hub.ballast.bytes() == 0 }, 5*time.Second, 10*time.Millisecond,
		"released on disconnect")
}

// freePort reserves a TCP port and releases it for a node to take later.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}
