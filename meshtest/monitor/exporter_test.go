package monitor

import (
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meshtest/meshtest/meshtest/cgroup"
)

func TestExporter(t *testing.T) {
	x, err := NewExporter("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })

	x.Set("bootstrap", "bootstrap", "bootstrap", cgroup.Stats{
		CPUSeconds: 1.5, MemoryBytes: 20e6, MemoryRSSBytes: 12e6, PIDs: 9, NetRxBytes: 1000, NetTxBytes: 2000,
	})
	x.Set("peer-0", "peer", "peers", cgroup.Stats{CPUSeconds: 0.25, MemoryBytes: 8e6})
	x.Set("peer-0", "peer", "peers", cgroup.Stats{CPUSeconds: 0.5, MemoryBytes: 9e6}) // the latest counts

	resp, err := http.Get("http://" + x.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", x.Addr(), err)
	}
	for _, c := range []struct {
		family, node string
		want         float64
	}{
		{"meshtest_container_cpu_seconds", "bootstrap", 1.5},
		{"meshtest_container_memory_bytes", "bootstrap", 20e6},
		{"meshtest_container_memory_rss_bytes", "bootstrap", 12e6},
		{"meshtest_container_pids", "bootstrap", 9},
		{"meshtest_container_network_receive_bytes", "bootstrap", 1000},
		{"meshtest_container_network_transmit_bytes", "bootstrap", 2000},
		{"meshtest_container_cpu_seconds", "peer-0", 0.5},
		{"meshtest_container_memory_bytes", "peer-0", 9e6},
	} {
		f, ok := fams[c.family]
		if !ok {
			t.Errorf("no %s in the exposition", c.family)
			continue
		}
		found := false
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["node"] != c.node {
				continue
			}
			found = true
			if got := m.GetGauge().GetValue(); got != c.want {
				t.Errorf("%s{node=%q} = %g, want %g", c.family, c.node, got, c.want)
			}
			if c.node == "peer-0" && (l["role"] != "peer" || l["group"] != "peers") {
				t.Errorf("%s{node=%q}: labels %v, want role peer, group peers", c.family, c.node, l)
			}
		}
		if !found {
			t.Errorf("no %s{node=%q}", c.family, c.node)
		}
	}
	// Its own registry: none of the harness process's metrics.
	if _, ok := fams["go_goroutines"]; ok {
		t.Error("the exporter serves the global registry's go_goroutines")
	}

	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get("http://" + x.Addr() + "/metrics"); err == nil {
		t.Error("the exporter still answers after Close")
	}
}
