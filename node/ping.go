package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// Bounds of GET /ping. Each echo has go-libp2p's own 10 s timeout; the
// request as a whole gets one second per echo on top of that, so a count of
// 100 on a healthy link ends well within it and a stuck one cannot hold the
// handler for ever.
const (
	maxPingCount    = 100
	pingBaseTimeout = 10 * time.Second
)

// PingResponse is the body of GET /ping.
type PingResponse struct {
	Peer  string  `json:"peer"`
	RTTs  []int64 `json:"rtts_ns"`         // one per echo that came back, in order
	Error string  `json:"error,omitempty"` // why fewer than count came back
}

// pingHandler answers GET /ping?peer=<peer ID>&count=N with N round trips of
// go-libp2p's ping protocol (/ipfs/ping/1.0.0) over the connection the node
// already has to peer: it never dials, so the figure is the RTT of that
// connection, not of a connection set up for the occasion.
//
// The answering side is go-libp2p's ping service, which every libp2p host
// runs unless built with libp2p.Ping(false); the node keeps that default.
func pingHandler(h host.Host) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		resp := PingResponse{Peer: q.Get("peer"), RTTs: []int64{}}
		p, err := peer.Decode(resp.Peer)
		if err != nil {
			resp.Error = fmt.Sprintf("peer %q: expected a peer ID: %v", resp.Peer, err)
			writeJSON(w, http.StatusBadRequest, resp)
			return
		}
		count := 1
		if s := q.Get("count"); s != "" {
			count, err = strconv.Atoi(s)
			if err != nil || count < 1 || count > maxPingCount {
				resp.Error = fmt.Sprintf("count %q: expected an integer 1-%d", s, maxPingCount)
				writeJSON(w, http.StatusBadRequest, resp)
				return
			}
		}
		rtts, err := pingPeer(r.Context(), h, p, count)
		for _, d := range rtts {
			resp.RTTs = append(resp.RTTs, d.Nanoseconds())
		}
		if err != nil {
			resp.Error = err.Error()
			writeJSON(w, http.StatusBadGateway, resp)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// errNotConnected is returned for a peer the node has no connection to.
var errNotConnected = errors.New("not connected")

// pingPeer measures count round trips to p, stopping at the first error and
// returning the RTTs measured before it.
func pingPeer(ctx context.Context, h host.Host, p peer.ID, count int) ([]time.Duration, error) {
	if h.Network().Connectedness(p) != network.Connected {
		return nil, fmt.Errorf("ping %s: %w (ping uses the existing connection and never dials)", p, errNotConnected)
	}
	ctx, cancel := context.WithTimeout(ctx, pingBaseTimeout+time.Duration(count)*time.Second)
	defer cancel() // also stops go-libp2p's ping loop, which runs until its context ends
	ctx = network.WithNoDial(ctx, "ping over the existing connection")
	var rtts []time.Duration
	results := ping.Ping(ctx, h, p)
	for len(rtts) < count {
		select {
		case res, ok := <-results:
			if !ok {
				return rtts, fmt.Errorf("ping %s: stopped after %d of %d: %w", p, len(rtts), count, context.Cause(ctx))
			}
			if res.Error != nil {
				return rtts, fmt.Errorf("ping %s: after %d of %d: %w", p, len(rtts), count, res.Error)
			}
			rtts = append(rtts, res.RTT)
		case <-ctx.Done():
			return rtts, fmt.Errorf("ping %s: after %d of %d: %w", p, len(rtts), count, ctx.Err())
		}
	}
	return rtts, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// disabledHandler answers an endpoint whose flag is off, saying which flag.
func disabledHandler(flagName string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error": fmt.Sprintf("%s is off: start the node with -%s (or %s=true)", r.URL.Path, flagName, envName(flagName)),
		})
	}
}
