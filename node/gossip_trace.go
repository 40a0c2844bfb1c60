package node

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// gossipHeaderSize is the header every payload the node publishes starts
// with: a 16-byte message ID, then the publish time in unix nanoseconds,
// big-endian.
const gossipHeaderSize = 16 + 8

// maxGossipRecords bounds the per-message records: at 40-odd bytes each plus
// map overhead, 100k of them stay around 10 MB, and a run that publishes more
// keeps the newest.
const maxGossipRecords = 100_000

type msgID [16]byte

// parseHeader reads the header of a payload published by a meshnode; ok is
// false for a payload too short to carry one.
func parseHeader(data []byte) (id msgID, publishedNS int64, ok bool) {
	if len(data) < gossipHeaderSize {
		return id, 0, false
	}
	copy(id[:], data)
	return id, int64(binary.BigEndian.Uint64(data[16:24])), true
}

// GossipRecord is one line of GET /gossip/records: what this node saw of one
// message.
type GossipRecord struct {
	ID              string `json:"id"`                     // hex of the 16-byte message ID
	FirstDeliveryNS int64  `json:"first_delivery_ns"`      // wall clock, unix ns; 0 on the publisher and if only duplicates were seen
	Duplicates      uint32 `json:"duplicates"`             // copies dropped by pubsub as already seen
	PublishedNS     int64  `json:"published_ns,omitempty"` // set only on the node that published it
}

type record struct {
	firstDelivery int64
	published     int64
	duplicates    uint32
}

// records is a bounded map from message ID to record, evicting the oldest
// entry first. Its memory grows with the messages seen, not up front.
type records struct {
	mu    sync.Mutex
	m     map[msgID]*record
	order []msgID // ring of insertion order once full
	next  int     // oldest slot in order once len(order) == max
	max   int
}

func newRecords(max int) *records {
	return &records{m: map[msgID]*record{}, max: max}
}

// get returns the record for id, creating (and evicting for) it if needed.
// The caller holds mu.
func (r *records) get(id msgID) *record {
	if rec, ok := r.m[id]; ok {
		return rec
	}
	rec := &record{}
	if len(r.order) < r.max {
		r.order = append(r.order, id)
	} else {
		delete(r.m, r.order[r.next])
		r.order[r.next] = id
		r.next = (r.next + 1) % r.max
	}
	r.m[id] = rec
	return rec
}

func (r *records) published(id msgID, ns int64) {
	r.mu.Lock()
	r.get(id).published = ns
	r.mu.Unlock()
}

func (r *records) forget(id msgID) {
	r.mu.Lock()
	if rec, ok := r.m[id]; ok {
		rec.published = 0
	}
	r.mu.Unlock()
}

func (r *records) delivered(id msgID, ns int64) {
	r.mu.Lock()
	if rec := r.get(id); rec.firstDelivery == 0 {
		rec.firstDelivery = ns
	}
	r.mu.Unlock()
}

func (r *records) duplicate(id msgID) {
	r.mu.Lock()
	r.get(id).duplicates++
	r.mu.Unlock()
}

// writeJSONLines writes every record, oldest first, one JSON object a line.
// The lock is held only while copying.
func (r *records) writeJSONLines(w io.Writer) error {
	r.mu.Lock()
	out := make([]GossipRecord, 0, len(r.order))
	for i := range r.order {
		id := r.order[(r.next+i)%len(r.order)]
		rec := r.m[id]
		out = append(out, GossipRecord{ID: hex.EncodeToString(id[:]), FirstDeliveryNS: rec.firstDelivery,
			Duplicates: rec.duplicates, PublishedNS: rec.published})
	}
	r.mu.Unlock()
	enc := json.NewEncoder(w)
	for _, rec := range out {
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

// Control message types and directions, as labels of meshnode_gossip_control_total.
var (
	controlTypes = []string{"graft", "prune", "ihave", "iwant", "idontwant"}
	directions   = []string{"sent", "received"}
)

// gossipMetrics are the gossip families, in the node's meshnode_ registry
// only when -gossip-topic is set.
type gossipMetrics struct {
	published, delivered, duplicates prometheus.Counter
	control                          *prometheus.CounterVec
	controlBytes                     *prometheus.CounterVec
	delay                            prometheus.Histogram
	meshPeers                        prometheus.Gauge
	// ctl[direction][type], resolved once so the tracer does no label lookups.
	ctl   [2][5]prometheus.Counter
	bytes [2]prometheus.Counter
}

func newGossipMetrics(reg prometheus.Registerer) *gossipMetrics {
	m := &gossipMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "meshnode_gossip_published_total",
			Help: "Messages this node published on -gossip-topic."}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "meshnode_gossip_delivered_total",
			Help: "First copies of messages from other nodes delivered to this node's subscription, from pubsub's tracer (which does not trace a node's own)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "meshnode_gossip_duplicates_total",
			Help: "Copies of already-seen messages dropped by pubsub, from its tracer."}),
		control: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshnode_gossip_control_total",
			Help: "GossipSub control entries in RPCs queued to or received from peers, by type; an IHAVE, IWANT or IDONTWANT entry may carry many message IDs."},
			[]string{"type", "direction"}),
		controlBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshnode_gossip_control_bytes_total",
			Help: "Protobuf-encoded size of the control part of RPCs queued to or received from peers."},
			[]string{"direction"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "meshnode_gossip_delivery_delay_seconds",
			Help:    "First delivery wall-clock time minus the publish time in the message header, for messages from other nodes.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}), // 100 µs to 13 s
		meshPeers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshnode_gossip_mesh_peers",
			Help: "Peers in this node's GossipSub mesh for -gossip-topic (grafted, not pruned, not gone), from pubsub's tracer."}),
	}
	reg.MustRegister(m.published, m.delivered, m.duplicates, m.control, m.controlBytes, m.delay, m.meshPeers)
	for d, dir := range directions {
		for i, typ := range controlTypes {
			m.ctl[d][i] = m.control.WithLabelValues(typ, dir)
		}
		m.bytes[d] = m.controlBytes.WithLabelValues(dir)
	}
	return m
}

// tracer is the pubsub.RawTracer that feeds records and metrics. Its hooks
// run on pubsub's event loop, so each does a header parse, a map update
// under a mutex and a few counter adds, nothing more.
type tracer struct {
	rec *records
	m   *gossipMetrics
	now func() time.Time
	// mesh is the node's mesh on its one topic. Only the event loop
	// touches it; the gauge carries its size to scrapes.
	mesh map[peer.ID]struct{}
}

// Graft and Prune are the router adding a peer to its mesh and taking it
// out. A peer that goes away leaves the mesh with no Prune traced
// (gossipsub's OnClosedOutboundStream deletes it from every mesh), so
// that hook takes it out too.
func (t *tracer) Graft(p peer.ID, _ string)        { t.meshSet(p, true) }
func (t *tracer) Prune(p peer.ID, _ string)        { t.meshSet(p, false) }
func (t *tracer) OnClosedOutboundStream(p peer.ID) { t.meshSet(p, false) }

func (t *tracer) meshSet(p peer.ID, in bool) {
	if t.mesh == nil {
		t.mesh = map[peer.ID]struct{}{}
	}
	if in {
		t.mesh[p] = struct{}{}
	} else {
		delete(t.mesh, p)
	}
	t.m.meshPeers.Set(float64(len(t.mesh)))
}

var _ pubsub.RawTracer = (*tracer)(nil)

func (t *tracer) DeliverMessage(msg *pubsub.Message) {
	now := t.now().UnixNano()
	t.m.delivered.Inc()
	id, pub, ok := parseHeader(msg.GetData())
	if !ok {
		return
	}
	t.rec.delivered(id, now)
	if !msg.Local {
		t.m.delay.Observe(float64(max(now-pub, 0)) / 1e9) // a clock behind the publisher's reads as 0
	}
}

func (t *tracer) DuplicateMessage(msg *pubsub.Message) {
	t.m.duplicates.Inc()
	if id, _, ok := parseHeader(msg.GetData()); ok {
		t.rec.duplicate(id)
	}
}

func (t *tracer) RecvRPC(rpc *pubsub.RPC)            { t.countControl(1, rpc.GetControl()) }
func (t *tracer) SendRPC(rpc *pubsub.RPC, _ peer.ID) { t.countControl(0, rpc.GetControl()) }
func (t *tracer) countControl(dir int, c *pb.ControlMessage) {
	if c == nil {
		return
	}
	for i, n := range [5]int{len(c.GetGraft()), len(c.GetPrune()), len(c.GetIhave()), len(c.GetIwant()), len(c.GetIdontwant())} {
		if n > 0 {
			t.m.ctl[dir][i].Add(float64(n))
		}
	}
	t.m.bytes[dir].Add(float64(proto.Size(c)))
}

func (t *tracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *tracer) Join(string)                                          {}
func (t *tracer) Leave(string)                                         {}
func (t *tracer) ValidateMessage(*pubsub.Message)                      {}
func (t *tracer) RejectMessage(*pubsub.Message, string)                {}
func (t *tracer) ThrottlePeer(peer.ID)                                 {}
func (t *tracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t *tracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (t *tracer) UndeliverableMessage(*pubsub.Message)                 {}
