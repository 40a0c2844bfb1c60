package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// DefaultTimeout bounds each call of a Client whose Timeout is zero. A
// query over a whole run's samples takes well under a second; a Prometheus
// that accepts the connection and never answers must fail the call, not
// hang the run until the test's own timeout kills it with no artifacts.
const DefaultTimeout = 30 * time.Second

// pollInterval is how often WaitTargets asks again. Prometheus applies a
// new config's targets every few seconds and scrapes each at a jittered
// offset within the interval, so asking much more often buys nothing.
const pollInterval = 500 * time.Millisecond

// Client queries a Prometheus server through its HTTP API.
type Client struct {
	// URL is the server's base URL, as given to NewClient.
	URL string
	// Timeout bounds every call, on top of the caller's context;
	// DefaultTimeout when zero.
	Timeout time.Duration

	api v1.API
}

// NewClient returns a Client of the Prometheus at baseURL
// ("http://127.0.0.1:32768"), whose requests go through rt.
//
// The harness passes a transport that never uses a proxy: the server is on
// a port Docker published on the host, which no proxy can reach. When rt is
// nil NewClient makes such a transport, rather than use
// http.DefaultTransport, which honours HTTP_PROXY.
func NewClient(baseURL string, rt http.RoundTripper) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("monitor: client: %q is not an http(s) URL of a Prometheus server", baseURL)
	}
	if rt == nil {
		rt = newTransport()
	}
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("monitor: client for %s: %w", baseURL, err)
	}
	return &Client{URL: baseURL, Timeout: DefaultTimeout, api: v1.NewAPI(c)}, nil
}

// newTransport is a transport that connects directly, with no proxy.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
}

// call bounds ctx by the Client's timeout.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// explain adds to err what the API client leaves out of its message: that
// a call ran out of the Client's own time (a bare context deadline), or the
// body of an error answer with a status the client does not decode, such as
// the 503 of a Prometheus still replaying its WAL.
func (c *Client) explain(parent context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		d := c.Timeout
		if d <= 0 {
			d = DefaultTimeout
		}
		return fmt.Errorf("no answer from %s within %s: %w", c.URL, d, err)
	}
	var apiErr *v1.Error
	if errors.As(err, &apiErr) && apiErr.Detail != "" {
		var body struct {
			Error string `json:"error"`
		}
		detail := apiErr.Detail
		if json.Unmarshal([]byte(detail), &body) == nil && body.Error != "" {
			detail = body.Error
		} else if len(detail) > 200 { // an HTML page of a proxy, say
			detail = detail[:200] + "…"
		}
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(detail))
	}
	return err
}

// Query runs an instant PromQL query, evaluated at the server's present, and
// returns the result vector's values by their "node" label, or by the whole
// label set (up{job="meshtest-harness"}) for a series without one. A result
// that is not an instant vector is an error.
func (c *Client) Query(ctx context.Context, promql string) (map[string]float64, error) {
	qctx, cancel := c.call(ctx)
	defer cancel()
	v, _, _, err := c.api.Query(qctx, promql, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("monitor: query %q: %w", promql, c.explain(ctx, err))
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("monitor: query %q: the result is a %s, want an instant vector", promql, v.Type())
	}
	out := make(map[string]float64, len(vec))
	for _, s := range vec {
		key := string(s.Metric["node"])
		if key == "" {
			key = s.Metric.String()
		}
		out[key] = float64(s.Value)
	}
	return out, nil
}

// WaitTargets waits up to timeout until want node targets (jobs "nodes-…"
// of Config) are up. Prometheus applies a config's targets a few seconds
// after it starts and scrapes each at its own offset: until every node's
// target is up, its samples do not cover the window the harness samples.
func (c *Client) WaitTargets(ctx context.Context, want int, timeout time.Duration) error {
	const q = `up{job=~"nodes-.*"} == 1`
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	up := -1       // targets up at the last answer; -1 before any
	var last error // the last query's error, unless the wait ran out during it
	for {
		res, err := c.Query(wctx, q)
		switch {
		case err == nil:
			up = len(res)
			if up == want {
				return nil
			}
		case wctx.Err() == nil:
			last = err
		}
		select {
		case <-wctx.Done():
		case <-time.After(pollInterval):
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("monitor: wait for %d node targets of %s: %w", want, c.URL, ctx.Err())
		}
		got := "no query answered"
		if up >= 0 {
			got = fmt.Sprintf("%d of %d node targets up", up, want)
		}
		if last != nil {
			return fmt.Errorf("monitor: Prometheus at %s: %s after %s (last error: %w)", c.URL, got, timeout, last)
		}
		return fmt.Errorf("monitor: Prometheus at %s: %s after %s", c.URL, got, timeout)
	}
}

// Snapshot asks the server for a snapshot of its TSDB, the in-memory head
// included, and returns the snapshot's name: SnapshotDir(name) in the
// server's container. It needs the admin API, which Args turns on.
func (c *Client) Snapshot(ctx context.Context) (string, error) {
	sctx, cancel := c.call(ctx)
	defer cancel()
	res, err := c.api.Snapshot(sctx, false)
	if err != nil {
		return "", fmt.Errorf("monitor: snapshot: %w", c.explain(ctx, err))
	}
	if res.Name == "" {
		return "", fmt.Errorf("monitor: snapshot: %s answered with no snapshot name", c.URL)
	}
	return res.Name, nil
}
