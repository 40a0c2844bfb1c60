package node

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PeersResponse is the body of GET /peers.
type PeersResponse struct {
	PeerID      string   `json:"peer_id"`
	Connections int      `json:"connections"`
	Peers       []string `json:"peers"` // sorted, unique connected peers
}

func newMux(h host.Host, regs *registries, cfg Config, g *gossip) *http.ServeMux {
	mux := http.NewServeMux()
	if cfg.Ping {
		mux.HandleFunc("GET /ping", pingHandler(h))
	} else {
		mux.HandleFunc("GET /ping", disabledHandler("ping"))
	}
	if cfg.Perf {
		mux.HandleFunc("POST /perf", perfHandler(h, cfg.transportName()))
	} else {
		mux.HandleFunc("POST /perf", disabledHandler("perf"))
	}
	if g != nil {
		mux.HandleFunc("POST /publish", g.publishHandler)
		mux.HandleFunc("GET /gossip/records", g.recordsHandler)
	} else {
		mux.HandleFunc("POST /publish", gossipOff)
		mux.HandleFunc("GET /gossip/records", gossipOff)
	}
	full := promhttp.HandlerFor(regs.all, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		names := r.URL.Query()["name[]"]
		if len(names) == 0 {
			full.ServeHTTP(w, r)
			return
		}
		// A handler per filtered scrape is a closure and a few fields; the
		// gather it avoids is the expensive part.
		promhttp.HandlerFor(regs.gatherer(names), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /peers", func(w http.ResponseWriter, r *http.Request) {
		conns := h.Network().Conns()
		resp := PeersResponse{PeerID: h.ID().String(), Connections: len(conns), Peers: []string{}}
		for _, c := range conns {
			resp.Peers = append(resp.Peers, c.RemotePeer().String())
		}
		slices.Sort(resp.Peers)
		resp.Peers = slices.Compact(resp.Peers)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}
