package node

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// scrapeQueries are what the benchmark compares: everything, and the handful
// of families the harness samples every second.
var scrapeQueries = []struct{ name, query string }{
	{"full", ""},
	{"filtered", "?name[]=go_goroutines&name[]=go_memstats_heap_inuse_bytes&name[]=process_resident_memory_bytes" +
		"&name[]=process_cpu_seconds_total&name[]=process_open_fds&name[]=meshnode_connections&name[]=meshnode_peers&name[]=meshnode_streams"},
	// Without process_* the /proc reads are skipped (15-40 µs on Linux;
	// the standard collector, used elsewhere, costs about 1 ms).
	{"go-and-node", "?name[]=go_goroutines&name[]=go_memstats_heap_inuse_bytes&name[]=meshnode_connections&name[]=meshnode_peers"},
}

// BenchmarkMetrics measures one /metrics scrape of a node holding 10
// connections, through the handler (no socket), in the text format the
// harness reads. Reports the payload in B/scrape; ns/op is the node's CPU per
// scrape, the cost the harness adds to every node it samples.
func BenchmarkMetrics(b *testing.B) {
	hub := startNode(b, Config{})
	for range 10 {
		startNode(b, Config{Dial: []ma.Multiaddr{dialAddr(b, hub)}})
	}
	require.Eventually(b, func() bool { return len(hub.host.Network().Conns()) == 10 }, 10*time.Second, 10*time.Millisecond)

	for _, q := range scrapeQueries {
		b.Run("payload="+q.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics"+q.query, nil)
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				hub.httpSrv.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET /metrics%s: %d %s", q.query, rec.Code, rec.Body)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "B/scrape")
		})
	}
}

func TestFilteredScrapeIsSmall(t *testing.T) {
	n := startNode(t, Config{})
	sizes := map[string]int{}
	for _, q := range scrapeQueries {
		rec := httptest.NewRecorder()
		n.httpSrv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics"+q.query, nil))
		require.Equal(t, http.StatusOK, rec.Code)
		sizes[q.name] = rec.Body.Len()
	}
	t.Logf("/metrics payload: %v", sizes)
	require.Less(t, sizes["filtered"]*10, sizes["full"], "the filter should cut the payload at least tenfold")
}
