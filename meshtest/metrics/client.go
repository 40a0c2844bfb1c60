package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// clientTimeout bounds every request of a client from NewClient, from dial to
// the last byte of the body. It is a safety net, not the bound a caller
// should rely on: a scrape is held to its interval by ctx or Scraper.Timeout,
// far below this, but a call made with a context that has no deadline must
// still not hang forever on a node that accepted the connection and never
// answers. A scrape or probe of a node on a local bridge takes milliseconds,
// so ten seconds only ever ends a call that is stuck.
const clientTimeout = 10 * time.Second

// NewClient returns an HTTP client tuned for scraping many local targets
// every second from one process.
//
// Compared with http.DefaultClient it keeps one idle connection per node with
// no cap on the total (DefaultTransport keeps at most 100, so a mesh of 101
// nodes would open a fresh connection for every scrape), never uses a proxy
// from the environment (container IPs on a bridge are reached directly; an
// HTTP_PROXY meant for the internet must not see them), turns off
// compression (on a local bridge gzip only costs CPU, on both sides, and the
// node side is the figure being measured), and gives up on any request, body
// included, after 10 s (http.Client.Timeout): a safety net so that no call
// hangs forever, whatever its context. Contexts and Scraper.Timeout bound
// scrapes far tighter; a caller that needs longer sets Timeout on the
// returned client.
func NewClient() *http.Client { return NewClientVia(nil) }

// DialFunc opens a connection as net.Dialer.DialContext does: the way in
// to nodes the host cannot route to (a gateway.Dialer's tunnels).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// NewClientVia is NewClient opening its connections with dial; nil dials
// directly.
func NewClientVia(dial DialFunc) *http.Client {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dial,
			MaxIdleConns:        0, // no overall cap; see above
			MaxIdleConnsPerHost: 2, // one per node, plus one for an overlapping late scrape
			// Longer than any sensible sampling interval, so a connection
			// survives between two samples; still closes after a mesh is gone.
			IdleConnTimeout:        2 * time.Minute,
			DisableCompression:     true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		// Redirects are not part of any metrics contract; following one
		// would hide a misconfigured URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       clientTimeout,
	}
}

// maxGetBytes bounds the body Get reads: a readiness page or an identity
// document is a few hundred bytes, and a node that answers with megabytes
// must not fill the harness's memory.
const maxGetBytes = 1 << 20

// Get sends a GET for url through c and returns the status and the body, of
// which it reads at most 1 MiB; a longer body is cut there without an error.
// A status other than 200 is not an error: readiness probes poll until it is
// 200, and the body says why it is not. An error names the URL. c is
// required; a client from NewClient suits.
func Get(ctx context.Context, c *http.Client, url string) (status int, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", fmt.Errorf("get %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("get %s: %w", url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxGetBytes))
	if err != nil {
		return resp.StatusCode, string(b), fmt.Errorf("get %s: read body: %w", url, err)
	}
	return resp.StatusCode, string(b), nil
}
