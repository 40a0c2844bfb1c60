package metrics_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meshtest/meshtest/meshtest/metrics"
)

// A sampler scrapes each node for the default figures only.
func Example() {
	// A stand-in node exposing one of the figures.
	reg := prometheus.NewRegistry()
	conns := prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshnode_connections", Help: "Open connections."})
	conns.Set(100)
	reg.MustRegister(conns)
	node := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer node.Close()

	s := metrics.NewScraper(time.Second)
	defer s.Close()
	qs := metrics.DefaultQueries()
	fams, err := s.Scrape(context.Background(), metrics.FilterURL(node.URL, metrics.FamilyNames(qs)))
	if err != nil {
		fmt.Println(err)
		return
	}
	values, missing := metrics.Extract(fams, qs)
	fmt.Println("connections:", values["connections"])
	fmt.Println("missing:", missing)
	// Output:
	// connections: 100
	// missing: [goroutines heap_inuse_bytes rss_bytes open_fds process_cpu_seconds peers streams]
}
