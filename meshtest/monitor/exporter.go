package monitor

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meshtest/meshtest/meshtest/cgroup"
)

// Exporter serves the harness's container-level samples (cgroup CPU,
// memory, network, PIDs per node) so that Prometheus holds them beside each
// node's own metrics: one query can divide a node's goroutines by its
// container's memory. The gauges are meshtest_container_cpu_seconds,
// _memory_bytes, _memory_rss_bytes, _pids, _network_receive_bytes and
// _network_transmit_bytes, labelled node, role and group, in the units of
// cgroup.Stats.
//
// They live on the Exporter's own registry, never the global one: the
// harness's process metrics are not the mesh's, and two meshes in one test
// binary must not share gauges.
type Exporter struct {
	srv                         *http.Server
	addr                        string
	cpu, mem, rss, pids, rx, tx *prometheus.GaugeVec
}

// NewExporter starts an Exporter listening on host at a free port. Deploying
// code passes the mesh network's gateway, the host's address on that
// bridge, which the containers reach even on an internal network, and
// nothing else does. Close stops it.
func NewExporter(host string) (*Exporter, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("monitor: exporter: listen on %s: %w", host, err)
	}
	labels := []string{"node", "role", "group"}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "meshtest", Subsystem: "container", Name: name, Help: help}, labels)
	}
	x := &Exporter{
		addr: ln.Addr().String(),
		cpu:  gauge("cpu_seconds", "CPU time of the node's container (cgroup), seconds since it started."),
		mem:  gauge("memory_bytes", "Memory of the node's container minus inactive file cache, as docker stats shows."),
		rss:  gauge("memory_rss_bytes", "Anonymous memory of the node's container."),
		pids: gauge("pids", "Tasks in the node's container."),
		rx:   gauge("network_receive_bytes", "Bytes the node's container received, all interfaces but lo."),
		tx:   gauge("network_transmit_bytes", "Bytes the node's container sent, all interfaces but lo."),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(x.cpu, x.mem, x.rss, x.pids, x.rx, x.tx)
	// The exposition is answered at any path; Prometheus asks for /metrics.
	x.srv = &http.Server{
		Handler:           promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go x.srv.Serve(ln) // returns http.ErrServerClosed on Close
	return x, nil
}

// Addr is host:port the Exporter listens on, the harness target of Config.
func (x *Exporter) Addr() string { return x.addr }

// Set records the latest sample of node's container. Prometheus sees it at
// its next scrape; a sample overwritten before then is not seen at all,
// which is why the harness keeps its own samples for its figures.
func (x *Exporter) Set(node, role, group string, st cgroup.Stats) {
	l := prometheus.Labels{"node": node, "role": role, "group": group}
	x.cpu.With(l).Set(st.CPUSeconds)
	x.mem.With(l).Set(st.MemoryBytes)
	x.rss.With(l).Set(st.MemoryRSSBytes)
	x.pids.With(l).Set(st.PIDs)
	x.rx.With(l).Set(st.NetRxBytes)
	x.tx.With(l).Set(st.NetTxBytes)
}

// Close stops the Exporter and closes its listener and connections. It may
// be called more than once.
func (x *Exporter) Close() error {
	if err := x.srv.Close(); err != nil {
		return fmt.Errorf("monitor: exporter: close: %w", err)
	}
	return nil
}
