package metrics

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingServer serves a registry with one gauge and counts the TCP
// connections clients open to it.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func gaugeHandler() http.Handler {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshnode_peers", Help: "peers"})
	g.Set(7)
	reg.MustRegister(g)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

func TestTargetReusesOneConnection(t *testing.T) {
	srv, conns := countingServer(t, gaugeHandler())
	tg, err := NewTarget(srv.URL + "/metrics")
	require.NoError(t, err)
	defer tg.Close()
	for range 20 {
		fams, err := tg.Scrape(t.Context(), time.Second)
		require.NoError(t, err)
		v, ok := fams.Value("meshnode_peers", nil)
		require.True(t, ok)
		assert.Equal(t, 7.0, v)
	}
	assert.Equal(t, int32(1), conns.Load(), "20 scrapes over one kept connection")
}

func TestTargetReconnectsAfterServerClose(t *testing.T) {
	srv, conns := countingServer(t, gaugeHandler())
	tg, err := NewTarget(srv.URL + "/metrics")
	require.NoError(t, err)
	defer tg.Close()
	_, err = tg.Scrape(t.Context(), time.Second)
	require.NoError(t, err)
	srv.CloseClientConnections() // the endpoint drops idle connections
	_, err = tg.Scrape(t.Context(), time.Second)
	require.NoError(t, err, "a stale kept connection is replaced, not reported")
	assert.Equal(t, int32(2), conns.Load())
}

func TestTargetErrors(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "no such page", http.StatusNotFound)
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		}
	}))
	for _, tc := range []struct{ path, want string }{
		{"/missing", "status 404 Not Found"},
		{"/slow", "timeout"},
	} {
		tg, err := NewTarget(srv.URL + tc.path)
		require.NoError(t, err)
		_, err = tg.Scrape(context.Background(), 100*time.Millisecond)
		assert.ErrorContains(t, err, tc.want, tc.path)
		assert.ErrorContains(t, err, srv.URL+tc.path, "the error names the URL")
		tg.Close()
	}
	_, err := NewTarget("https://example.invalid/metrics")
	assert.ErrorContains(t, err, "want an http://host:port/path URL")
}
