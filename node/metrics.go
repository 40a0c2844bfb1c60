package node

import (
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// registries keeps the node's metrics in separate registries by source, never
// the global one (two in-process nodes would collide there). Splitting them
// lets a filtered scrape skip sources it does not need: the harness asks for
// a handful of families from 100 nodes every second.
type registries struct {
	libp2p  *prometheus.Registry // handed to libp2p.PrometheusRegisterer
	node    *prometheus.Registry // the meshnode_* families
	sources []source             // checked in order; the last one catches all names
	all     prometheus.Gatherer
	proc    prometheus.Gatherer // an io.Closer on Linux: it keeps /proc files open
}

// source is a registry and the name prefix of every family it holds.
type source struct {
	prefix string // "" matches every name
	g      prometheus.Gatherer
}

func newRegistries(h func() host.Host, peerID string) *registries {
	goReg := prometheus.NewRegistry()
	goReg.MustRegister(collectors.NewGoCollector())
	proc := newProcessSource()
	nodeReg := prometheus.NewRegistry()
	nodeReg.MustRegister(&nodeCollector{host: h, info: prometheus.MustNewConstMetric(
		infoDesc, prometheus.GaugeValue, 1, peerID, version(), libp2pVersion())})
	p2pReg := prometheus.NewRegistry()

	r := &registries{
		libp2p: p2pReg,
		node:   nodeReg,
		proc:   proc,
		sources: []source{
			{"go_", goReg},
			{"process_", proc},
			{"meshnode_", nodeReg},
			{"", p2pReg},
		},
	}
	r.all = prometheus.Gatherers{goReg, proc, nodeReg, p2pReg}
	return r
}

// standardProcessSource is client_golang's process collector in a registry
// of its own: the process_* source where newProcessSource has no leaner one.
func standardProcessSource() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// close releases what the sources hold open. Scrapes after it go without
// the process figures they read from files.
func (r *registries) close() error {
	if c, ok := r.proc.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// gatherer returns what a scrape asking for names should collect: everything
// when names is empty, otherwise only the families named, gathered only from
// the sources that can hold them.
func (r *registries) gatherer(names []string) prometheus.Gatherer {
	if len(names) == 0 {
		return r.all
	}
	var gs prometheus.Gatherers
	for _, s := range r.sources {
		if slices.ContainsFunc(names, func(n string) bool { return r.owner(n) == s.g }) {
			gs = append(gs, s.g)
		}
	}
	return filterGatherer{g: gs, names: names}
}

// owner is the source whose prefix a name carries.
func (r *registries) owner(name string) prometheus.Gatherer {
	for _, s := range r.sources {
		if strings.HasPrefix(name, s.prefix) {
			return s.g
		}
	}
	return nil
}

// filterGatherer keeps only the families whose name is in names.
type filterGatherer struct {
	g     prometheus.Gatherer
	names []string
}

// Gather implements prometheus.Gatherer.
func (f filterGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := f.g.Gather()
	return slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool {
		return !slices.Contains(f.names, mf.GetName())
	}), err
}

var (
	connsDesc = prometheus.NewDesc("meshnode_connections",
		"Open libp2p connections, counted at scrape time.", nil, nil)
	peersDesc = prometheus.NewDesc("meshnode_peers",
		"Peers with at least one open connection, counted at scrape time.", nil, nil)
	streamsDesc = prometheus.NewDesc("meshnode_streams",
		"Open streams over all connections, counted at scrape time.", nil, nil)
	infoDesc = prometheus.NewDesc("meshnode_info",
		"Always 1; labels identify the node and its build.", []string{"peer_id", "version", "libp2p"}, nil)
)

// nodeCollector reads the counts from the host when scraped, so they are
// exact at that instant rather than maintained by hooks that could drift.
type nodeCollector struct {
	host func() host.Host // nil until the host exists
	info prometheus.Metric
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsDesc
	ch <- peersDesc
	ch <- streamsDesc
	ch <- infoDesc
}

// Collect implements prometheus.Collector.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- c.info
	h := c.host()
	if h == nil {
		return
	}
	conns := h.Network().Conns()
	streams := 0
	peers := make(map[string]struct{}, len(conns))
	for _, conn := range conns {
		streams += conn.Stat().NumStreams
		peers[string(conn.RemotePeer())] = struct{}{}
	}
	ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(len(conns)))
	ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(len(peers)))
	ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(streams))
}

// version is the meshnode build: the VCS revision when built from a checkout,
// else the module version ("(devel)" in tests).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v = s.Value[:12]
		}
	}
	if v == "" {
		v = "unknown"
	}
	return v
}

// libp2pVersion is the go-libp2p module the binary was built with, so results
// from different libp2p versions are told apart.
func libp2pVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/libp2p/go-libp2p" {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}
