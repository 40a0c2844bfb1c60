// Command gen records the scrape payloads under metrics/testdata from a real
// go-libp2p host, so the parser tests and benchmarks run against what a node
// of the bundled kind actually exposes rather than a hand-written guess.
//
// Two hosts are connected over TCP on loopback and ping each other, which
// fills the swarm, identify and resource-manager families with series. The
// meshnode_* gauges stand in for the bundled node's own figures. Run from the
// repository root:
//
//	go run ./meshtest/metrics/testdata/gen
//
// It lives under testdata so that ./... patterns (and so go vet and the unit
// tests) never build go-libp2p for the metrics package.
package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// filtered lists the families the harness asks a node for by default; it
// mirrors metrics.FamilyNames(metrics.DefaultQueries()).
var filtered = []string{
	"go_goroutines",
	"go_memstats_heap_inuse_bytes",
	"process_resident_memory_bytes",
	"process_open_fds",
	"process_cpu_seconds_total",
	"meshnode_connections",
	"meshnode_peers",
	"meshnode_streams",
}

func main() {
	if err := run(context.Background(), "meshtest/metrics/testdata"); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dir string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	a, err := newHost(reg)
	if err != nil {
		return fmt.Errorf("host a: %w", err)
	}
	defer a.Close()
	// b keeps its metrics off reg: the payload is one node's view.
	b, err := newHost(prometheus.NewRegistry())
	if err != nil {
		return fmt.Errorf("host b: %w", err)
	}
	defer b.Close()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	results := ping.Ping(pctx, a, b.ID())
	for range 5 {
		if r := <-results; r.Error != nil {
			return fmt.Errorf("ping: %w", r.Error)
		}
	}
	cancel()
	time.Sleep(200 * time.Millisecond) // let identify and the rcmgr settle

	node := prometheus.WrapRegistererWithPrefix("meshnode_", reg)
	for name, v := range map[string]float64{"connections": 1, "peers": 1, "streams": 2} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "Current number of " + name + " of this node."})
		g.Set(v)
		node.MustRegister(g)
	}

	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gather: %w", err)
	}
	want := make(map[string]bool)
	for _, n := range filtered {
		want[n] = true
	}
	var small []*dto.MetricFamily
	for _, mf := range mfs {
		if want[mf.GetName()] {
			small = append(small, mf)
		}
	}
	if err := write(filepath.Join(dir, "node-full.txt"), mfs); err != nil {
		return err
	}
	return write(filepath.Join(dir, "node-filtered.txt"), small)
}

func newHost(reg prometheus.Registerer) (host.Host, error) {
	return libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.PrometheusRegisterer(reg),
	)
}

func write(path string, mfs []*dto.MetricFamily) error {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write payload: %w", err)
	}
	log.Printf("%s: %d families, %d bytes", path, len(mfs), buf.Len())
	return nil
}
