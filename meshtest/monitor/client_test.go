package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Bodies in the shape Prometheus's HTTP API answers.
const (
	vectorBody = `{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"__name__":"go_goroutines","job":"nodes-bootstrap","node":"bootstrap"},"value":[1767225600.123,"42"]},
		{"metric":{"__name__":"go_goroutines","job":"nodes-peers","node":"peer-0"},"value":[1767225600.123,"17.5"]},
		{"metric":{"__name__":"up","job":"meshtest-harness"},"value":[1767225600.123,"1"]}]}}`
	scalarBody = `{"status":"success","data":{"resultType":"scalar","result":[1767225600.123,"3"]}}`
	errorBody  = `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"}`
)

// fakeServer is a test server answering the query endpoint with query(q)'s
// status and body, and the snapshot endpoint with a fixed name.
func fakeServer(t *testing.T, query func(q string) (int, string)) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		code, body := query(r.Form.Get("query"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	})
	mux.HandleFunc("POST /api/v1/admin/tsdb/snapshot", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("skip_head") == "true" {
			t.Errorf("snapshot asked to skip the head")
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","data":{"name":"20260101T000000Z-2f3e4d5c6b7a8990"}}`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func newClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestQuery(t *testing.T) {
	ts := fakeServer(t, func(q string) (int, string) {
		switch q {
		case "go_goroutines":
			return http.StatusOK, vectorBody
		case "scalar(up)":
			return http.StatusOK, scalarBody
		default:
			return http.StatusBadRequest, errorBody
		}
	})
	c := newClient(t, ts.URL)

	got, err := c.Query(t.Context(), "go_goroutines")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"bootstrap":                  42,
		"peer-0":                     17.5,
		`up{job="meshtest-harness"}`: 1, // no node label: the label set
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Query = %v, want %v", got, want)
	}

	_, err = c.Query(t.Context(), "sum(")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "parse error") || !strings.Contains(err.Error(), `"sum("`) {
		t.Errorf("Query of a bad expression: error %v, want one naming the query and Prometheus's parse error", err)
	}

	_, err = c.Query(t.Context(), "scalar(up)")
	if err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Errorf("Query of a scalar: error %v, want one saying the result is not a vector", err)
	}
}

// A Prometheus that accepts the connection and never answers must fail the
// call within the client's timeout, not hang it.
func TestQueryTimeout(t *testing.T) {
	hung := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hung:
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(hung) }) // before ts.Close, which waits for handlers
	c := newClient(t, ts.URL)
	c.Timeout = 200 * time.Millisecond

	start := time.Now()
	_, err := c.Query(t.Context(), "up")
	took := time.Since(start)
	if err == nil {
		t.Fatal("Query of a server that never answers succeeded")
	}
	t.Log(err)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("error %v, want a deadline saying there was no answer", err)
	}
	if took > 2*time.Second {
		t.Errorf("Query took %s with a timeout of %s", took, c.Timeout)
	}

	start = time.Now()
	if _, err := c.Snapshot(t.Context()); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("Snapshot of a server that never answers: error %v after %s", err, time.Since(start))
	}
}

func TestWaitTargets(t *testing.T) {
	var asked atomic.Int32
	ts := fakeServer(t, func(q string) (int, string) {
		if q != `up{job=~"nodes-.*"} == 1` {
			return http.StatusBadRequest, errorBody
		}
		if asked.Add(1) == 1 { // the first time, one node is not up yet
			return http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[
				{"metric":{"__name__":"up","node":"bootstrap"},"value":[1767225600,"1"]}]}}`
		}
		return http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"__name__":"up","node":"bootstrap"},"value":[1767225600,"1"]},
			{"metric":{"__name__":"up","node":"peer-0"},"value":[1767225600,"1"]}]}}`
	})
	c := newClient(t, ts.URL)

	if err := c.WaitTargets(t.Context(), 2, 10*time.Second); err != nil {
		t.Errorf("WaitTargets(2): %v", err)
	}
	if n := asked.Load(); n < 2 {
		t.Errorf("WaitTargets asked %d times, want it to ask again once one target was missing", n)
	}

	err := c.WaitTargets(t.Context(), 3, time.Second)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 node targets up") {
		t.Errorf("WaitTargets(3) of a mesh with 2 up: error %v, want one saying 2 of 3", err)
	}
}

func TestWaitTargetsLastError(t *testing.T) {
	ts := fakeServer(t, func(string) (int, string) {
		return http.StatusServiceUnavailable, `{"status":"error","errorType":"unavailable","error":"TSDB not ready"}`
	})
	c := newClient(t, ts.URL)
	err := c.WaitTargets(t.Context(), 1, time.Second)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "no query answered") || !strings.Contains(err.Error(), "TSDB not ready") {
		t.Errorf("WaitTargets of a Prometheus not ready: error %v, want one with the last error", err)
	}
}

func TestSnapshot(t *testing.T) {
	ts := fakeServer(t, nil)
	name, err := newClient(t, ts.URL).Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := "20260101T000000Z-2f3e4d5c6b7a8990"; name != want {
		t.Errorf("Snapshot = %q, want %q", name, want)
	}
	if got, want := SnapshotDir(name), "/data/snapshots/"+name; got != want {
		t.Errorf("SnapshotDir = %q, want %q", got, want)
	}
}

func TestNewClient(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9090", "ftp://host/", "http://"} {
		if _, err := NewClient(u, nil); err == nil {
			t.Errorf("NewClient(%q) succeeded", u)
		}
	}
	// The harness's Prometheus is on the host: a proxy from the
	// environment must never be used to reach it.
	if tr := newTransport(); tr.Proxy != nil {
		t.Error("the default transport has a Proxy")
	}
}
