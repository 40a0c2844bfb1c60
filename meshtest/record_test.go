package meshtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/metrics"
	"github.com/meshtest/meshtest/meshtest/report"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestDriftIgnoresGapsButNotWrongCounts: a sample whose count differs from
// the node's degree is drift; a sample that lacks the count (a missed read)
// is not, since missed reads are judged separately.
func TestDriftIgnoresGapsButNotWrongCounts(t *testing.T) {
	nodes := []nodeFact{{Index: 0, Name: "bootstrap"}, {Index: 1, Name: "peer-001"}, {Index: 2, Name: "peer-002"}}
	sample := func(round int, node string, conns float64) series.Sample {
		v := map[string]float64{FigConns: conns, FigPeers: conns}
		if math.IsNaN(conns) {
			v = map[string]float64{}
		}
		return series.Sample{Round: round, Node: node, Values: v}
	}
	rec := &Recording{Graph: topology.Star(2), nodes: nodes, Table: &series.Table{Samples: []series.Sample{
		sample(0, "bootstrap", 2), sample(0, "peer-001", 1), sample(0, "peer-002", 1),
		sample(1, "bootstrap", 1), sample(1, "peer-001", 1), sample(1, "peer-002", math.NaN()),
	}}}
	drift := rec.drift()
	require.Len(t, drift, 2, "connections and peers of the bootstrap in round 1: %v", drift)
	for _, v := range drift {
		assert.Equal(t, "bootstrap", v.Node)
		assert.Equal(t, 1, v.Round)
		assert.Equal(t, 1.0, v.Got)
		assert.Equal(t, 2.0, v.Want)
	}
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Peers: 0}, "Config.Peers = 0: a mesh needs at least 1 peer besides the bootstrap; set Config.Peers between 1 and 16352"},
		{Config{Peers: -1}, "at least 1 peer"},
		{Config{Peers: 16353}, "16353 peers take 17 bridge networks of 1022; meshtest spreads a mesh over at most 16"},
		{Config{Peers: 5, NetworkSize: 1023}, "Config.NetworkSize = 1023: one Docker bridge network holds at most 1023 containers"},
		{Config{Peers: 5, NetworkSize: 2, Conditions: conditions.Conditions{Link: shape.Link{Latency: time.Millisecond}}}, `Config.Conditions = "set": 5 peers span 3 bridge networks of 2`},
		{Config{Peers: 5, Name: "has space"}, `Config.Name = "has space"`},
		{Config{Peers: 5, Interval: 10 * 1e6}, "Config.Interval = 10ms"},
		{Config{Peers: 2, Groups: []Group{{Name: "a", Spec: spec.Bundled(), Count: 1}}}, "Config.Groups hold 1 peers in all, but Config.Peers = 2"},
		{Config{Peers: 1, Services: []*spec.Spec{{Name: "x"}}}, `Config.Services[0]: spec "x": set "image"`},
		{Config{Peers: 1, Workloads: Workloads{Topic: "t"}, BootstrapSpec: &spec.Spec{Name: "plain", Image: "plain:1", P2PPort: 1, MetricsPort: 2, Identity: spec.Identity{From: "assigned"}}},
			`Config.BootstrapSpec (spec "plain") has no workloads "gossip"`},
		{Config{Peers: 1, Workloads: Workloads{Perf: true}, Spec: &spec.Spec{Name: "plain", Image: "plain:1", P2PPort: 1, MetricsPort: 2, Identity: spec.Identity{From: "assigned"}}},
			`Config.Spec (spec "plain") has no workloads "perf_path"`},
	} {
		assert.ErrorContains(t, tc.cfg.Check(), tc.want, "%+v", tc.cfg)
	}
	assert.NoError(t, Config{Peers: 1022}.Check())
	assert.NoError(t, Config{Peers: 2000}.Check(), "two networks")
	assert.NoError(t, Config{Peers: 1}.Check())
	assert.NoError(t, Config{Peers: 1, Workloads: Workloads{Topic: "t", Perf: true, Ping: true}}.Check(), "the bundled node keeps every contract")
}

// TestConfigJSON: a Config encodes its durations as seconds, as the rest of
// summary.json does, and reads back what it wrote.
func TestConfigJSON(t *testing.T) {
	c := Config{Name: "star", Peers: 10, Interval: 1500 * time.Millisecond, ConvergeTimeout: time.Minute, Env: map[string]string{"A": "b"}}
	data, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"interval_s":1.5`)
	assert.Contains(t, string(data), `"converge_timeout_s":60`)
	assert.NotContains(t, string(data), `"interval":`)
	var back Config
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, c, back)
}

// A Config's defaults, as New applies them.
func ExampleConfig_WithDefaults() {
	c := Config{Peers: 100}.WithDefaults()
	fmt.Println(c.Name, c.Parallelism, c.Interval, c.ConvergeTimeout)
	// Output: mesh 4 1s 1m20.2s
}

// TestPerConnection: every per-connection figure subtracts an average
// peer's from the bootstrap's before dividing by n; CPU used not to.
func TestPerConnection(t *testing.T) {
	rec := &Recording{Config: Config{Peers: 2}, Table: &series.Table{Samples: []series.Sample{
		{Node: "bootstrap", Role: "bootstrap", Values: map[string]float64{FigCPUCores: 0.05, FigMemBytes: 10e6}},
		{Node: "peer-001", Role: "peer", Values: map[string]float64{FigCPUCores: 0.01, FigMemBytes: 8e6}},
		{Node: "peer-002", Role: "peer", Values: map[string]float64{FigCPUCores: 0.01, FigMemBytes: 8e6}},
	}}}
	assert.InDelta(t, 0.02, rec.PerConnection(FigCPUCores), 1e-12)
	assert.InDelta(t, 1e6, rec.PerConnection(FigMemBytes), 1e-6)
	assert.True(t, math.IsNaN(rec.PerConnection(FigGoroutines)), "no samples: NaN, not 0")
}

// TestConvergenceSaysWhatWasProven: a group whose spec cannot count
// connections is unverified, and a mesh with one is not called proven,
// in summary.json or in report.html.
func TestConvergenceSaysWhatWasProven(t *testing.T) {
	rec := &Recording{
		Table:    &series.Table{},
		Converge: time.Second,
		nodes:    []nodeFact{{Index: 0, Name: "bootstrap", Role: "bootstrap"}, {Index: 1, Name: "peer-001", Role: "kubo"}, {Index: 2, Name: "peer-002", Role: "other"}},
		verification: map[string]string{
			"bootstrap": summary.ByPeerIDs, "kubo": summary.ByConnectionCount, "other": summary.NotVerified,
		},
	}
	c := rec.convergence()
	assert.False(t, c.Proven, "an unverified group leaves the mesh unproven")
	assert.Equal(t, []string{"other"}, c.Unverified)
	assert.Equal(t, summary.ByConnectionCount, c.Roles["kubo"])

	s := &summary.File{Topology: summary.Topology{Nodes: 3, Edges: 2}, Convergence: c}
	d := report.FromSummary(s, true, nil)
	assert.Contains(t, d.Convergence.Detail, "UNVERIFIED")
	assert.NotContains(t, d.Convergence.Detail, "every node held exactly its neighbours")
	assert.False(t, d.Checks[0].OK, "the report's first check: the topology was proven")

	rec.verification["other"] = summary.ByPeerIDs
	c = rec.convergence()
	assert.True(t, c.Proven)
	assert.Empty(t, c.Unverified)
}

// TestProcessMemory: the harness's memory figures are this process's,
// in bytes: maxrss comes in kilobytes and must be scaled.
func TestProcessMemory(t *testing.T) {
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1 // touched, so resident
	}
	heap, peak := processMemory()
	assert.GreaterOrEqual(t, heap, uint64(len(ballast)), "the heap holds the ballast")
	assert.GreaterOrEqual(t, peak, heap, "peak RSS, in bytes, is at least the heap in use")
	assert.Less(t, peak, uint64(64<<30), "peak RSS is bytes, not kilobytes scaled twice")
	runtime.KeepAlive(ballast)
}

// TestSampleStride: up to PeersPerRound peers every node is read every
// round; beyond, the peers are read in turn so that a round reads at most
// PeersPerRound of them, every peer once in any stride consecutive rounds,
// and the bootstrap every round.
func TestSampleStride(t *testing.T) {
	for peers, want := range map[int]int{1: 1, 100: 1, PeersPerRound: 1, PeersPerRound + 1: 2, 1000: 5, 2000: 10} {
		assert.Equal(t, want, Config{}.sampleStride(peers), "%d peers", peers)
	}
	assert.Equal(t, 3, Config{SampleStride: 3}.sampleStride(10), "a stride given is kept")
	assert.ErrorContains(t, Config{Peers: 5, SampleStride: -1}.Check(), "Config.SampleStride = -1")

	const n, stride = 1001, 5
	nodes := []*Node{{Index: 0, Role: "bootstrap"}}
	for i := 1; i < n; i++ {
		role := "peer"
		if i%2 == 0 {
			role = "group-b" // a group's peers are peers too
		}
		nodes = append(nodes, &Node{Index: i, Role: role})
	}
	reads := make([]int, n)
	for r := 3; r < 3+stride; r++ {
		perRound := 0
		for _, nd := range nodes {
			if readInRound(nd, r, stride) {
				reads[nd.Index]++
				perRound++
			}
		}
		assert.LessOrEqual(t, perRound, 1+(n-1+stride-1)/stride, "round %d", r)
	}
	assert.Equal(t, stride, reads[0], "the bootstrap every round")
	for i := 1; i < n; i++ {
		require.Equal(t, 1, reads[i], "peer %d once in %d rounds", i, stride)
	}
}

// TestMetricsEvery: a peer's metrics endpoint is scraped every `every`-th
// of its reads, the peers staggered so that rounds scrape alike; the
// bootstrap's every round.
func TestMetricsEvery(t *testing.T) {
	for read, want := range map[int]int{1: 1, PeerScrapesPerRound: 1, PeerScrapesPerRound + 1: 2, 100: 5, 200: 10} {
		assert.Equal(t, want, Config{}.metricsEvery(read), "%d peers read a round", read)
	}
	assert.Equal(t, 2, Config{MetricsEvery: 2}.metricsEvery(100), "a value given is kept")
	assert.ErrorContains(t, Config{Peers: 5, MetricsEvery: -1}.Check(), "Config.MetricsEvery = -1")
	for _, tc := range []struct{ stride, every int }{{1, 2}, {1, 3}, {5, 2}, {1, 1}} {
		nodes := []*Node{{Index: 0, Role: "bootstrap"}}
		for i := 1; i <= 100; i++ {
			nodes = append(nodes, &Node{Index: i, Role: "peer"})
		}
		reads, scrapes := make([]int, len(nodes)), make([]int, len(nodes))
		perRound := map[int]int{}
		window := tc.stride * tc.every
		for r := 7; r < 7+window; r++ {
			for _, n := range nodes {
				if readInRound(n, r, tc.stride) {
					reads[n.Index]++
					if scrapeIn(n, r, tc.stride, tc.every) {
						scrapes[n.Index]++
						perRound[r]++
					}
				}
			}
		}
		assert.Equal(t, window, scrapes[0], "%+v: the bootstrap every round", tc)
		for i := 1; i < len(nodes); i++ {
			require.Equal(t, tc.every, reads[i], "%+v: peer %d reads", tc, i)
			require.Equal(t, 1, scrapes[i], "%+v: peer %d scrapes", tc, i)
		}
		for r, k := range perRound {
			assert.InDelta(t, 1+100/window, k, 1, "%+v: round %d scrapes about as many as the others", tc, r)
		}
	}
}

// TestPrimeTargetsOpensEveryConnectionFirst: after priming, the window's
// scrapes find every up node's connection open (no connection is made in
// the window), and a node that is down is left alone.
func TestPrimeTargetsOpensEveryConnectionFirst(t *testing.T) {
	var mu sync.Mutex
	conns, requests := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "go_goroutines 7")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	const n, down = 20, 3
	targets := make([]*metrics.Target, n)
	for i := range targets {
		tg, err := metrics.NewTarget(srv.URL + "/metrics")
		require.NoError(t, err)
		defer tg.Close()
		targets[i] = tg
	}
	primeTargets(t.Context(), targets, func(i int) bool { return i != down })
	mu.Lock()
	assert.Equal(t, n-1, conns, "one connection per up node")
	assert.Equal(t, n-1, requests, "one scrape per up node")
	mu.Unlock()

	for i, tg := range targets {
		if i == down {
			continue
		}
		_, err := tg.Scrape(t.Context(), time.Second)
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, n-1, conns, "the window's scrapes reuse the primed connections")
	assert.Equal(t, 2*(n-1), requests)
}
