package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
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

// resettingServer serves gaugeHandler (meshnode_peers 7), except that the
// request after arm() is answered by hand (meshnode_peers 3) on a connection
// the server then holds, until reset() aborts it with an RST (SO_LINGER 0,
// then close) while the client keeps it idle.
func resettingServer(t *testing.T) (srv *httptest.Server, conns *atomic.Int32, arm, reset func()) {
	var armed atomic.Bool
	held := make(chan net.Conn, 1)
	gauge := gaugeHandler()
	srv, conns = countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !armed.CompareAndSwap(true, false) {
			gauge.ServeHTTP(w, r)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err, "hijack") {
			return
		}
		const body = "meshnode_peers 3\n"
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		assert.NoError(t, brw.Flush())
		held <- c
	}))
	arm = func() { armed.Store(true) }
	reset = func() {
		t.Helper()
		c := <-held
		require.NoError(t, c.(*net.TCPConn).SetLinger(0))
		require.NoError(t, c.Close())
	}
	return srv, conns, arm, reset
}

func TestTargetRetriesResetConnection(t *testing.T) {
	srv, conns, arm, reset := resettingServer(t)
	tg, err := NewTarget(srv.URL + "/metrics")
	require.NoError(t, err)
	defer tg.Close()

	arm()
	fams, err := tg.Scrape(t.Context(), time.Second)
	require.NoError(t, err)
	v, _ := fams.Value("meshnode_peers", nil)
	require.Equal(t, 3.0, v, "first scrape answered on the connection to be reset")

	reset() // the kept connection is now dead, and the Target does not know
	fams, err = tg.Scrape(t.Context(), time.Second)
	require.NoError(t, err, "a kept connection reset by the endpoint is replaced, not reported")
	v, _ = fams.Value("meshnode_peers", nil)
	assert.Equal(t, 7.0, v, "answered on a new connection")
	assert.Equal(t, int32(2), conns.Load())
}

// TestTargetResetIsStale checks what TestTargetRetriesResetConnection relies
// on: a request on a reset connection fails with ECONNRESET, which isStale
// takes for a stale connection.
func TestTargetResetIsStale(t *testing.T) {
	srv, _, arm, reset := resettingServer(t)
	tg, err := NewTarget(srv.URL + "/metrics")
	require.NoError(t, err)
	defer tg.Close()
	arm()
	_, err = tg.Scrape(t.Context(), time.Second)
	require.NoError(t, err)
	reset()

	_, err = tg.scrape(t.Context(), time.Now().Add(time.Second)) // one attempt, no retry
	require.ErrorIs(t, err, syscall.ECONNRESET)
	assert.True(t, isStale(err), "isStale(%v)", err)
}

func TestIsStale(t *testing.T) {
	opErr := func(op string, errno syscall.Errno) error {
		return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: errno}}
	}
	tests := []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read header: %w", net.ErrClosed), true},
		{opErr("read", syscall.ECONNRESET), true},
		{opErr("write", syscall.ECONNRESET), true},
		{opErr("write", syscall.EPIPE), true},
		{opErr("dial", syscall.ECONNREFUSED), false},
		{os.ErrDeadlineExceeded, false},
		{context.Canceled, false},
		{errors.New("connection reset, said a proxy"), false}, // a message is not an errno
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, isStale(tt.err), "isStale(%v)", tt.err)
	}
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
