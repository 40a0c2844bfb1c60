package metrics

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// silentServer accepts connections and never answers on them: a node whose
// process is stopped (SIGSTOP, a full disk) with its socket still open.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String() + "/metrics"
}

func TestNewClientTimeout(t *testing.T) {
	c := NewClient()
	assert.Positive(t, c.Timeout, "no harness HTTP call may hang forever")
	assert.Equal(t, clientTimeout, c.Timeout)

	url := silentServer(t)
	t.Run("ctx deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := Get(ctx, NewClient(), url)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("no ctx deadline", func(t *testing.T) {
		// The safety net itself, shortened so the test does not take 10 s:
		// a context without a deadline is bounded by Client.Timeout alone.
		c := NewClient()
		c.Timeout = 100 * time.Millisecond
		start := time.Now()
		_, _, err := Get(context.Background(), c, url)
		require.Error(t, err)
		assert.ErrorContains(t, err, "Client.Timeout exceeded")
		assert.Less(t, time.Since(start), 5*time.Second)
	})
}

func TestGet(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/starting", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "still starting", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", maxGetBytes+4096)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := NewClient()
	defer c.CloseIdleConnections()

	status, body, err := Get(t.Context(), c, srv.URL+"/ready")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", body)

	status, body, err = Get(t.Context(), c, srv.URL+"/starting")
	require.NoError(t, err, "a status other than 200 is the caller's to judge")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "still starting\n", body)

	status, body, err = Get(t.Context(), c, srv.URL+"/huge")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, body, maxGetBytes, "the body is cut at 1 MiB")

	refused := closedPortURL(t)
	status, body, err = Get(t.Context(), c, refused)
	assert.ErrorContains(t, err, "get "+refused+": ")
	assert.ErrorContains(t, err, "connection refused")
	assert.NotContains(t, err.Error(), `Get "`, "url.Error wrapper repeats the URL")
	assert.Zero(t, status)
	assert.Empty(t, body)

	_, _, err = Get(t.Context(), c, "http://[::1")
	assert.ErrorContains(t, err, "get http://[::1: ")
}

// TestNewClientIgnoresProxyEnvironment: the harness reaches nodes on their
// own addresses, which no proxy can reach, so HTTP_PROXY must not see its
// requests (a request through it would fail, or worse, leave the host).
func TestNewClientIgnoresProxyEnvironment(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// .invalid never resolves: a direct request fails at once, a proxied
	// one would reach the recorder above.
	_, _, err := Get(ctx, NewClient(), "http://node.invalid:9090/metrics")
	if err == nil {
		t.Fatal("GET of an unresolvable host succeeded: it went through the proxy")
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("the proxy from HTTP_PROXY saw %d requests, want none", n)
	}
}
