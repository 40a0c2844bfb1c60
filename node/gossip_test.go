package node

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// gossipRing starts n nodes on topic, node i dialing node i-1 and the first
// dialing nobody; with ring the last node also dials node 0, closing it.
func gossipRing(t *testing.T, n int, ring bool, cfg Config) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	for i := range nodes {
		c := cfg
		if i > 0 {
			c.Dial = []ma.Multiaddr{dialAddr(t, nodes[i-1])}
		}
		if ring && i == n-1 {
			c.Dial = append(c.Dial, dialAddr(t, nodes[0]))
		}
		nodes[i] = startNode(t, c)
	}
	want := map[int]int{}
	for i := range nodes {
		want[i] = 2
		if !ring && (i == 0 || i == n-1) {
			want[i] = 1
		}
	}
	require.Eventually(t, func() bool {
		for i, nd := range nodes {
			if len(peersOf(t, nd).Peers) != want[i] {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the ring never connected")
	return nodes
}

// counter sums the values of the counter family name whose labels include want.
func counter(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	for _, m := range mfs[name].GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			ok = ok && found
		}
		if ok {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func publish(t testing.TB, n *Node, body string) PublishResponse {
	t.Helper()
	resp, err := http.Post(baseURL(t, n)+"/publish", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out PublishResponse
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &out), "POST /publish: %s", raw)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST /publish %s: %s", body, raw)
	return out
}

func gossipRecords(t testing.TB, n *Node) map[string]GossipRecord {
	t.Helper()
	out := map[string]GossipRecord{}
	sc := bufio.NewScanner(bytes.NewReader(get(t, baseURL(t, n)+"/gossip/records")))
	for sc.Scan() {
		var r GossipRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "record line %q", sc.Text())
		out[r.ID] = r
	}
	return out
}

func TestGossipReachesEveryNode(t *testing.T) {
	// A ring of 4: node 0's message reaches node 2 both ways round, so at
	// least one copy per message is a duplicate somewhere. 100 bytes is
	// below IDONTWANT's 1 KiB threshold, so nothing suppresses it.
	nodes := gossipRing(t, 4, true, Config{GossipTopic: "meshtest"})

	// Each edge is grafted by one end or both (a node grafted by a peer
	// adds it to its mesh without a GRAFT back), so every node sees one.
	require.Eventually(t, func() bool {
		var sent, received float64
		for _, nd := range nodes {
			mfs := scrape(t, nd, "?name[]=meshnode_gossip_control_total")
			s := counter(mfs, "meshnode_gossip_control_total", map[string]string{"type": "graft", "direction": "sent"})
			r := counter(mfs, "meshnode_gossip_control_total", map[string]string{"type": "graft", "direction": "received"})
			if s+r < 1 {
				return false
			}
			sent, received = sent+s, received+r
		}
		return sent >= 4 && received >= 4 // one per edge at least
	}, 15*time.Second, 50*time.Millisecond, "GRAFTs missing on some node or edge")
	// With 2 topic peers each, below D = 6, every node meshes with both.
	require.Eventually(t, func() bool {
		for _, nd := range nodes {
			if gauge(t, scrape(t, nd, "?name[]=meshnode_gossip_mesh_peers"), "meshnode_gossip_mesh_peers") != 2 {
				return false
			}
		}
		return true
	}, 15*time.Second, 50*time.Millisecond, "a node's mesh is not both its neighbours")

	var pubs []PublishResponse
	for range 5 {
		pubs = append(pubs, publish(t, nodes[0], `{"size": 100}`))
	}
	pubs = append(pubs, publish(t, nodes[0], `{"data": "hello"}`))

	var recs []map[string]GossipRecord
	require.Eventually(t, func() bool {
		recs = recs[:0]
		for i, nd := range nodes {
			r := gossipRecords(t, nd)
			for _, p := range pubs {
				if i > 0 && r[p.ID].FirstDeliveryNS == 0 {
					return false
				}
			}
			recs = append(recs, r)
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "a message never reached every node")

	// Duplicates trail the first copy: give the second way round a moment.
	time.Sleep(200 * time.Millisecond)
	recs = recs[:0]
	for _, nd := range nodes {
		recs = append(recs, gossipRecords(t, nd))
	}
	for _, p := range pubs {
		require.Len(t, p.ID, 32, "hex of 16 bytes")
		var dups uint32
		for i, r := range recs {
			rec := r[p.ID]
			if i == 0 {
				require.Equal(t, p.PublishedNS, rec.PublishedNS, "the publisher records its publish time")
				require.Zero(t, rec.FirstDeliveryNS, "pubsub does not trace the delivery of a node's own message")
			} else {
				require.GreaterOrEqual(t, rec.FirstDeliveryNS, p.PublishedNS, "node %d delivered %s before it was published", i, p.ID)
				require.Zero(t, rec.PublishedNS, "node %d did not publish %s", i, p.ID)
			}
			dups += rec.Duplicates
		}
		require.GreaterOrEqual(t, dups, uint32(1), "message %s went both ways round the ring, so some node saw it twice", p.ID)
	}

	// The counters agree with the records.
	var delivered, duplicates float64
	var recordedDups uint32
	for i, nd := range nodes {
		mfs := scrape(t, nd, "")
		delivered += counter(mfs, "meshnode_gossip_delivered_total", nil)
		duplicates += counter(mfs, "meshnode_gossip_duplicates_total", nil)
		for _, r := range recs[i] {
			recordedDups += r.Duplicates
		}
		if i == 0 {
			require.Equal(t, float64(len(pubs)), counter(mfs, "meshnode_gossip_published_total", nil))
		} else {
			require.Equal(t, uint64(len(pubs)), mfs["meshnode_gossip_delivery_delay_seconds"].GetMetric()[0].GetHistogram().GetSampleCount())
		}
		require.Positive(t, counter(mfs, "meshnode_gossip_control_bytes_total", map[string]string{"direction": "sent"}))
	}
	require.Equal(t, float64(len(pubs)*(len(nodes)-1)), delivered, "every node but the publisher")
	require.GreaterOrEqual(t, duplicates, float64(recordedDups), "records count what the counters count")
}

func TestGossipRate(t *testing.T) {
	a, b := connectedPair(t, Config{GossipTopic: "rate"}, Config{GossipTopic: "rate", GossipRate: 50, GossipSize: 64})
	require.Eventually(t, func() bool {
		return counter(scrape(t, a, ""), "meshnode_gossip_delivered_total", nil) >= 10
	}, 10*time.Second, 50*time.Millisecond, "A did not receive B's messages")
	published := counter(scrape(t, b, ""), "meshnode_gossip_published_total", nil)
	require.GreaterOrEqual(t, published, 10.0)
	require.Zero(t, counter(scrape(t, a, ""), "meshnode_gossip_published_total", nil), "A has no -gossip-rate")
}

func TestPublishErrors(t *testing.T) {
	n := startNode(t, Config{GossipTopic: "t"})
	for _, tc := range []struct{ body, want string }{
		{`{"size": -1}`, "size -1"},
		{`{"size": 2000000}`, "size 2000000"},
		{`{"bytes": 10}`, "unknown field"},
		{`not json`, "expected {"},
	} {
		resp, err := http.Post(baseURL(t, n)+"/publish", "application/json", strings.NewReader(tc.body))
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", tc.body, raw)
		require.Contains(t, string(raw), tc.want, tc.body)
	}
	// A size smaller than the header is raised to it: the header is never cut.
	p := publish(t, n, `{"size": 1}`)
	require.NotEmpty(t, p.ID)
}

func TestGossipOffByDefault(t *testing.T) {
	n := startNode(t, Config{})
	for _, ep := range []struct{ method, path string }{{"POST", "/publish"}, {"GET", "/gossip/records"}} {
		req, err := http.NewRequest(ep.method, baseURL(t, n)+ep.path, strings.NewReader(`{"size": 100}`))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, ep.path)
		require.Contains(t, string(raw), "-gossip-topic", ep.path)
	}
	for name := range scrape(t, n, "") {
		require.False(t, strings.HasPrefix(name, "meshnode_gossip_"), "family %s without -gossip-topic", name)
	}
	for _, p := range n.host.Mux().Protocols() {
		require.NotContains(t, string(p), "meshsub", "pubsub protocol %s registered without -gossip-topic", p)
	}
}

func TestRecordsEvictOldest(t *testing.T) {
	r := newRecords(3)
	for i := range byte(5) {
		r.delivered(msgID{i}, int64(i)+1)
	}
	r.duplicate(msgID{4})
	r.duplicate(msgID{1}) // evicted already: comes back as a record of duplicates only, evicting 2
	var buf bytes.Buffer
	require.NoError(t, r.writeJSONLines(&buf))
	var ids []string
	var last GossipRecord
	for line := range strings.Lines(buf.String()) {
		require.NoError(t, json.Unmarshal([]byte(line), &last))
		ids = append(ids, last.ID[:2])
	}
	require.Equal(t, []string{"03", "04", "01"}, ids, "oldest first, at most 3")
	require.Equal(t, GossipRecord{ID: hex.EncodeToString((&msgID{1})[:]), Duplicates: 1}, last)
}

// BenchmarkGossipRecord is the cost the tracer adds per delivered message
// once the record map is full and evicting: header parse, map update,
// counters and the delay histogram.
func BenchmarkGossipRecord(b *testing.B) {
	tr := &tracer{rec: newRecords(maxGossipRecords), m: newGossipMetrics(prometheus.NewRegistry()), now: time.Now}
	msgs := make([]*pubsub.Message, 1<<17)
	for i := range msgs {
		data := make([]byte, gossipHeaderSize)
		data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
		msgs[i] = &pubsub.Message{Message: &pb.Message{Data: data}}
	}
	for _, m := range msgs { // fill to the bound, so the loop measures steady state
		tr.DeliverMessage(m)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := msgs[i%len(msgs)]
		m.Data[3]++ // a new ID each time
		tr.DeliverMessage(m)
		i++
	}
}

// TestGossipMeshPeersLeave: a peer that goes away leaves the mesh gauge,
// though gossipsub traces no Prune for it.
func TestGossipMeshPeersLeave(t *testing.T) {
	nodes := gossipRing(t, 3, true, Config{GossipTopic: "meshtest"})
	meshOf := func(nd *Node) float64 {
		return gauge(t, scrape(t, nd, "?name[]=meshnode_gossip_mesh_peers"), "meshnode_gossip_mesh_peers")
	}
	require.Eventually(t, func() bool { return meshOf(nodes[0]) == 2 && meshOf(nodes[1]) == 2 },
		15*time.Second, 50*time.Millisecond, "both neighbours in the mesh")
	require.NoError(t, nodes[2].Close())
	require.Eventually(t, func() bool { return meshOf(nodes[0]) == 1 && meshOf(nodes[1]) == 1 },
		15*time.Second, 50*time.Millisecond, "the closed node left both meshes")
}
