package meshtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/node"
)

// assignSpecs creates the nodes the topology has and the mesh lacks, gives
// each its spec, role and image (building images that need it), and assigns
// identities where specs take them.
func (m *Mesh) assignSpecs(ctx context.Context) error {
	cfg := m.Config
	if m.base == nil {
		m.base = cmp.Or(cfg.Spec, spec.Bundled())
	}
	first := len(m.Nodes) // Grow adds nodes to a running mesh
	for i := first; i < m.Graph.N; i++ {
		n := &Node{Index: i, Role: "peer", Name: fmt.Sprintf("peer-%03d", i), spec: m.base}
		if i == 0 {
			n.Role, n.Name = "bootstrap", "bootstrap"
			n.spec = cmp.Or(cfg.BootstrapSpec, m.base)
		}
		m.Nodes = append(m.Nodes, n)
	}
	if first == 0 {
		next := 1
		for _, g := range cfg.Groups {
			for k := 0; k < g.Count && next < len(m.Nodes); k++ {
				m.Nodes[next].spec = g.Spec
				m.Nodes[next].Role = cmp.Or(g.Name, g.Spec.Name)
				next++
			}
		}
	}
	for _, n := range m.Nodes[first:] {
		n.Group = n.spec.Name
		img, err := m.image(ctx, n.spec, m.Config.Image)
		if err != nil {
			return err
		}
		n.Instance.Image = img
	}
	if first == 0 { // Grow adds nodes of specs already named
		for _, role := range m.Unverified() {
			m.logf("meshtest: the spec of role %q names no connection metric: its nodes' connections are UNVERIFIED (sampling starts once they are ready)", role)
		}
	}
	return m.assignIdentities()
}

// image resolves a spec's image once per mesh.
func (m *Mesh) image(ctx context.Context, s *spec.Spec, override string) (string, error) {
	if img, ok := m.images[s]; ok && override == m.Config.Image {
		return img, nil
	}
	img, err := m.backend.Image(ctx, s, override, m.logf)
	if err != nil {
		return "", err
	}
	if override == m.Config.Image {
		m.images[s] = img
	}
	return img, nil
}

// assignIdentities gives every node whose spec accepts a key its key before
// any node starts, so every such peer ID, and so every dial address, is
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
		n.PeerID = id.String()
	}
	return nil
}

func (m *Mesh) peerData(j int) spec.PeerData {
	n := m.Nodes[j]
	p := spec.PeerData{Name: n.Name, Host: n.Name, ID: n.PeerID, P2PPort: n.spec.P2PPort}
	p.Addr = n.spec.DialAddr(p.Host, p.P2PPort, p.ID)
	return p
}

// nodeData is what node i's templates see. Nodes find each other by their
// name on the mesh network (Docker's embedded DNS answers on internal
// networks too), so a node can be told whom to dial before that one starts.
func (m *Mesh) nodeData(i int) spec.NodeData {
	n := m.Nodes[i]
	d := spec.NodeData{
		Index: i, Name: n.Name, Role: n.Role, Host: n.Name,
		P2PPort: n.spec.P2PPort, MetricsPort: n.spec.MetricsPort,
		Key: n.key, Bootstrap: m.peerData(0),
		Transport: n.spec.TransportName(), Security: n.spec.SecurityName(),
		Topic: m.Config.Workloads.Topic, Perf: m.Config.Workloads.Perf, Ping: m.Config.Workloads.Ping,
	}
	if n.key != "" {
		d.PeerID = n.PeerID
	}
	for _, j := range m.Graph.Dials(i) {
		d.Dial = append(d.Dial, m.peerData(j))
	}
	return d
}

// nodeUnit is node i as the backend runs it: its spec rendered, and
// Config.Env on top (nodes only: services keep their own environment).
func (m *Mesh) nodeUnit(i int) (backend.Unit, error) {
	n := m.Nodes[i]
	u, err := unitOf(n.Name, n.Role, n.spec, n.Instance.Image, m.nodeData(i))
	if err != nil {
		return u, fmt.Errorf("node %s: %w", n.Name, err)
	}
	maps.Copy(u.Env, m.Config.Env)
	u.Networks = m.unitNetworks(i)
	return u, nil
}

func unitOf(name, role string, s *spec.Spec, image string, d spec.NodeData) (backend.Unit, error) {
	r, err := s.Render(d)
	if err != nil {
		return backend.Unit{}, err
	}
	return backend.Unit{
		Name: name, Role: role, Group: s.Name, Image: image, Rendered: r,
		Tmpfs: s.Tmpfs, MetricsPort: s.MetricsPort, MemoryBytes: s.MemoryBytes, CPUs: s.CPUs, CapAdd: s.CapAdd,
	}, nil
}

// startNodes starts every node not yet started, with bounded parallelism,
// printing progress, then learns their addresses with one status call.
// Nodes whose identity the harness assigned all start at once; a node that
// must dial one whose ID is learned from its logs or HTTP waits for that
// ID, so such meshes start in waves (a star: the bootstrap, then every peer).
func (m *Mesh) startNodes(ctx context.Context) error {
	begin := time.Now()
	var started atomic.Int32
	pending := make([]bool, len(m.Nodes))
	total := 0
	for i, n := range m.Nodes {
		pending[i] = !n.started() // Grow starts only the new nodes
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
				if err := m.startNode(gctx, i); err != nil {
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

func (m *Mesh) startNode(ctx context.Context, i int) error {
	n := m.Nodes[i]
	u, err := m.nodeUnit(i)
	if err != nil {
		return err
	}
	inst, err := m.run.Start(ctx, u)
	if inst.Handle != "" {
		n.Instance = inst
	}
	if err != nil {
		return fmt.Errorf("%w%s", err, m.lastLogs(context.WithoutCancel(ctx), n))
	}
	return nil
}

// dialTargetsKnown reports whether every node i dials has a known peer ID.
func (m *Mesh) dialTargetsKnown(i int) bool {
	for _, j := range m.Graph.Dials(i) {
		if m.Nodes[j].PeerID == "" {
			return false
		}
	}
	return true
}

func (m *Mesh) needsDiscovery() bool {
	for _, n := range m.Nodes {
		if n.PeerID == "" {
			return true
		}
	}
	return false
}

// learnAddresses reads every started node's address with one status call,
// and fails for a node that is no longer running.
func (m *Mesh) learnAddresses(ctx context.Context) error {
	status, err := m.run.Status(ctx)
	if err != nil {
		return err
	}
	for _, n := range m.Nodes {
		if !n.started() {
			continue
		}
		st := status[n.Name]
		if !st.Running {
			return fmt.Errorf("node %s exited before the mesh converged (state %q)%s", n.Name, st.State, m.lastLogs(ctx, n))
		}
		if st.MetricsAddr == "" {
			return fmt.Errorf("node %s: no address on network %s to reach its metrics port at%s", n.Name, m.Network, m.lastLogs(ctx, n))
		}
		m.setAddr(n, st)
	}
	return nil
}

// exited returns a started node of this mesh that is no longer running.
func (m *Mesh) exited(ctx context.Context) (*Node, error) {
	status, err := m.run.Status(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range m.Nodes {
		if st, ok := status[n.Name]; n.started() && (!ok || !st.Running) && !m.isDown(n) && !m.exitPending(n.Name) {
			return n, nil
		}
	}
	return nil, nil
}
