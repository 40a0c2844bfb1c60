package meshtest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/metrics"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// peersReply is the bundled node's GET /peers.
type peersReply struct {
	PeerID      string   `json:"peer_id"`
	Connections int      `json:"connections"`
	Peers       []string `json:"peers"`
}

// converge waits until every node is connected to exactly its neighbours in
// the topology, by peer ID: a count alone would accept a wrong or stray
// connection. A node whose container exits, or a mesh that is not proven
// within Config.ConvergeTimeout, is an error carrying that node's last logs.
func (m *Mesh) converge(ctx context.Context) error {
	took, err := m.prove(ctx, m.Graph, nil, m.Config.ConvergeTimeout, "the mesh did not converge")
	if err != nil {
		return err
	}
	m.Converge = took
	what := "all %d edges of %s connected"
	if u := m.Unverified(); len(u) > 0 {
		what = "%d edges of %s: every node that can be checked holds its degree (roles " + strings.Join(u, ", ") + " UNVERIFIED)"
	}
	m.logf("meshtest: converged: "+what+", %.1f s after the last start", len(m.Graph.Edges), m.Graph.Name, m.Converge.Seconds())
	return nil
}

// prove waits until every node but those skip names is connected to exactly
// its neighbours in g, and returns how long that took. It is how bring-up
// proves the topology and how a fault's effect and its recovery are proven:
// g is then the topology minus what the fault cut. A node that exits
// unplanned, or a graph not proven within timeout, is an error starting
// with what and carrying the node's last logs.
func (m *Mesh) prove(ctx context.Context, g topology.Graph, skip func(i int) bool, timeout time.Duration, what string) (time.Duration, error) {
	begin := time.Now()
	deadline := begin.Add(timeout)
	want := make([][]string, len(m.Nodes))
	for i := range m.Nodes {
		for _, j := range g.Neighbors(i) {
			want[i] = append(want[i], m.Nodes[j].PeerID)
		}
		slices.Sort(want[i])
	}
	httpc := m.httpClient()
	lastReport := begin
	for {
		pending, err := m.unconverged(ctx, httpc, want, skip)
		if err != nil {
			return 0, err
		}
		if len(pending) == 0 {
			return time.Since(begin), nil
		}
		if n, err := m.exited(ctx); err != nil {
			return 0, err
		} else if n != nil {
			return 0, fmt.Errorf("%s: node %s exited%s", what, n.Name, m.lastLogs(ctx, n))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s within %v: %d of %d nodes lack connections: %s%s",
				what, timeout, len(pending), len(m.Nodes), describe(pending, 5), m.lastLogs(ctx, pending[0].node))
		}
		if time.Since(lastReport) > 5*time.Second {
			m.logf("meshtest: waiting for %s: %d of %d nodes not yet connected to exactly their neighbours, %.1f s", g.Name, len(pending), len(m.Nodes), time.Since(begin).Seconds())
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pendingNode is a node whose connections do not match the topology yet.
type pendingNode struct {
	node      *Node
	got, want int
	err       error
}

func describe(p []pendingNode, limit int) string {
	var parts []string
	for _, x := range p[:min(limit, len(p))] {
		if x.err != nil {
			parts = append(parts, fmt.Sprintf("%s (unreachable: %v)", x.node.Name, x.err))
		} else {
			parts = append(parts, fmt.Sprintf("%s (%d of %d)", x.node.Name, x.got, x.want))
		}
	}
	if len(p) > limit {
		parts = append(parts, fmt.Sprintf("and %d more", len(p)-limit))
	}
	return strings.Join(parts, ", ")
}

// unconverged asks every node whom it is connected to, concurrently: by
// peer ID where its spec has a peers endpoint, else by the count of its
// connection metric. Nodes with neither are not checked (see Unverified).
func (m *Mesh) unconverged(ctx context.Context, httpc *http.Client, want [][]string, skip func(i int) bool) ([]pendingNode, error) {
	var (
		mu      sync.Mutex
		pending []pendingNode
	)
	// The poll's client, not a fresh transport (and connections) per round.
	scraper := &metrics.Scraper{Client: httpc}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, n := range m.Nodes {
		if skip != nil && skip(i) {
			continue
		}
		g.Go(func() error {
			var got int
			var err error
			switch s := n.spec; {
			case s.PeersPath != "":
				var r peersReply
				r, err = fetchPeers(gctx, httpc, n.MetricsURL+s.PeersPath)
				got = len(r.Peers)
				if err == nil && slices.Equal(r.Peers, want[i]) {
					return nil
				}
			case s.Connections != nil:
				var fams metrics.Families
				fams, err = scraper.Scrape(gctx, n.MetricsURL+cmp.Or(s.MetricsPath, "/metrics"))
				if err == nil {
					v, _ := fams.Value(s.Connections.Family, s.Connections.Labels)
					got = int(v)
					if got == len(want[i]) {
						return nil
					}
				}
			default:
				return nil
			}
			mu.Lock()
			pending = append(pending, pendingNode{node: n, got: got, want: len(want[i]), err: err})
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	slices.SortFunc(pending, func(a, b pendingNode) int { return a.node.Index - b.node.Index })
	return pending, nil
}

func fetchPeers(ctx context.Context, httpc *http.Client, url string) (peersReply, error) {
	var r peersReply
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return r, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("GET %s: %w", url, err)
	}
	slices.Sort(r.Peers)
	return r, nil
}

// verification says how a spec's nodes' connections are proven: by the
// peer IDs its peers endpoint lists, by the count of its connection metric,
// or not at all.
func verification(s *spec.Spec) string {
	switch {
	case s.PeersPath != "":
		return summary.ByPeerIDs
	case s.Connections != nil:
		return summary.ByConnectionCount
	default:
		return summary.NotVerified
	}
}

// Verification says, per role, how its nodes' connections are proven:
// summary.ByPeerIDs, summary.ByConnectionCount or summary.NotVerified. Per
// role, not per spec name: the bootstrap and the peers may run two specs
// of one name (as Kubo's do) that check connections differently.
func (m *Mesh) Verification() map[string]string {
	out := map[string]string{}
	for _, n := range m.Nodes {
		out[n.Role] = verification(n.spec)
	}
	return out
}

// Unverified names the roles whose spec gives no way to count connections:
// their part of the topology is not proven.
func (m *Mesh) Unverified() []string {
	var out []string
	for _, n := range m.Nodes {
		if verification(n.spec) == summary.NotVerified && !slices.Contains(out, n.Role) {
			out = append(out, n.Role)
		}
	}
	return out
}
