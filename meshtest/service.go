package meshtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// Service is a unit in the mesh that is not a node: a monitoring tool, a
// tracing collector, a log store. It is run from a Spec like a node, but has
// no identity and takes no part in convergence; like the nodes it belongs to
// the run and is removed with it.
type Service struct {
	Name     string // also its DNS name on the mesh network
	IP       string
	URL      string // http://<address>:<port>, the port the spec calls its metrics port
	Instance backend.Instance
	spec     *spec.Spec
}

// AddService starts a service from spec on the mesh's network and waits
// until it is ready (the spec's Ready rule; a 200 from its metrics path by
// default).
func (m *Mesh) AddService(t testing.TB, s *spec.Spec) *Service {
	t.Helper()
	m.busy.Lock()
	defer m.busy.Unlock()
	if err := m.alive(); err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	svc, err := m.startService(m.ctx, s)
	if err != nil {
		t.Fatalf("meshtest: %v", m.why(err))
	}
	return svc
}

// startService runs a service with its own spec's image and environment:
// Config.Image and Config.Env are the nodes', not the services'.
func (m *Mesh) startService(ctx context.Context, s *spec.Spec) (*Service, error) {
	s = serviceSpec(s)
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	u, err := m.serviceUnit(ctx, s)
	if err != nil {
		return nil, err
	}
	inst, err := m.run.Start(ctx, u)
	n := &Node{Index: -1, Name: s.Name, Role: "service", Group: s.Name, Instance: inst, spec: s, PeerID: "-"}
	if err != nil {
		return nil, fmt.Errorf("service %s: %w%s", s.Name, err, m.lastLogs(context.WithoutCancel(ctx), n))
	}
	status, err := m.run.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Name, err)
	}
	st := status[s.Name]
	if !st.Running || st.MetricsAddr == "" {
		return nil, fmt.Errorf("service %s: not running (state %q) or no address%s", s.Name, st.State, m.lastLogs(ctx, n))
	}
	n.IP, n.MetricsURL = st.IP, "http://"+st.MetricsAddr
	if err := m.awaitNode(ctx, n, s, time.Now().Add(m.Config.ConvergeTimeout)); err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Name, err)
	}
	svc := &Service{Name: n.Name, IP: n.IP, URL: n.MetricsURL, Instance: inst, spec: s}
	m.Services = append(m.Services, svc)
	return svc, nil
}

// serviceUnit renders a service's spec: it sees every node as one to dial,
// and the bootstrap, so a tool can be pointed at the mesh.
func (m *Mesh) serviceUnit(ctx context.Context, s *spec.Spec) (backend.Unit, error) {
	img, err := m.backend.Image(ctx, s, "", m.logf)
	if err != nil {
		return backend.Unit{}, fmt.Errorf("service %s: %w", s.Name, err)
	}
	data := spec.NodeData{Index: -1, Name: s.Name, Role: "service", Host: s.Name, P2PPort: s.P2PPort, MetricsPort: s.MetricsPort}
	for i := range m.Nodes {
		data.Dial = append(data.Dial, m.peerData(i))
	}
	if len(m.Nodes) > 0 {
		data.Bootstrap = m.peerData(0)
	}
	u, err := unitOf(s.Name, "service", s, img, data)
	if err != nil {
		return u, fmt.Errorf("service %s: %w", s.Name, err)
	}
	u.Networks = m.unitNetworks(-1)
	return u, nil
}
