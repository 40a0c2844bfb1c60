package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveFile answers every request with a recorded payload as Prometheus text,
// the way an exporter without protobuf support would.
func serveFile(t *testing.T, name string) *httptest.Server {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", string(fmtText))
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestScrapeText(t *testing.T) {
	srv := serveFile(t, "node-full.txt")
	s := NewScraper(time.Second)
	defer s.Close()

	fams, err := s.Scrape(t.Context(), srv.URL)
	require.NoError(t, err)
	assert.Len(t, fams, 74)
	v, ok := fams.Value("go_goroutines", nil)
	assert.True(t, ok)
	assert.Equal(t, 50.0, v)
}

// newNodeRegistry is a registry shaped like the bundled node's: runtime and
// process collectors plus meshnode_* gauges, and one family the harness does
// not ask for.
func newNodeRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, v := range map[string]float64{"meshnode_connections": 100, "meshnode_peers": 100, "meshnode_streams": 7, "meshnode_unrelated": 1} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name})
		g.Set(v)
		reg.MustRegister(g)
	}
	return reg
}

func TestScrapePromhttpNegotiatesProtobufAndFilters(t *testing.T) {
	var contentType atomic.Value
	h := promhttp.HandlerFor(newNodeRegistry(t), promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		contentType.Store(w.Header().Get("Content-Type"))
		assert.Empty(t, r.Header.Get("Accept-Encoding"), "compression must stay off on a local bridge")
	}))
	defer srv.Close()
	s := NewScraper(time.Second)
	defer s.Close()

	qs := DefaultQueries()
	fams, err := s.Scrape(t.Context(), FilterURL(srv.URL, FamilyNames(qs)))
	require.NoError(t, err)

	assert.Equal(t, expfmt.TypeProtoDelim, expfmt.Format(contentType.Load().(string)).FormatType())
	for name := range fams {
		assert.Contains(t, FamilyNames(qs), name, "name[] filter let through an unrequested family")
	}
	values, missing := Extract(fams, qs)
	assert.Empty(t, missing)
	assert.Equal(t, 100.0, values["connections"])
	assert.Equal(t, 7.0, values["streams"])
	assert.Greater(t, values["goroutines"], 0.0)
	assert.Greater(t, values["rss_bytes"], 0.0)
}

func TestScrapeErrors(t *testing.T) {
	slow := make(chan struct{})
	defer close(slow)
	mux := http.NewServeMux()
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "error gathering metrics: collector meshnode failed", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Welcome</body></html>\n")
	})
	// Oversized bodies of 4 KiB protobuf messages, which decode quickly
	// enough to stay well inside the client's timeout under -race on a busy
	// machine. One is cut by the limit mid-message, one at a message's end,
	// where the decoder sees a valid payload and only the limit can tell.
	block := protoFamily(t, "x", 4<<10)
	offset := protoFamily(t, "y", 0) // a few bytes, so that the limit cuts a block
	huge := func(prefix []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
			_, _ = w.Write(prefix)
			for range MaxPayloadBytes/len(block) + 1 {
				_, _ = w.Write(block)
			}
		}
	}
	mux.HandleFunc("/huge", huge(offset))
	mux.HandleFunc("/huge-aligned", huge(nil))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-slow:
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	refused := closedPortURL(t)

	tests := []struct {
		name     string
		url      string
		timeout  time.Duration
		wantErr  []string
		wantIs   error
		maxDelay time.Duration
	}{
		{name: "status", url: srv.URL + "/fail", wantErr: []string{srv.URL + "/fail", "503 Service Unavailable", "collector meshnode failed"}},
		{name: "garbage body", url: srv.URL + "/html", wantErr: []string{srv.URL + "/html", `content type "text/html"`, "text format parsing error in line 1"}},
		{name: "oversized body", url: srv.URL + "/huge", wantErr: []string{srv.URL + "/huge", "payload larger than 4194304 bytes"}},
		{name: "oversized body cut at a message end", url: srv.URL + "/huge-aligned", wantErr: []string{srv.URL + "/huge-aligned", "payload larger than 4194304 bytes"}},
		{name: "timeout", url: srv.URL + "/slow", timeout: 50 * time.Millisecond, wantErr: []string{srv.URL + "/slow"}, wantIs: context.DeadlineExceeded, maxDelay: 2 * time.Second},
		{name: "refused", url: refused, wantErr: []string{refused, "connection refused"}},
		{name: "bad url", url: "http://[::1", wantErr: []string{"scrape http://[::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScraper(tt.timeout)
			defer s.Close()
			start := time.Now()
			fams, err := s.Scrape(t.Context(), tt.url)
			require.Error(t, err)
			assert.Nil(t, fams)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), `Get "`, "url.Error wrapper repeats the URL")
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			if tt.maxDelay > 0 {
				assert.Less(t, time.Since(start), tt.maxDelay)
			}
		})
	}
}

func TestScrapeContextDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	var s Scraper // zero value: no Timeout, the ctx deadline alone applies
	defer s.Close()
	_, err := s.Scrape(ctx, srv.URL)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

// protoFamily returns gauge family name encoded as one delimited protobuf
// message, padded with help text to size bytes (or unpadded, for size 0).
func protoFamily(t *testing.T, name string, size int) []byte {
	t.Helper()
	encode := func(help string) []byte {
		mf := &dto.MetricFamily{
			Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: ptr(1.0)}}},
		}
		var buf bytes.Buffer
		require.NoError(t, expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim)).Encode(mf))
		return buf.Bytes()
	}
	b := encode("")
	if size == 0 {
		return b
	}
	// The length prefix is a varint, so padding can grow it by a byte.
	for pad := size - len(b); pad > 0; pad-- {
		if b := encode(strings.Repeat("p", pad)); len(b) == size {
			return b
		}
	}
	t.Fatalf("cannot pad family %s to %d bytes", name, size)
	return nil
}

// closedPortURL returns a URL on loopback where nothing listens.
func closedPortURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr + "/metrics"
}

func TestScrapeReusesConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(promhttp.HandlerFor(newNodeRegistry(t), promhttp.HandlerOpts{}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := NewScraper(time.Second)
	defer s.Close()

	for range 20 {
		// Unfiltered too: the whole body must be read for the connection
		// to go back to the pool.
		for _, u := range []string{srv.URL, FilterURL(srv.URL, FamilyNames(DefaultQueries()))} {
			_, err := s.Scrape(t.Context(), u)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, int32(1), conns.Load(), "40 sequential scrapes of one node should share one connection")
}

func TestScrapeMissingContentTypeReadsText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // stop net/http sniffing one
		fmt.Fprint(w, "go_goroutines 12\n")
	}))
	defer srv.Close()
	// Without this the test would pass on net/http's sniffed text/plain,
	// never reaching the path it is about.
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Values("Content-Type"), "the server must send no Content-Type")

	fams, err := new(Scraper).Scrape(t.Context(), srv.URL)
	require.NoError(t, err)
	v, ok := fams.Value("go_goroutines", nil)
	assert.True(t, ok)
	assert.Equal(t, 12.0, v)
}
