package shape

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Ports of a helper (meshshaper -serve), on every address of its node.
const (
	// ControlPort serves the HTTP control API, each request with the
	// helper's bearer token.
	ControlPort = 7950
	// ProbePort serves the probe protocol, UDP echo and rate counter and
	// TCP sink, to the other helpers; see probe.go.
	ProbePort = 7951
)

// HelperStatus is GET /healthz: what the helper found at start.
type HelperStatus struct {
	// Kernel is what Detect found the kernel allows.
	Kernel Mechanism `json:"kernel"`
	Iface  string    `json:"iface"`
}

// Applied is PUT /rules: what the rules now in force use.
type Applied struct {
	// Mechanism delays packets: DelayLine, or "" when no rule adds delay.
	Mechanism    Mechanism `json:"mechanism"`
	DelayClasses int       `json:"delay_classes"`
}

// HelperStats is GET /stats.
type HelperStats struct {
	Rules     Rules     `json:"rules"`
	Mechanism Mechanism `json:"mechanism"`
	Kernel    Mechanism `json:"kernel"`
	Iface     string    `json:"iface"`
	// Delay sums every delay line since the helper started, those Update
	// closed included; Classes are the classes in force.
	Delay   DelayStats        `json:"delay"`
	Classes []DelayClassStats `json:"classes"`
	// CPU is the helper process's user+system CPU time since it started:
	// the delay lines' cost, as little else runs in it between probes.
	CPU time.Duration `json:"cpu_ns"`
}

// RTTProbe is POST /probe/rtt: the helper sends Count UDP probes of Size
// bytes, Interval apart, to the helper at To, and times their echoes. Zero
// fields take the defaults: 1000 probes of 64 bytes, 1 ms apart, to
// ProbePort.
type RTTProbe struct {
	To       netip.Addr    `json:"to"`
	Port     int           `json:"port,omitempty"`
	Count    int           `json:"count,omitempty"`
	Interval time.Duration `json:"interval_ns,omitempty"`
	Size     int           `json:"size,omitempty"`
}

// RTTResult is what an RTT probe measured. Forward is the highest count of
// probes received that the peer stamped into an echo, so ForwardLoss is the
// loss from the prober to the peer, ReturnLoss that of the echoes back
// (of the probes that arrived), RoundTripLoss both. The RTT figures are over
// the probes that came back within a second of the last send, on the
// prober's monotonic clock.
type RTTResult struct {
	Sent          int           `json:"sent"`
	Forward       int           `json:"forward"`
	Returned      int           `json:"returned"`
	ForwardLoss   float64       `json:"forward_loss"`
	ReturnLoss    float64       `json:"return_loss"`
	RoundTripLoss float64       `json:"round_trip_loss"`
	Min           time.Duration `json:"min_ns"`
	Median        time.Duration `json:"median_ns"`
	Mean          time.Duration `json:"mean_ns"`
	P99           time.Duration `json:"p99_ns"`
	Max           time.Duration `json:"max_ns"`
}

// ThroughputProbe is POST /probe/throughput: the helper streams TCP to
// the helper at To for Warmup+Duration. Zero fields take the defaults: 5 s,
// no warm-up, to ProbePort.
type ThroughputProbe struct {
	To       netip.Addr    `json:"to"`
	Port     int           `json:"port,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Warmup   time.Duration `json:"warmup_ns,omitempty"`
}

// ThroughputResult is what the receiving helper counted after the warm-up:
// Bytes in Elapsed, the goodput BitsPerSecond. Sent is every byte written,
// the warm-up's included.
type ThroughputResult struct {
	Bytes         int64         `json:"bytes"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	BitsPerSecond float64       `json:"bits_per_second"`
	Sent          int64         `json:"sent"`
}

// RateProbe is POST /probe/rate: the helper sends UDP datagrams of Size
// bytes to the helper at To, paced to Rate in bit/s counted on the wire
// (Size+42 bytes a datagram: the UDP, IPv4 and Ethernet headers, as HTB
// counts), for Warmup and then Duration, and asks that helper what of the
// measured part arrived, and over what time. Send above the link's rate
// (1.3× say): the warm-up fills the bottleneck's queue, the measured
// datagrams leave it at the link's rate, and so the figure is the link's
// whatever the RTT, where ProbeThroughput's is TCP's. Zero fields take the
// defaults: 1200 bytes, a 500 ms warm-up, 2 s, to ProbePort; Rate is
// required.
type RateProbe struct {
	To       netip.Addr    `json:"to"`
	Port     int           `json:"port,omitempty"`
	Rate     int64         `json:"rate_bits_per_s"`
	Size     int           `json:"size,omitempty"`
	Warmup   time.Duration `json:"warmup_ns,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// RateResult is what a rate probe measured in its measured phase. Sent and
// SendErrors are the prober's writes that succeeded and failed; Received
// and Bytes (payload) what the peer counted, Elapsed the time from the first
// arrival to the last on the peer's clock. WireBitsPerSecond is the arrival
// rate on the wire, (Received−1)×(Size+42)×8/Elapsed, as Elapsed spans
// Received−1 gaps. Loss is 1−Received/Sent, so it includes what a
// shaper's queue dropped of a flood sent above the rate (about 23 % at 1.3×
// a downlink's rate); a shaper on the prober's own interface blocks its
// writes instead and drops nothing.
type RateResult struct {
	Sent              int           `json:"sent"`
	SendErrors        int           `json:"send_errors"`
	Received          int           `json:"received"`
	Bytes             int64         `json:"bytes"`
	Elapsed           time.Duration `json:"elapsed_ns"`
	WireBitsPerSecond float64       `json:"wire_bits_per_second"`
	Loss              float64       `json:"loss"`
}

// HelperError is a helper's answer other than 200: Status 400 for rules or
// a probe it refused, 401 for a wrong token, 502 for a probe that failed.
type HelperError struct {
	Addr   string // the helper's control address
	Op     string // "PUT /rules"
	Status int
	Msg    string // the helper's error text
}

func (e *HelperError) Error() string {
	return fmt.Sprintf("meshshaper %s: %s: %s (HTTP %d)", e.Addr, e.Op, e.Msg, e.Status)
}

// Client talks to one helper's control API.
type Client struct {
	addr, token string
	hc          *http.Client
}

// NewClient returns a client of the helper whose control API is at addr
// (host:port), authenticating with token. It uses its own HTTP client:
// no proxy, whatever the environment says, a 5 s dial timeout, and a
// deadline for each call (30 s, or a probe's length and 30 s) unless ctx
// has an earlier one.
func NewClient(addr, token string) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{addr: addr, token: token, hc: &http.Client{Transport: tr}}
}

// Addr is the helper's control address.
func (c *Client) Addr() string { return c.addr }

// callTimeout bounds a control call; an Update may wait out the longest
// delay it removes, at most MaxLatency.
const callTimeout = 30 * time.Second

// Ready returns the helper's status once it answers.
func (c *Client) Ready(ctx context.Context) (HelperStatus, error) {
	var st HelperStatus
	return st, c.do(ctx, http.MethodGet, "/healthz", nil, &st, callTimeout)
}

// SetRules puts r in force on the helper's interface, replacing what was.
func (c *Client) SetRules(ctx context.Context, r Rules) (Applied, error) {
	var a Applied
	return a, c.do(ctx, http.MethodPut, "/rules", r, &a, callTimeout)
}

// Stats returns the helper's rules in force and counters.
func (c *Client) Stats(ctx context.Context) (HelperStats, error) {
	var st HelperStats
	return st, c.do(ctx, http.MethodGet, "/stats", nil, &st, callTimeout)
}

// ProbeRTT has the helper probe the RTT to another helper.
func (c *Client) ProbeRTT(ctx context.Context, p RTTProbe) (RTTResult, error) {
	var r RTTResult
	d := p.withDefaults()
	return r, c.do(ctx, http.MethodPost, "/probe/rtt", p, &r, time.Duration(d.Count)*d.Interval+rttGrace+callTimeout)
}

// ProbeThroughput has the helper measure TCP goodput to another helper.
func (c *Client) ProbeThroughput(ctx context.Context, p ThroughputProbe) (ThroughputResult, error) {
	var r ThroughputResult
	d := p.withDefaults()
	return r, c.do(ctx, http.MethodPost, "/probe/throughput", p, &r, d.Warmup+d.Duration+2*time.Minute+callTimeout)
}

// ProbeRate has the helper measure the rate of the link to another helper
// with a paced UDP flood.
func (c *Client) ProbeRate(ctx context.Context, p RateProbe) (RateResult, error) {
	var r RateResult
	d := p.withDefaults()
	return r, c.do(ctx, http.MethodPost, "/probe/rate", p, &r, d.Warmup+d.Duration+maxRateDrain+callTimeout)
}

// maxBody bounds requests and answers: Rules for a 1000-node mesh are some
// tens of kilobytes.
const maxBody = 16 << 20

func (c *Client) do(ctx context.Context, method, path string, in, out any, timeout time.Duration) error {
	op := method + " " + path
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("meshshaper %s: %s: %w", c.addr, op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.addr+path, body)
	if err != nil {
		return fmt.Errorf("meshshaper %s: %s: %w", c.addr, op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("meshshaper %s: %s: %w", c.addr, op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("meshshaper %s: %s: read answer: %w", c.addr, op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &HelperError{Addr: c.addr, Op: op, Status: resp.StatusCode, Msg: msg}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("meshshaper %s: %s: decode answer: %w", c.addr, op, err)
	}
	return nil
}

// errorBody is the JSON of every answer other than 200.
type errorBody struct {
	Error string `json:"error"`
}
