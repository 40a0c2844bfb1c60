package meshtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/topology"
	"github.com/meshtest/meshtest/node"
)

// Ports of the bundled node inside its container. Nodes are reached on their
// container IPs, so every container can use the same ones.
const (
	P2PPort     = 4001
	MetricsPort = 9090
)

// Node is one running member of the mesh.
type Node struct {
	Index     int    // position in the topology; 0 is the bootstrap
	Name      string // "bootstrap", "peer-007": also its DNS alias on the mesh network
	Role      string // "bootstrap", "peer", or the peer's group name when peers are split in groups
	Group     string // name of the spec the node runs
	ID        string // libp2p peer ID: assigned before start, or learned from the node
	Image     string
	Container string // Docker container ID
	IP        string // address on the mesh network
	// MetricsURL is the node's metrics base URL as the harness reaches it,
	// e.g. "http://172.18.0.5:9090".
	MetricsURL string
	pid        int // the container's init process, for its network counters
	spec       *Spec
	key        string // encoded private key, when identity is assigned
}

// Mesh is a running network of nodes in one topology on its own Docker
// network. Its fields are facts a test may read; New fills them.
type Mesh struct {
	Config  Config
	Graph   topology.Graph
	Run     string // unique to this mesh; the value of every resource's LabelRun
	Network string // Docker network name
	Nodes   []*Node
	// Services are the containers on the mesh's network that are not nodes
	// (Config.Monitor's Prometheus, AddService).
	Services []*Service
	// Prometheus is the Prometheus server Config.Monitor starts, else nil.
	Prometheus *Service

	// Unverified names the groups whose spec gives no way to count
	// connections: their part of the topology is not proven.
	Unverified []string

	// Timings of bring-up, the figures the summary reports.
	Floor    time.Duration // plain containers through the raw Docker API (when Config.MeasureFloor)
	BringUp  time.Duration // create and start every container
	Converge time.Duration // from all started to every edge connected
	Teardown time.Duration // set by close

	e         *engine
	logf      func(string, ...any)
	closeOnce sync.Once
	closed    atomic.Bool
	onClose   []func()  // run after teardown, e.g. to add its time to the summary
	test      string    // name of the test that started the mesh
	base      *Spec     // the spec of peers outside groups
	exporter  *exporter // the harness's samples for Prometheus (Config.Monitor)
}

// New starts a bootstrap and cfg.Peers peers in a star on a fresh Docker
// network and returns once the star is proven: the bootstrap holds every peer
// and every peer holds the bootstrap. Everything it starts is removed by
// t.Cleanup (or on SIGINT/SIGTERM, or before the test's deadline); a failure
// fails the test with the failing node's last log lines.
func New(t testing.TB, cfg Config) *Mesh {
	t.Helper()
	return NewGraph(t, cfg, topology.Star(cfg.Peers))
}

// NewGraph is New for any topology; cfg.Peers is ignored in favour of g.N-1.
func NewGraph(t testing.TB, cfg Config, g topology.Graph) *Mesh {
	t.Helper()
	cfg.Peers = g.N - 1
	if cfg.Name == "" {
		cfg.Name = g.Slug()
	}
	m, err := start(t.Context(), t.Name(), cfg, g, t.Logf)
	if m != nil {
		t.Cleanup(m.close) // registered before the error check: a partial mesh is removed too
		m.saveOnFailure(t) // runs before close: cleanups run last-registered first
		m.guardDeadline(t)
	}
	if err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	return m
}

func start(ctx context.Context, test string, cfg Config, g topology.Graph, logf func(string, ...any)) (*Mesh, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	e, err := newEngine(ctx)
	if err != nil {
		return nil, err
	}
	e.sweep(ctx, logf)

	m := &Mesh{
		Config: cfg,
		Graph:  g,
		Run:    cfg.Name + "-" + randomHex(4),
		e:      e,
		logf:   logf,
		test:   test,
	}
	if err := m.assignSpecs(ctx); err != nil {
		return nil, err
	}
	m.Network = "meshtest-" + m.Run
	unwatch := watchInterrupts(m)
	m.onClose = append(m.onClose, unwatch)

	if err := m.assignIdentities(); err != nil {
		return m, err
	}
	if cfg.MeasureFloor {
		if m.Floor, err = measureFloor(ctx, e, m.Nodes[len(m.Nodes)-1].Image, g.N, cfg.Parallelism, test, logf); err != nil {
			return m, err
		}
	}
	labels := runLabels(m.Run, test)
	if _, err := e.NetworkCreate(ctx, m.Network, client.NetworkCreateOptions{
		Driver: "bridge",
		// Internal: no route out of the mesh, so a node never dials the
		// outside world; the host still reaches container IPs on it.
		Internal: !cfg.PublishPorts,
		Labels:   labels,
	}); err != nil {
		return m, fmt.Errorf("create network %s: %w", m.Network, err)
	}
	if err := m.startNodes(ctx, test); err != nil {
		return m, err
	}
	if err := m.converge(ctx); err != nil {
		return m, err
	}
	if cfg.Monitor {
		if err := m.startMonitor(ctx); err != nil {
			return m, err
		}
	}
	for _, spec := range cfg.Services {
		if _, err := m.startService(ctx, spec); err != nil {
			return m, err
		}
	}
	return m, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// assignIdentities gives every node whose spec accepts a key its key before
// any container starts, so every such peer ID, and so every dial address, is
// known up front and all those nodes can start at once.
func (m *Mesh) assignIdentities() error {
	for i, n := range m.Nodes {
		if n.spec.Identity.From != "assigned" || n.key != "" {
			continue
		}
		priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return fmt.Errorf("generate key for node %d: %w", i, err)
		}
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			return fmt.Errorf("peer ID of node %d: %w", i, err)
		}
		if n.key, err = node.EncodeKey(priv); err != nil {
			return fmt.Errorf("encode key of node %d: %w", i, err)
		}
		n.ID = id.String()
	}
	return nil
}

func (m *Mesh) peerData(j int) PeerData {
	n := m.Nodes[j]
	p := PeerData{Name: n.Name, Host: n.Name, ID: n.ID, P2PPort: n.spec.P2PPort}
	p.Addr = fmt.Sprintf("/dns4/%s/tcp/%d/p2p/%s", p.Host, p.P2PPort, p.ID)
	return p
}

// nodeData is what node i's templates see. Nodes find each other by their
// alias on the mesh network (Docker's embedded DNS answers on internal
// networks too), so a node can be told whom to dial before that one starts.
func (m *Mesh) nodeData(i int) NodeData {
	n := m.Nodes[i]
	d := NodeData{
		Index: i, Name: n.Name, Role: n.Role, Host: n.Name,
		P2PPort: n.spec.P2PPort, MetricsPort: n.spec.MetricsPort,
		Key: n.key, Bootstrap: m.peerData(0),
	}
	if n.key != "" {
		d.PeerID = n.ID
	}
	for _, j := range m.Graph.Dials(i) {
		d.Dial = append(d.Dial, m.peerData(j))
	}
	return d
}

// startNodes creates and starts every container with bounded parallelism,
// printing progress, then learns their addresses with one list call. Nodes
// whose identity the harness assigned all start at once; a node that must
// dial one whose ID is learned from its logs or HTTP waits for that ID, so
// such meshes start in waves (a star: the bootstrap, then every peer).
func (m *Mesh) startNodes(ctx context.Context, test string) error {
	begin := time.Now()
	var started atomic.Int32
	pending := make([]bool, len(m.Nodes))
	total := 0
	for i, n := range m.Nodes {
		pending[i] = n.Container == "" // Grow starts only the new nodes
		if pending[i] {
			total++
		}
	}
	step := max(total/10, 10)
	for left := total; left > 0; {
		var wave []int
		for i, p := range pending {
			if p && m.dialTargetsKnown(i) {
				wave = append(wave, i)
			}
		}
		if len(wave) == 0 {
			return fmt.Errorf("no node can start: each waits for the peer ID of a node it dials (identity learned after start) in a cycle")
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(m.Config.Parallelism)
		for _, i := range wave {
			g.Go(func() error {
				if err := m.startNode(gctx, test, i, m.Nodes[i]); err != nil {
					return err
				}
				if k := int(started.Add(1)); k%step == 0 || k == total {
					m.logf("meshtest: started %d/%d nodes, %.1f s", k, total, time.Since(begin).Seconds())
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for _, i := range wave {
			pending[i] = false
		}
		left -= len(wave)
		if left > 0 || m.needsDiscovery() {
			if err := m.learnAddresses(ctx); err != nil {
				return err
			}
			if err := m.awaitNodes(ctx, wave); err != nil {
				return err
			}
		}
	}
	m.BringUp = time.Since(begin)
	if err := m.learnAddresses(ctx); err != nil {
		return err
	}
	return m.awaitNodes(ctx, nil)
}

// dialTargetsKnown reports whether every node i dials has a known peer ID.
func (m *Mesh) dialTargetsKnown(i int) bool {
	for _, j := range m.Graph.Dials(i) {
		if m.Nodes[j].ID == "" {
			return false
		}
	}
	return true
}

func (m *Mesh) needsDiscovery() bool {
	for _, n := range m.Nodes {
		if n.ID == "" {
			return true
		}
	}
	return false
}

// learnAddresses reads every started node's address with one list call.
func (m *Mesh) learnAddresses(ctx context.Context) error {
	list, err := m.e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(m.Run)})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	byName := map[string]*Node{}
	for _, n := range m.Nodes {
		byName[n.Name] = n
	}
	state := map[*Node]string{}
	for _, c := range list.Items {
		n := byName[c.Labels[LabelNode]]
		if n == nil {
			continue
		}
		state[n] = string(c.State)
		if c.NetworkSettings == nil {
			continue
		}
		if ep := c.NetworkSettings.Networks[m.Network]; ep != nil && ep.IPAddress.IsValid() {
			n.IP = ep.IPAddress.String()
			n.MetricsURL = fmt.Sprintf("http://%s:%d", n.IP, n.spec.MetricsPort)
		}
		if m.Config.PublishPorts {
			n.MetricsURL = ""
			for _, p := range c.Ports {
				if int(p.PrivatePort) == n.spec.MetricsPort && p.PublicPort != 0 && p.IP.IsLoopback() {
					n.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d", p.PublicPort)
				}
			}
		}
	}
	for _, n := range m.Nodes {
		if n.Container == "" {
			continue // not started yet
		}
		if st := state[n]; st != "running" {
			return fmt.Errorf("node %s exited before the mesh converged (container %s)%s", n.Name, st, m.lastLogs(ctx, n))
		}
		if n.IP == "" || n.MetricsURL == "" {
			return fmt.Errorf("node %s: no address on network %s (or no metrics port on 127.0.0.1)%s", n.Name, m.Network, m.lastLogs(ctx, n))
		}
	}
	return nil
}

func (m *Mesh) startNode(ctx context.Context, test string, i int, n *Node) error {
	return m.runContainer(ctx, test, n, m.nodeData(i))
}

// runContainer creates and starts the container of a node or service, its
// spec's templates filled with data.
func (m *Mesh) runContainer(ctx context.Context, test string, n *Node, data NodeData) error {
	labels := runLabels(m.Run, test)
	labels[LabelNode] = n.Name
	labels[LabelRole] = n.Role
	labels[LabelGroup] = n.Group
	spec := n.spec
	env := map[string]string{}
	for k, v := range spec.Env {
		r, err := render(v, data)
		if err != nil {
			return fmt.Errorf("node %s (spec %s): env %s: %w", n.Name, spec.Name, k, err)
		}
		env[k] = r
	}
	for k, v := range m.Config.Env {
		env[k] = v
	}
	var args []string
	for _, a := range spec.Args {
		r, err := render(a, data)
		if err != nil {
			return fmt.Errorf("node %s (spec %s): args: %w", n.Name, spec.Name, err)
		}
		args = append(args, r)
	}
	var files []testcontainers.ContainerFile
	for path, content := range spec.Files {
		r, err := render(content, data)
		if err != nil {
			return fmt.Errorf("node %s (spec %s): file %s: %w", n.Name, spec.Name, path, err)
		}
		files = append(files, testcontainers.ContainerFile{Reader: strings.NewReader(r), ContainerFilePath: path, FileMode: 0o644})
	}
	var exposed []string
	if m.Config.PublishPorts {
		exposed = []string{fmt.Sprintf("%d/tcp", spec.MetricsPort)}
	}
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          n.Image,
			Name:           "meshtest-" + m.Run + "-" + n.Name,
			Cmd:            args,
			Env:            env,
			Labels:         labels,
			Files:          files,
			Tmpfs:          spec.Tmpfs,
			Networks:       []string{m.Network},
			NetworkAliases: map[string][]string{m.Network: {n.Name}},
			ExposedPorts:   exposed,
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.CapDrop = []string{"ALL"}
				hc.CapAdd = spec.CapAdd
				hc.SecurityOpt = []string{"no-new-privileges"}
				// Docker cannot copy files into a read-only root filesystem.
				hc.ReadonlyRootfs = len(spec.Files) == 0
				hc.Memory = spec.MemoryBytes
				hc.NanoCPUs = int64(spec.CPUs * 1e9)
				if m.Config.PublishPorts {
					// Loopback only, with a port the engine picks: never 0.0.0.0.
					hc.PortBindings = network.PortMap{
						network.MustParsePort(exposed[0]): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
					}
				}
			},
		},
		Started: true,
		// testcontainers logs every container's lifecycle; at 100 nodes that
		// buries the test's own output, so progress is ours to print.
		Logger: tclog.NewNoopLogger(),
	}
	c, err := testcontainers.GenericContainer(ctx, req)
	if c != nil {
		n.Container = c.GetContainerID()
	}
	if err != nil {
		return fmt.Errorf("start %s (%s): %w%s", n.Name, n.Image, err, m.lastLogs(context.WithoutCancel(ctx), n))
	}
	return nil
}

// Grow adds nodes to the running mesh so that it becomes g, which must
// extend the mesh's topology: the same first nodes, and its edges first (as
// topology.Star(n+k) extends topology.Star(n)). It starts the new nodes,
// proves the whole of g connected, and sets BringUp and Converge to this
// step's times. A benchmark sweep grows one mesh instead of starting a fresh
// one per size.
func (m *Mesh) Grow(t testing.TB, g topology.Graph) {
	t.Helper()
	if err := m.grow(t.Context(), g); err != nil {
		t.Fatalf("meshtest: grow %s to %d nodes: %v", m.Run, g.N, err)
	}
}

func (m *Mesh) grow(ctx context.Context, g topology.Graph) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if g.N < m.Graph.N || len(g.Edges) < len(m.Graph.Edges) || !slices.Equal(g.Edges[:len(m.Graph.Edges)], m.Graph.Edges) {
		return fmt.Errorf("topology %q does not extend the mesh's %q (same first nodes and edges, then more)", g.Name, m.Graph.Name)
	}
	if len(m.Config.Groups) > 0 {
		return fmt.Errorf("a mesh with groups cannot grow: which group would new peers join?")
	}
	if g.N > MaxNodes {
		return fmt.Errorf("%d nodes: one Docker bridge network holds at most %d", g.N, MaxNodes)
	}
	m.Graph = g
	m.Config.Peers = g.N - 1
	if err := m.assignSpecs(ctx); err != nil {
		return err
	}
	if err := m.startNodes(ctx, m.test); err != nil {
		return err
	}
	return m.converge(ctx)
}

// Close removes the mesh now rather than when the test ends, e.g. between the
// sizes of a benchmark sweep. Like the cleanup New registers, it leaves the
// mesh running when Config.Keep asks for that. It is safe to call more than
// once.
func (m *Mesh) Close() { m.close() }

// close removes the mesh unless Config.Keep asks to leave it running. It is
// safe to call more than once and from a signal handler.
func (m *Mesh) close() {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if m.Config.Keep {
			m.logf("meshtest: -keep: mesh %s left running (%d nodes on network %s). Remove it with:\n"+
				"  docker rm -f $(docker ps -aq --filter label=%s=%s) && docker network rm %s",
				m.Run, len(m.Nodes), m.Network, LabelRun, m.Run, m.Network)
			if m.Prometheus != nil {
				m.logf("meshtest: Prometheus of the mesh: %s (API: %s/api/v1/query?query=...). Queries to start from:\n  %s",
					m.Prometheus.URL, m.Prometheus.URL, strings.Join(exampleQueries, "\n  "))
			}
		} else {
			begin := time.Now()
			if err := m.e.removeRun(ctx, m.Run, 2*m.Config.Parallelism); err != nil {
				m.logf("meshtest: teardown of %s: %v", m.Run, err)
			}
			m.Teardown = time.Since(begin)
		}
		for _, f := range m.onClose {
			f()
		}
	})
}

// guardDeadline removes the mesh shortly before `go test -timeout` would
// kill the process, since a timed-out test binary runs no cleanups.
func (m *Mesh) guardDeadline(t testing.TB) {
	tt, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return
	}
	deadline, ok := tt.Deadline()
	if !ok {
		return
	}
	// Removal runs ~5 s per 100 containers here; leave room for twice that.
	budget := 20*time.Second + time.Duration(len(m.Nodes))*100*time.Millisecond
	timer := time.AfterFunc(time.Until(deadline)-budget, func() {
		if m.closed.Load() {
			return
		}
		t.Errorf("meshtest: the test's -timeout expires in %v: removing mesh %s now so nothing is left behind", budget, m.Run)
		m.close()
	})
	m.onClose = append(m.onClose, func() { timer.Stop() })
}
