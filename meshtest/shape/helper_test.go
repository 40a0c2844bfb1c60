package shape

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTarget stands for the Shaper behind the control API: it records the
// rules it is given and fails when told to.
type fakeTarget struct {
	mu     sync.Mutex
	rules  []Rules
	fail   error
	closed int
}

func (f *fakeTarget) setRules(r Rules) (Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Applied{}, f.fail
	}
	f.rules = append(f.rules, r)
	n := len(compileFrom(r.From).classes)
	a := Applied{DelayClasses: n}
	if n > 0 {
		a.Mechanism = DelayLine
	}
	return a, nil
}

func (f *fakeTarget) stats() HelperStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := HelperStats{Delay: DelayStats{Packets: 7, Released: 7, MeanLate: time.Microsecond}}
	if len(f.rules) > 0 {
		st.Rules = f.rules[len(f.rules)-1]
	}
	return st
}

func (f *fakeTarget) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

const testToken = "s3cret"

// newTestHelper serves the real control handler, over a fake target, with
// httptest; its probe server listens on loopback.
func newTestHelper(t *testing.T) (*Helper, *fakeTarget, *Client) {
	t.Helper()
	ft := &fakeTarget{}
	var cpu time.Duration
	h := &Helper{cfg: HelperConfig{Iface: "eth0", Token: testToken, Kernel: DelayLine}.withDefaults(), target: ft,
		cpu: func() time.Duration { cpu += time.Millisecond; return cpu }}
	var err error
	h.probes, err = listenProbes("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { h.probes.Close() })
	ts := httptest.NewServer(h.handler())
	t.Cleanup(ts.Close)
	return h, ft, NewClient(strings.TrimPrefix(ts.URL, "http://"), testToken)
}

func TestHelperAuth(t *testing.T) {
	_, ft, c := newTestHelper(t)
	for _, hdr := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", testToken} {
		req, _ := http.NewRequest(http.MethodPut, "http://"+c.Addr()+"/rules", strings.NewReader(`{}`))
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var e errorBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "Authorization %q", hdr)
		assert.Contains(t, e.Error, "bearer token")
	}
	assert.Empty(t, ft.rules, "no unauthenticated request reached the target")

	_, err := NewClient(c.Addr(), "wrong").Ready(t.Context())
	var he *HelperError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusUnauthorized, he.Status)
	assert.Contains(t, err.Error(), c.Addr(), "the error names the helper")
	assert.Contains(t, err.Error(), "GET /healthz")

	st, err := c.Ready(t.Context())
	require.NoError(t, err)
	assert.Equal(t, HelperStatus{Kernel: DelayLine, Iface: "eth0"}, st)
}

func TestClientSetRules(t *testing.T) {
	h, ft, c := newTestHelper(t)
	r := Rules{EgressRate: 10_000_000,
		From: []PathRule{{Src: addrs("172.18.0.3"), Latency: 20 * time.Millisecond}, {Src: addrs("172.18.0.4"), Latency: 50 * time.Millisecond, Loss: 0.01}}}
	a, err := c.SetRules(t.Context(), r)
	require.NoError(t, err)
	assert.Equal(t, Applied{Mechanism: DelayLine, DelayClasses: 2}, a)
	require.Len(t, ft.rules, 1)
	assert.Equal(t, r, ft.rules[0], "the rules arrive as sent")

	// Invalid rules are refused with the validation text and never reach
	// the target.
	_, err = c.SetRules(t.Context(), Rules{From: []PathRule{{Src: addrs("2001:db8::1")}, {Loss: 2}}})
	var he *HelperError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadRequest, he.Status)
	assert.Contains(t, he.Msg, "from[0].src[0]: 2001:db8::1 is IPv6")
	assert.Contains(t, he.Msg, "from[1].loss: 2 is not a probability")
	assert.Len(t, ft.rules, 1)

	// A misspelt field is an error, not a rule without delay.
	req, _ := http.NewRequest(http.MethodPut, "http://"+c.Addr()+"/rules", strings.NewReader(`{"from":[{"latency":"20ms"}]}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var e errorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, e.Error, `unknown field "latency"`)

	// A failure to apply is the server's, with its text.
	ft.fail = errors.New("nftables: operation not permitted")
	_, err = c.SetRules(t.Context(), Rules{})
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusInternalServerError, he.Status)
	assert.Contains(t, err.Error(), "nftables: operation not permitted")
	assert.Contains(t, err.Error(), c.Addr())
	ft.fail = nil

	st, err := c.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, r, st.Rules)
	assert.Equal(t, DelayLine, st.Kernel)
	assert.Equal(t, "eth0", st.Iface)
	assert.Equal(t, uint64(7), st.Delay.Packets)
	assert.Positive(t, st.CPU)

	// Close removes the rules once, and later rule changes are refused.
	h.srv = &http.Server{}
	_, err = h.Close()
	require.NoError(t, err)
	_, err = h.Close()
	require.NoError(t, err)
	assert.Equal(t, 1, ft.closed)
	_, err = c.SetRules(t.Context(), Rules{})
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusServiceUnavailable, he.Status)
}

func TestClientProbesLoopback(t *testing.T) {
	h, _, c := newTestHelper(t)
	lo := netip.MustParseAddr("127.0.0.1")
	r, err := c.ProbeRTT(t.Context(), RTTProbe{To: lo, Port: h.ProbePort(), Count: 300, Interval: 100 * time.Microsecond, Size: 100})
	require.NoError(t, err)
	t.Logf("loopback RTT: %+v", r)
	assert.Equal(t, RTTResult{Sent: 300, Forward: 300, Returned: 300}, RTTResult{Sent: r.Sent, Forward: r.Forward, Returned: r.Returned})
	assert.Zero(t, r.ForwardLoss+r.ReturnLoss+r.RoundTripLoss)
	assert.Positive(t, r.Min)
	assert.True(t, r.Min <= r.Median && r.Median <= r.P99 && r.P99 <= r.Max, "ordered quantiles")
	assert.True(t, r.Min <= r.Mean && r.Mean <= r.Max)
	assert.Less(t, r.Median, 50*time.Millisecond, "loopback")

	tp, err := c.ProbeThroughput(t.Context(), ThroughputProbe{To: lo, Port: h.ProbePort(), Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Logf("loopback throughput: %+v", tp)
	assert.Positive(t, tp.Bytes)
	assert.Less(t, tp.Bytes, tp.Sent, "the warm-up is not counted")
	assert.InDelta(t, 500*time.Millisecond, tp.Elapsed, float64(400*time.Millisecond))
	assert.InEpsilon(t, float64(tp.Bytes)*8/tp.Elapsed.Seconds(), tp.BitsPerSecond, 1e-9)
	assert.Greater(t, tp.BitsPerSecond, 50e6, "loopback carries far more than 50 Mbit/s")

	// A probe with nothing listening fails with the peer named.
	_, err = c.ProbeThroughput(t.Context(), ThroughputProbe{To: lo, Port: 1, Duration: time.Second})
	var he *HelperError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadGateway, he.Status)
	assert.Contains(t, he.Msg, "throughput probe to 127.0.0.1")

	_, err = c.ProbeRTT(t.Context(), RTTProbe{To: lo, Size: 10})
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadRequest, he.Status)
	assert.Contains(t, he.Msg, "size: 10 bytes is not in 36..1472")
}

// TestProbeLossAccounting runs the prober against an echo server that
// drops a known set of probes on the way in and of echoes on the way out,
// and checks that the two are told apart.
func TestProbeLossAccounting(t *testing.T) {
	srv := &probeServer{sessions: map[uint64]*session{}}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if binary.BigEndian.Uint64(buf[12:])%4 == 3 {
				continue // lost forward: never counted
			}
			if !srv.stamp(buf[:n], time.Now()) {
				continue
			}
			if binary.BigEndian.Uint64(buf[28:])%5 == 1 {
				continue // counted, echo lost
			}
			pc.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	p := RTTProbe{To: netip.MustParseAddr("127.0.0.1"), Port: pc.LocalAddr().(*net.UDPAddr).Port, Count: 400, Interval: 50 * time.Microsecond}.withDefaults()
	conn, err := dialProbe(t.Context(), "udp", p)
	require.NoError(t, err)
	defer conn.Close()
	run, err := probeRTT(t.Context(), conn, p)
	require.NoError(t, err)
	r := run.result()
	// 300 of 400 probes arrive (seq%4 != 3); of their echoes, counts 1, 6,
	// …, 296 are dropped, 60 of 300, and the last (count 300) comes back.
	assert.Equal(t, 400, r.Sent)
	assert.Equal(t, 300, r.Forward)
	assert.Equal(t, 240, r.Returned)
	assert.InDelta(t, 0.25, r.ForwardLoss, 1e-9)
	assert.InDelta(t, 0.20, r.ReturnLoss, 1e-9)
	assert.InDelta(t, 0.40, r.RoundTripLoss, 1e-9)
	for seq, d := range run.rtt {
		if seq%4 == 3 {
			assert.Equal(t, time.Duration(-1), d, "probe %d was dropped forward", seq)
		}
	}
}

func TestProbeValidate(t *testing.T) {
	lo := netip.MustParseAddr("10.0.0.1")
	require.NoError(t, RTTProbe{To: lo}.Validate())
	assert.Equal(t, RTTProbe{To: lo, Port: ProbePort, Count: 1000, Interval: time.Millisecond, Size: 64}, RTTProbe{To: lo}.withDefaults())
	for p, want := range map[RTTProbe]string{
		{}:                  "to: missing",
		{To: lo, Count: -1}: "count: -1",
		{To: lo, Count: 1000, Interval: time.Second}: "count×interval: 16m40s exceeds 10m0s",
		{To: lo, Size: 2000}:                         "size: 2000 bytes",
		{To: lo, Interval: -1}:                       "interval_ns: -1ns is negative",
	} {
		err := p.Validate()
		require.Error(t, err, "%+v", p)
		assert.Contains(t, err.Error(), want)
	}
	require.NoError(t, ThroughputProbe{To: lo}.Validate())
	assert.ErrorContains(t, ThroughputProbe{To: lo, Duration: 11 * time.Minute}.Validate(), "exceeds 10m0s")
	assert.ErrorContains(t, ThroughputProbe{To: lo, Warmup: -1}.Validate(), "may be negative")
}

// The API's JSON names are the protocol: durations in nanoseconds under _ns.
func TestHelperJSON(t *testing.T) {
	var p RTTProbe
	require.NoError(t, json.Unmarshal([]byte(`{"to":"172.18.0.3","count":2000,"interval_ns":2000000,"size":64}`), &p))
	assert.Equal(t, RTTProbe{To: netip.MustParseAddr("172.18.0.3"), Count: 2000, Interval: 2 * time.Millisecond, Size: 64}, p)
	var tp ThroughputProbe
	require.NoError(t, json.Unmarshal([]byte(`{"to":"172.18.0.3","duration_ns":5000000000,"warmup_ns":1000000000}`), &tp))
	assert.Equal(t, ThroughputProbe{To: netip.MustParseAddr("172.18.0.3"), Duration: 5 * time.Second, Warmup: time.Second}, tp)

	b, err := json.Marshal(RTTResult{Sent: 10, Forward: 9, Returned: 8, ForwardLoss: 0.1, Median: 20 * time.Millisecond})
	require.NoError(t, err)
	assert.JSONEq(t, `{"sent":10,"forward":9,"returned":8,"forward_loss":0.1,"return_loss":0,"round_trip_loss":0,
		"min_ns":0,"median_ns":20000000,"mean_ns":0,"p99_ns":0,"max_ns":0}`, string(b))
	b, err = json.Marshal(HelperStats{Kernel: DelayLine, CPU: time.Second,
		Classes: []DelayClassStats{{Latency: time.Millisecond, Queue: 0x6d73, Sources: 2, DelayStats: DelayStats{Packets: 5, MaxLate: time.Microsecond}}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"rules":{},"mechanism":"","kernel":"nfqueue-delay-line","iface":"","cpu_ns":1000000000,
		"delay":{"packets":0,"released":0,"errors":0,"mean_late_ns":0,"max_late_ns":0,"mean_intake_ns":0,"max_intake_ns":0},
		"classes":[{"latency_ns":1000000,"jitter_ns":0,"queue":28019,"sources":2,"packets":5,"released":0,"errors":0,
			"mean_late_ns":0,"max_late_ns":1000,"mean_intake_ns":0,"max_intake_ns":0}]}`, string(b))
	var back HelperStats
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, uint64(5), back.Classes[0].Packets)
}

func TestStartHelperNeedsToken(t *testing.T) {
	_, err := startHelper(HelperConfig{ControlAddr: "127.0.0.1:0", ProbeAddr: "127.0.0.1:0"}, &fakeTarget{}, func() time.Duration { return 0 })
	require.ErrorContains(t, err, "no token")

	h, err := startHelper(HelperConfig{Token: testToken, ControlAddr: "127.0.0.1:0", ProbeAddr: "127.0.0.1:0"}, &fakeTarget{}, func() time.Duration { return 0 })
	require.NoError(t, err)
	_, err = NewClient(h.ControlAddr(), testToken).Ready(t.Context())
	require.NoError(t, err)
	_, err = h.Close()
	require.NoError(t, err)
	_, err = net.DialTimeout("tcp", h.ControlAddr(), time.Second)
	assert.Error(t, err, "Close stops listening")
}

func TestDelayStatsAdd(t *testing.T) {
	a := DelayStats{Packets: 100, Released: 100, MeanLate: 10 * time.Microsecond, MaxLate: time.Millisecond, MeanIntake: time.Millisecond, MaxIntake: time.Millisecond}
	b := DelayStats{Packets: 300, Released: 299, Errors: 1, MeanLate: 30 * time.Microsecond, MaxLate: 100 * time.Microsecond, MaxIntake: 2 * time.Millisecond, LastError: "verdict: x"}
	s := a.add(b)
	assert.Equal(t, DelayStats{Packets: 400, Released: 399, Errors: 1, MeanLate: 25 * time.Microsecond, MaxLate: time.Millisecond,
		MeanIntake: 250 * time.Microsecond, MaxIntake: 2 * time.Millisecond, LastError: "verdict: x"}, s)
	assert.Equal(t, a, DelayStats{}.add(a))
}
