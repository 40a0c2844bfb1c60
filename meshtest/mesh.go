package meshtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/backend/docker"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// Node is one running member of the mesh.
type Node struct {
	Index  int    // position in the topology; 0 is the bootstrap
	Name   string // "bootstrap", "peer-007": also its DNS name on the mesh network
	Role   string // "bootstrap", "peer", or the peer's group name when peers are split in groups
	Group  string // name of the spec the node runs
	PeerID string // libp2p peer ID: assigned before start, or learned from the node
	IP     string // address on the mesh network
	// Engine names the engine that runs the node on a backend of several
	// (a swarm's "e2"); "" on one engine.
	Engine string
	// MetricsURL is the node's metrics base URL as the harness reaches it,
	// e.g. "http://172.18.0.5:9090".
	MetricsURL string
	// Instance is what the backend runs the node as: for Docker, the
	// container ID (Instance.Handle) and image.
	Instance backend.Instance
	spec     *spec.Spec
	key      string // encoded private key, when identity is assigned
}

// started reports whether the backend was asked to run the node.
func (n *Node) started() bool { return n.Instance.Name != "" }

// Mesh is a running network of nodes in one topology on its own network.
// Its fields are facts a test may read; New fills them.
type Mesh struct {
	Config  Config
	Graph   topology.Graph
	Run     string // unique to this mesh; names everything the backend creates for it
	Network string // the backend's name of the mesh network
	Nodes   []*Node
	// Services are the units on the mesh's network that are not nodes
	// (Config.Monitor's Prometheus, AddService).
	Services []*Service
	// Prometheus is the Prometheus server Config.Monitor starts, else nil.
	Prometheus *Service

	// Timings of bring-up, the figures the summary reports.
	Floor time.Duration // plain containers through the raw engine API (Config.MeasureFloor)
	// FloorRemove is the raw engine's forced removal of those containers,
	// the floor of Teardown.
	FloorRemove time.Duration
	BringUp     time.Duration // create and start every node
	Converge    time.Duration // from all started to every edge connected

	backend backend.Backend
	run     backend.Run
	logf    backend.Logf
	test    string
	base    *spec.Spec // the spec of peers outside groups
	images  map[*spec.Spec]string
	monitor *monitorState // Config.Monitor's exporter and client

	// ctx bounds everything the mesh does: bring-up, readiness, sampling.
	// abort cancels it, so a signal or a deadline stops bring-up before
	// the mesh is removed, and nothing is created after the removal.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// busy is held by every operation that creates or uses the mesh's
	// units (start, Grow, Record): close waits for it, after cancelling.
	busy sync.Mutex

	mu        sync.Mutex  // guards what follows: the test's goroutine, signals and the deadline share it
	guard     *time.Timer // the deadline guard, armed for the mesh's size
	closed    bool
	teardown  time.Duration
	onClose   []func()
	closeOnce sync.Once
	isClosed  atomic.Bool
	aborted   atomic.Bool // by a signal or the deadline: bring-up may have been cut short

	// faultMu guards faults: the test's goroutine, a schedule and the
	// watcher of unplanned exits share them.
	faultMu sync.Mutex
	faults  faultState
	// addrMu guards the nodes' IP and MetricsURL, which a restart changes.
	addrMu sync.RWMutex

	// Shaping says how the links were conditioned and calibrated; nil on
	// a perfect LAN. Set by bring-up, SetConditions and the first cut.
	Shaping    *Shaping
	shapeMu    sync.Mutex         // guards shapers
	shapers    map[string]*shaper // by node name; nil until the first is needed
	shapeToken string             // what the helpers' control API asks for

	errorf func(string, ...any) // the test's Errorf, for a node that dies unplanned

	warmUp *WarmUp // what the first window waited for; nil before it

	workMu sync.Mutex
	perfs  []summary.Perf // every Perf series run on the mesh, for the summary
	pings  []summary.Ping

	httpOnce sync.Once
	httpc    *http.Client
	longc    *http.Client // httpc's transport without its timeout

	ownedBackend io.Closer // the default backend New made, closed last by close

	failed   func() bool // the test's Failed, for logs at close
	logDirs  []string    // where node logs go when the test failed
	envOnce  sync.Once
	envFacts environment
}

// New starts a bootstrap and cfg.Peers peers in a star on a fresh network
// and returns once the star is proven: the bootstrap holds every peer and
// every peer holds the bootstrap. Everything it starts is removed by
// t.Cleanup (or on SIGINT/SIGTERM, or before the test's deadline); a
// failure fails the test with the failing node's last log lines.
func New(t testing.TB, cfg Config) *Mesh {
	t.Helper()
	return NewGraph(t, cfg, topology.Star(cfg.Peers))
}

// NewGraph is New for any topology; cfg.Peers is set to g.N-1.
func NewGraph(t testing.TB, cfg Config, g topology.Graph) *Mesh {
	t.Helper()
	cfg.Peers = g.N - 1
	if cfg.Name == "" {
		cfg.Name = g.Slug()
	}
	m, err := prepare(t.Context(), t.Name(), cfg, g, t.Logf)
	if err != nil {
		t.Fatalf("meshtest: %v", err) // nothing was created
	}
	m.failed = t.Failed
	m.errorf = t.Errorf
	m.logDirs = artifactDirs(t, m.Config.ResultsDir)
	m.watch()          // from here on, a signal removes the mesh
	t.Cleanup(m.close) // registered before bring-up: a partial mesh is removed too
	m.guardDeadline(t, m.Graph.N)
	if err := m.start(); err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	return m
}

// prepare checks the input and connects to the backend; it creates nothing,
// so an error leaves nothing behind. Once the caller has set what close
// reads (failed, logDirs), watch registers the mesh for removal on
// SIGINT/SIGTERM.
func prepare(ctx context.Context, test string, cfg Config, g topology.Graph, logf backend.Logf) (*Mesh, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := checkNetworks(cfg, g); err != nil {
		return nil, err
	}
	b := cfg.Backend
	var owned io.Closer // the backend made here, which the mesh closes
	switch {
	case b == nil && cfg.Swarm != "":
		s, err := docker.OpenSwarm(ctx, cfg.Swarm)
		if err != nil {
			return nil, fmt.Errorf("Config.Swarm %q: %w", cfg.Swarm, err)
		}
		b, owned = s, s
	case b == nil:
		d, err := docker.New(ctx, docker.Options{PublishPorts: cfg.PublishPorts})
		if err != nil {
			return nil, err
		}
		b, owned = d, d
	}
	m := &Mesh{
		Config:  cfg,
		Graph:   g,
		Run:     cfg.Name + "-" + randomHex(4),
		backend: b,
		logf:    logf,
		test:    test,
		images:  map[*spec.Spec]string{},
		failed:  func() bool { return false },
	}
	if owned != nil {
		m.ownedBackend = owned
	}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	return m, nil
}

// watch registers the mesh for removal on SIGINT/SIGTERM until it is
// removed.
func (m *Mesh) watch() {
	m.onTeardown(watchInterrupts(m))
}

// start brings the mesh up: sweep, images, identities, floor, network,
// nodes, convergence, services. It returns the first error; whatever it
// created is removed by close.
func (m *Mesh) start() error {
	m.busy.Lock()
	defer m.busy.Unlock()
	ctx := m.ctx
	if err := m.alive(); err != nil {
		return err
	}
	m.backend.RemoveAbandoned(ctx, m.logf)
	if err := m.assignSpecs(ctx); err != nil {
		return m.why(err)
	}
	if err := m.preflight(); err != nil {
		return err
	}
	if m.Config.MeasureFloor {
		if err := m.measureFloor(ctx); err != nil {
			return m.why(err)
		}
	}
	run, err := m.backend.NewRun(ctx, backend.RunOptions{ID: m.Run, Test: m.test, Networks: m.Config.networks()})
	if err != nil {
		return m.why(err)
	}
	m.run, m.Network = run, run.Network()
	if err := m.startNodes(ctx); err != nil {
		return m.why(err)
	}
	if err := m.reshape(ctx); err != nil { // Config.Conditions, if any
		return m.why(err)
	}
	if err := m.converge(ctx); err != nil {
		return m.why(err)
	}
	if !m.Config.Conditions.IsZero() {
		if err := m.calibrate(ctx); err != nil {
			return m.why(err)
		}
	}
	if err := m.watchExits(ctx); err != nil {
		return m.why(err)
	}
	if m.Config.Monitor {
		if err := m.startMonitor(ctx); err != nil {
			return m.why(err)
		}
	}
	for _, s := range m.Config.Services {
		if _, err := m.startService(ctx, s); err != nil {
			return m.why(err)
		}
	}
	return nil
}

// why prefers the reason the mesh was aborted (a signal, the deadline) over
// the context error it caused.
func (m *Mesh) why(err error) error {
	if cause := context.Cause(m.ctx); cause != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return err
}

// alive is an error once the mesh is being removed.
func (m *Mesh) alive() error {
	if m.isClosed.Load() {
		if cause := context.Cause(m.ctx); cause != nil {
			return fmt.Errorf("mesh %s is removed: %w", m.Run, cause)
		}
		return fmt.Errorf("mesh %s is already removed", m.Run)
	}
	return nil
}

func (m *Mesh) measureFloor(ctx context.Context) error {
	f, ok := m.backend.(backend.FloorMeasurer)
	if !ok {
		m.logf("meshtest: the %s backend cannot measure a floor; bring-up is reported alone", m.backend.Name())
		return nil
	}
	times, err := f.Floor(ctx, backend.RunOptions{ID: m.floorRun(), Test: m.test, Networks: m.Config.networks()}, m.Nodes[len(m.Nodes)-1].Instance.Image, m.Graph.N, m.Config.Parallelism, m.logf)
	m.Floor, m.FloorRemove = times.Start, times.Remove
	return err
}

func (m *Mesh) floorRun() string { return m.Run + "-floor" }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Grow adds nodes to the running mesh so that it becomes g, which must
// extend the mesh's topology: the same first nodes, and its edges first (as
// topology.Star(n+k) extends topology.Star(n)). It starts the new nodes,
// proves the whole of g connected, and sets BringUp and Converge to this
// step's times. A benchmark sweep grows one mesh instead of starting a fresh
// one per size.
func (m *Mesh) Grow(t testing.TB, g topology.Graph) {
	t.Helper()
	m.guardDeadline(t, g.N) // a larger mesh takes longer to remove
	if err := m.grow(g); err != nil {
		t.Fatalf("meshtest: grow %s to %d nodes: %v", m.Run, g.N, err)
	}
}

func (m *Mesh) grow(g topology.Graph) error {
	m.busy.Lock()
	defer m.busy.Unlock()
	if err := m.alive(); err != nil {
		return err
	}
	if err := g.Validate(); err != nil {
		return err
	}
	if g.N < m.Graph.N || len(g.Edges) < len(m.Graph.Edges) || !slices.Equal(g.Edges[:len(m.Graph.Edges)], m.Graph.Edges) {
		return fmt.Errorf("topology %q does not extend the mesh's %q (same first nodes and edges, then more)", g.Name, m.Graph.Name)
	}
	if len(m.Config.Groups) > 0 {
		return fmt.Errorf("a mesh with groups cannot grow: which group would new peers join?")
	}
	if grown := (Config{Peers: g.N - 1, NetworkSize: m.Config.NetworkSize}); grown.networks() > m.Config.networks() {
		return fmt.Errorf("%d nodes need %d bridge networks and the mesh has %d: a mesh does not grow onto new networks (start it with as many peers)", g.N, grown.networks(), m.Config.networks())
	}
	if err := checkNetworks(m.Config, g); err != nil {
		return err
	}
	m.Graph = g
	m.Config.Peers = g.N - 1
	if err := m.assignSpecs(m.ctx); err != nil {
		return m.why(err)
	}
	if err := m.startNodes(m.ctx); err != nil {
		return m.why(err)
	}
	if err := m.reshape(m.ctx); err != nil {
		return m.why(err)
	}
	return m.why(m.converge(m.ctx))
}

// Close removes the mesh now rather than when the test ends, e.g. between the
// sizes of a benchmark sweep. Like the cleanup New registers, it saves the
// nodes' logs first when the test has failed, and leaves the mesh running
// when Config.Keep asks for that. It is safe to call more than once.
func (m *Mesh) Close() { m.close() }

// Teardown is how long removing the mesh took: 0 until it is removed.
func (m *Mesh) Teardown() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.teardown
}

// onTeardown registers f to run once the mesh is removed (at once if it
// already is).
func (m *Mesh) onTeardown(f func()) {
	m.mu.Lock()
	if !m.closed {
		m.onClose = append(m.onClose, f)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	f()
}

// abort stops whatever the mesh is doing and removes it: the path of a
// signal and of the test's deadline, from another goroutine than the
// test's.
func (m *Mesh) abort(cause error) {
	m.aborted.Store(true)
	m.cancel(cause)
	m.close()
}

// close removes the mesh unless Config.Keep asks to leave it running. It
// cancels what the mesh is doing, waits (a bounded time) for that to
// return, saves node logs if the test failed, then removes the run and the
// floor run. It is safe to call more than once, from any goroutine.
func (m *Mesh) close() {
	m.closeOnce.Do(func() {
		m.isClosed.Store(true)
		m.cancel(context.Canceled)
		// Wait for bring-up or sampling to notice the cancellation, so that
		// no unit is created after the removal below lists the run.
		waitLock(&m.busy, time.Minute)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), teardownBudget(len(m.Nodes)))
		defer cancel()
		if m.failed() {
			m.saveLogs(ctx)
		}
		var took time.Duration
		if m.Config.Keep && m.run != nil {
			m.logf("meshtest: -keep: mesh %s left running (%d nodes on network %s). Remove it with:\n  %s",
				m.Run, len(m.Nodes), m.Network, m.run.RemoveCommand())
			if m.Prometheus != nil {
				m.logf("meshtest: Prometheus of the mesh: %s (API: %s/api/v1/query?query=...). Queries to start from:\n  %s",
					m.Prometheus.URL, m.Prometheus.URL, strings.Join(exampleQueries, "\n  "))
			}
		} else {
			// Always: a network create cancelled mid-call may still land.
			if m.run != nil {
				m.logf("meshtest: removing mesh %s (%d nodes)", m.Run, len(m.Nodes))
			}
			begin := time.Now()
			m.remove(ctx)
			took = time.Since(begin)
		}
		m.mu.Lock()
		m.closed, m.teardown = true, took
		hooks := m.onClose
		m.onClose = nil
		m.mu.Unlock()
		for _, f := range hooks {
			f() // the summary's rewrite among them, which may ask the backend
		}
		if m.httpc != nil {
			m.httpc.CloseIdleConnections()
		}
		if m.ownedBackend != nil {
			m.ownedBackend.Close()
		}
	})
}

// remove removes the run and the floor run, then looks again: a create the
// engine was still carrying out when an aborted bring-up was cancelled can
// land after the first pass, so an aborted mesh is looked at once more
// after the engine has had time to finish such a call.
func (m *Mesh) remove(ctx context.Context) {
	for _, id := range []string{m.Run, m.floorRun()} {
		lookedLate := !m.aborted.Load()
		for pass := 0; pass < 4; pass++ {
			err := m.backend.RemoveRun(ctx, id, m.logf)
			if err != nil {
				m.logf("meshtest: teardown of %s: %v", id, err)
			}
			left, lerr := m.backend.Leftovers(ctx, id)
			if lerr != nil || onlyStuck(err, left) {
				break
			}
			if len(left) == 0 {
				if lookedLate {
					break
				}
				lookedLate = true
				time.Sleep(2 * time.Second)
				continue
			}
			select {
			case <-ctx.Done():
				m.logf("meshtest: teardown of %s ran out of time; left: %s (the next run sweeps them)", id, strings.Join(left, ", "))
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// onlyStuck reports whether all that is left is a network the engine will
// not remove: trying again would only wait for nothing.
func onlyStuck(err error, left []string) bool {
	if !errors.Is(err, backend.ErrStuckNetwork) {
		return false
	}
	for _, l := range left {
		if !strings.HasPrefix(l, "network ") {
			return false
		}
	}
	return true
}

// waitLock takes and releases mu, or gives up after d.
func waitLock(mu *sync.Mutex, d time.Duration) {
	deadline := time.Now().Add(d)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Unlock()
}

// teardownBudget is how long removing n nodes may take: this engine was
// measured removing 100 containers in 7 to 80 s, so allow a second a node on
// top of two minutes.
func teardownBudget(n int) time.Duration {
	return 2*time.Minute + time.Duration(n)*time.Second
}
