package meshtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/meshtest/meshtest/meshtest/cgroup"
	"github.com/meshtest/meshtest/meshtest/monitor"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// PrometheusVersion is the Prometheus server Config.Monitor runs.
const PrometheusVersion = monitor.Version

// PrometheusSpec runs a real Prometheus server, built from source, as a
// service of the mesh, with config as its prometheus.yml.
func PrometheusSpec(config string) *spec.Spec {
	return &spec.Spec{
		Name: "prometheus",
		// The mesh's targets are static: without the cloud service
		// discoveries the first build takes a fraction of the time.
		Build:       &spec.Build{Package: monitor.Package, Tags: monitor.BuildTags},
		P2PPort:     monitor.Port, // unused: a service has no p2p side
		MetricsPort: monitor.Port,
		MetricsPath: "/metrics",
		Args:        monitor.Args(),
		Files:       map[string]string{monitor.ConfigPath: config},
		Identity:    spec.Identity{From: "assigned"},
		Ready:       spec.Ready{HTTPPath: monitor.ReadyPath},
	}
}

// monitorState is Config.Monitor's part of a mesh: the exporter of the
// harness's container samples and the client of the mesh's Prometheus.
type monitorState struct {
	exporter *monitor.Exporter
	client   *monitor.Client
}

// exportCost hands a node's container sample to Prometheus, when monitored.
func (m *Mesh) exportCost(n *Node, st cgroup.Stats) {
	if m.monitor != nil {
		m.monitor.exporter.Set(n.Name, n.Role, n.Group, st)
	}
}

// startMonitor starts the exporter and a Prometheus server scraping the
// whole mesh, and waits until Prometheus scrapes every node, so that it
// covers the whole sampling window, as the harness does.
func (m *Mesh) startMonitor(ctx context.Context) error {
	host, err := m.run.HostAddr(ctx)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	x, err := monitor.NewExporter(host)
	if err != nil {
		return err // says "monitor: …" itself
	}
	m.onTeardown(func() { x.Close() })
	var targets []monitor.Target
	for _, n := range m.Nodes {
		targets = append(targets, monitor.Target{
			Node: n.Name, Role: n.Role, Group: n.Group,
			Address:     fmt.Sprintf("%s:%d", n.Name, n.spec.MetricsPort),
			MetricsPath: n.spec.MetricsPath,
		})
	}
	m.logf("meshtest: -monitor: starting Prometheus %s (built from source the first time: minutes)", monitor.Version)
	s, err := m.startService(ctx, PrometheusSpec(monitor.Config(m.Run, m.Config.Interval, targets, x.Addr())))
	if err != nil {
		return err
	}
	m.Prometheus = s
	c, err := monitor.NewClient(s.URL, m.httpClient().Transport)
	if err != nil {
		return err
	}
	m.monitor = &monitorState{exporter: x, client: c}
	if err := c.WaitTargets(ctx, len(m.Nodes), time.Minute); err != nil {
		return err
	}
	m.logf("meshtest: Prometheus at %s scrapes all %d nodes and the harness", s.URL, len(m.Nodes))
	return nil
}

// exampleQueries are PromQL queries worth running against a mesh, printed
// with -keep.
var exampleQueries = []string{
	`up{job=~"nodes-.*"}`,
	`go_goroutines{role="bootstrap"}`,
	`avg by (role) (go_goroutines)`,
	`meshtest_container_memory_bytes / on(node) group_left max by (node) (meshnode_connections)`,
	`rate(meshtest_container_cpu_seconds[1m])`,
}

// Query runs an instant PromQL query against the mesh's Prometheus and
// returns the result vector's values by their "node" label (or the whole
// label set when there is none). It gives up after monitor.DefaultTimeout.
func (m *Mesh) Query(ctx context.Context, promql string) (map[string]float64, error) {
	if m.monitor == nil {
		return nil, fmt.Errorf("query %q: the mesh has no Prometheus (Config.Monitor)", promql)
	}
	return m.monitor.client.Query(ctx, promql)
}

// snapshotPrometheus asks Prometheus for a TSDB snapshot and copies it out
// into dir/prometheus-snapshot, which any Prometheus opens with
// --storage.tsdb.path (and snapshot.Read reads).
func (m *Mesh) snapshotPrometheus(ctx context.Context, dir string) error {
	if m.monitor == nil {
		return nil
	}
	name, err := m.monitor.client.Snapshot(ctx)
	if err != nil {
		return err
	}
	rc, err := m.run.CopyFrom(ctx, m.Prometheus.Name, monitor.SnapshotDir(name))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer rc.Close()
	dest := filepath.Join(dir, "prometheus-snapshot")
	if err := os.RemoveAll(dest); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return monitor.Untar(rc, dest)
}
