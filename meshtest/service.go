package meshtest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Service is a container in the mesh that is not a node: a monitoring tool,
// a tracing collector, a log store. It is run from a Spec like a node, but has
// no identity and takes no part in convergence; like the nodes it is labelled
// with the run and removed with it.
type Service struct {
	Name      string // also its DNS name on the mesh network
	Container string
	IP        string
	URL       string // http://<IP>:<MetricsPort>, the port the spec calls its metrics port
	spec      *Spec
}

// AddService starts a service from spec on the mesh's network and waits
// until it is ready (the spec's Ready rule; a 200 from its metrics path by
// default).
func (m *Mesh) AddService(t testing.TB, spec *Spec) *Service {
	t.Helper()
	s, err := m.startService(t.Context(), spec)
	if err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	return s
}

func (m *Mesh) startService(ctx context.Context, spec *Spec) (*Service, error) {
	if spec.Identity.From == "" {
		spec.Identity.From = "assigned" // no identity to learn
	}
	if !spec.bundled {
		if err := spec.check(); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
	}
	img, err := m.specImage(ctx, spec)
	if err != nil {
		return nil, err
	}
	n := &Node{Index: -1, Name: spec.Name, Role: "service", Group: spec.Name, Image: img, spec: spec, ID: "-"}
	data := NodeData{Index: -1, Name: n.Name, Role: n.Role, Host: n.Name, P2PPort: spec.P2PPort, MetricsPort: spec.MetricsPort}
	for i := range m.Nodes {
		data.Dial = append(data.Dial, m.peerData(i))
	}
	if len(m.Nodes) > 0 {
		data.Bootstrap = m.peerData(0)
	}
	if err := m.runContainer(ctx, m.test, n, data); err != nil {
		return nil, fmt.Errorf("service %s: %w", spec.Name, err)
	}
	ins, err := m.e.ContainerInspectIP(ctx, n.Container, m.Network)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w%s", spec.Name, err, m.lastLogs(ctx, n))
	}
	n.IP, n.MetricsURL = ins, fmt.Sprintf("http://%s:%d", ins, spec.MetricsPort)
	deadline := time.Now().Add(m.Config.ConvergeTimeout)
	if err := m.awaitNode(ctx, &http.Client{Timeout: 2 * time.Second}, n, deadline); err != nil {
		return nil, fmt.Errorf("service %s: %w", spec.Name, err)
	}
	s := &Service{Name: n.Name, Container: n.Container, IP: n.IP, URL: n.MetricsURL, spec: spec}
	m.Services = append(m.Services, s)
	return s, nil
}
