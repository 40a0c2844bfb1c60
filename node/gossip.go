package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultGossipSize is the payload size of a message the node publishes when
// neither -gossip-size nor the request says otherwise.
const DefaultGossipSize = 1024

// maxGossipSize keeps a payload within pubsub's default 1 MiB RPC limit,
// leaving 1 KiB for the envelope (from, seqno, topic, signature).
const maxGossipSize = 1<<20 - 1<<10

// gossip is the node's GossipSub router on one topic. It exists only with
// -gossip-topic: without it no pubsub goroutine runs.
type gossip struct {
	topic  *pubsub.Topic
	rec    *records
	m      *gossipMetrics
	size   int
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startGossip starts GossipSub with its default parameters on h, joins and
// subscribes to cfg.GossipTopic, drains the subscription (delivery is
// recorded by the tracer, not here) and, with cfg.GossipRate > 0, publishes
// at that rate. Close stops all of it.
func startGossip(h host.Host, reg prometheus.Registerer, cfg Config) (*gossip, error) {
	ctx, cancel := context.WithCancel(context.Background())
	g := &gossip{rec: newRecords(maxGossipRecords), m: newGossipMetrics(reg), size: cfg.GossipSize, cancel: cancel}
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithRawTracer(&tracer{rec: g.rec, m: g.m, now: time.Now}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gossipsub: %w", err)
	}
	g.topic, err = ps.Join(cfg.GossipTopic)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gossipsub: join %q: %w", cfg.GossipTopic, err)
	}
	sub, err := g.topic.Subscribe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gossipsub: subscribe %q: %w", cfg.GossipTopic, err)
	}
	g.wg.Go(func() {
		for {
			if _, err := sub.Next(ctx); err != nil {
				return // ctx cancelled
			}
		}
	})
	if cfg.GossipRate > 0 {
		g.wg.Go(func() { g.publishAtRate(ctx, cfg.GossipRate) })
	}
	return g, nil
}

func (g *gossip) close() {
	g.cancel()
	g.wg.Wait()
}

// publishAtRate publishes a message of g.size bytes every 1/rate seconds. A
// ticker drops ticks a slow publish overruns, so the rate is a ceiling.
func (g *gossip) publishAtRate(ctx context.Context, rate float64) {
	tk := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			_, _, _ = g.publish(ctx, nil, g.size) // a failure here has no one to tell; published_total shows the rate
		}
	}
}

// publish sends header + data, zero-padded to size. The record is written
// before Publish because the local delivery may be traced before it returns.
func (g *gossip) publish(ctx context.Context, data []byte, size int) (msgID, int64, error) {
	var id msgID
	if len(data)+gossipHeaderSize > size {
		size = len(data) + gossipHeaderSize
	}
	if size > maxGossipSize {
		return id, 0, fmt.Errorf("payload of %d bytes: expected at most %d", size, maxGossipSize)
	}
	payload := make([]byte, size)
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	copy(payload, id[:])
	copy(payload[gossipHeaderSize:], data)
	now := time.Now().UnixNano()
	binary.BigEndian.PutUint64(payload[16:], uint64(now))
	g.rec.published(id, now)
	if err := g.topic.Publish(ctx, payload); err != nil {
		g.rec.forget(id)
		return id, 0, fmt.Errorf("publish: %w", err)
	}
	g.m.published.Inc()
	return id, now, nil
}

// PublishRequest is the body of POST /publish. Size 0 means -gossip-size;
// Data, if any, follows the header and the rest is zero padding.
type PublishRequest struct {
	Size int    `json:"size,omitempty"`
	Data string `json:"data,omitempty"`
}

// PublishResponse is the answer of POST /publish.
type PublishResponse struct {
	ID          string `json:"id,omitempty"` // hex of the 16-byte message ID
	PublishedNS int64  `json:"published_ns,omitempty"`
	Error       string `json:"error,omitempty"`
}

func (g *gossip) publishHandler(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2*maxGossipSize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, PublishResponse{Error: fmt.Sprintf("body: expected {\"size\": N} or {\"data\": \"...\"}: %v", err)})
		return
	}
	size := req.Size
	if size == 0 {
		size = g.size
	}
	if size < 0 || size > maxGossipSize {
		writeJSON(w, http.StatusBadRequest, PublishResponse{Error: fmt.Sprintf("size %d: expected 0 (= -gossip-size) or %d-%d bytes", req.Size, gossipHeaderSize, maxGossipSize)})
		return
	}
	if n := len(req.Data) + gossipHeaderSize; n > maxGossipSize {
		writeJSON(w, http.StatusBadRequest, PublishResponse{Error: fmt.Sprintf("data of %d bytes: expected at most %d with the %d-byte header", len(req.Data), maxGossipSize-gossipHeaderSize, gossipHeaderSize)})
		return
	}
	id, ns, err := g.publish(r.Context(), []byte(req.Data), size)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, PublishResponse{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, PublishResponse{ID: hex.EncodeToString(id[:]), PublishedNS: ns})
}

func (g *gossip) recordsHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	_ = g.rec.writeJSONLines(w)
}

// gossipOff answers the gossip endpoints of a node started without -gossip-topic.
func gossipOff(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{
		"error": fmt.Sprintf("%s is off: start the node with -gossip-topic <topic> (or %s=<topic>)", r.URL.Path, envName("gossip-topic")),
	})
}
