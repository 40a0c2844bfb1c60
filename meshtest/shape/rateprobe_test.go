package shape

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateProbeValidate(t *testing.T) {
	to := netip.MustParseAddr("10.0.0.1")
	ok := RateProbe{To: to, Rate: 13_000_000}
	require.NoError(t, ok.Validate())
	assert.Equal(t, RateProbe{To: to, Port: ProbePort, Rate: 13_000_000, Size: 1200, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second},
		ok.withDefaults())
	for _, tc := range []struct {
		p    RateProbe
		want []string
	}{
		{RateProbe{}, []string{"to: missing", "rate_bits_per_s: missing"}},
		{RateProbe{To: to, Rate: -1}, []string{"rate_bits_per_s: -1 is not in 1..10000000000"}},
		{RateProbe{To: to, Rate: 20_000_000_000}, []string{"rate_bits_per_s: 20000000000 is not in"}},
		{RateProbe{To: to, Rate: 1e6, Size: 20}, []string{"size: 20 bytes is not in 21..1472"}},
		{RateProbe{To: to, Rate: 1e6, Size: 1473}, []string{"size: 1473 bytes"}},
		{RateProbe{To: to, Rate: 1e6, Warmup: -1}, []string{"duration_ns, warmup_ns: 2s, -1ns; neither may be negative"}},
		{RateProbe{To: to, Rate: 1e6, Duration: 10 * time.Minute}, []string{"duration_ns+warmup_ns: 10m0.5s exceeds 10m0s"}},
		// 1242 bytes at 10 kbit/s for 1 s is 1.0 datagrams.
		{RateProbe{To: to, Rate: 10_000, Duration: time.Second}, []string{"duration_ns: 1s at 10000 bit/s is 1.0 datagrams of 1200 bytes; a rate needs at least 2"}},
		{RateProbe{To: to, Rate: 1e6, Port: 70000}, []string{"port: 70000 is not a port"}},
	} {
		err := tc.p.Validate()
		require.Error(t, err, "%+v", tc.p)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w, "%+v", tc.p)
		}
	}
}

// TestRateFraming checks the query and answer datagrams, and that the
// server counts the measured phase only, answers as much as it is asked
// and no more, and makes no session for a query.
func TestRateFraming(t *testing.T) {
	a := rateAnswer{session: 0x0102030405060708, packets: 2000, bytes: 2_400_000, elapsed: 1999 * time.Millisecond}
	b := a.marshal()
	require.Len(t, b, rateFrameSize)
	assert.Equal(t, "mta1", string(b[:4]))
	assert.Equal(t, uint64(2000), binary.BigEndian.Uint64(b[12:]))
	back, ok := parseRateAnswer(b)
	require.True(t, ok)
	assert.Equal(t, a, back)
	_, ok = parseRateAnswer(b[:rateFrameSize-1])
	assert.False(t, ok, "a short answer")
	_, ok = parseRateAnswer(rateQuery(1))
	assert.False(t, ok, "a query is no answer")

	q := rateQuery(a.session)
	assert.Len(t, q, len(b), "a query is as large as its answer: the server amplifies nothing")
	assert.Equal(t, "mtq1", string(q[:4]))
	assert.Equal(t, a.session, binary.BigEndian.Uint64(q[4:]))

	s := &probeServer{sessions: map[uint64]*session{}}
	datagram := func(session uint64, seq int, phase byte, size int) []byte {
		p := make([]byte, max(size, minRateSize))
		copy(p, rateMagic)
		binary.BigEndian.PutUint64(p[4:], session)
		binary.BigEndian.PutUint64(p[12:], uint64(seq))
		p[20] = phase
		return p[:size]
	}
	t0 := time.Now()
	ans, ok := s.answerRate(rateQuery(7))
	require.True(t, ok)
	assert.Equal(t, rateAnswer{session: 7}, must(parseRateAnswer(ans)), "an unknown session counts zero")
	assert.Empty(t, s.sessions, "a query makes no session")

	for i := range 10 {
		assert.True(t, s.countRate(datagram(7, i, 0, 1200), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	assert.Empty(t, s.sessions, "the warm-up is not counted")
	for i := range 5 {
		assert.True(t, s.countRate(datagram(7, 10+i, 1, 1000), t0.Add(time.Duration(20+3*i)*time.Millisecond)))
	}
	assert.True(t, s.countRate(datagram(8, 0, 1, 500), t0))
	assert.False(t, s.countRate(datagram(7, 0, 1, minRateSize-1), t0), "too short to be a rate datagram")
	assert.False(t, s.countRate(make([]byte, 100), t0))

	ans, ok = s.answerRate(rateQuery(7))
	require.True(t, ok)
	assert.Equal(t, rateAnswer{session: 7, packets: 5, bytes: 5000, elapsed: 12 * time.Millisecond}, must(parseRateAnswer(ans)))
	_, ok = s.answerRate(rateQuery(7)[:rateFrameSize-1])
	assert.False(t, ok, "a query shorter than its answer is ignored")

	// The echo and the rate datagrams do not take each other for theirs.
	assert.False(t, s.stamp(datagram(7, 0, 1, 1200), t0))
	assert.False(t, s.countRate(rateQuery(7), t0))
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("must: not ok")
	}
	return v
}

// TestRateQueryRetry runs the query loop against a server that loses the
// first query and whose count grows until its third answer, as while a
// queue drains: the prober must keep asking until two answers agree.
func TestRateQueryRetry(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	queries := make(chan time.Time, 16)
	go func() {
		buf := make([]byte, 2048)
		for k := 0; ; k++ {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			queries <- time.Now()
			if k == 0 || n < rateFrameSize || string(buf[:4]) != queryMagic {
				continue
			}
			a := rateAnswer{session: binary.BigEndian.Uint64(buf[4:]), packets: uint64(10 * min(k, 2)), elapsed: time.Duration(min(k, 2)) * time.Second}
			pc.WriteToUDPAddrPort(a.marshal(), from)
		}
	}()
	conn, err := dialProbe(t.Context(), "udp", RTTProbe{To: netip.MustParseAddr("127.0.0.1"), Port: pc.LocalAddr().(*net.UDPAddr).Port})
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	a, err := queryRate(t.Context(), conn, 42)
	require.NoError(t, err)
	assert.Equal(t, rateAnswer{session: 42, packets: 20, elapsed: 2 * time.Second}, a)
	// Answers 10, 20, 20 to queries 1, 2 and 3, query 0 lost.
	require.Len(t, queries, 4)
	first := <-queries
	assert.GreaterOrEqual(t, first.Sub(start), rateSettle-10*time.Millisecond, "the first query waits for the queue to settle")
}

// TestClientProbeRate floods the real probe server on loopback through the
// control API, where the sender is the limit.
func TestClientProbeRate(t *testing.T) {
	h, _, c := newTestHelper(t)
	lo := netip.MustParseAddr("127.0.0.1")
	p := RateProbe{To: lo, Port: h.ProbePort(), Rate: 40_000_000, Size: 1000, Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond}
	r, err := c.ProbeRate(t.Context(), p)
	require.NoError(t, err)
	t.Logf("loopback at 40 Mbit/s: %+v", r)
	want := 0.5 * 40e6 / (1042 * 8) // datagrams due in the measured phase
	assert.InDelta(t, want, r.Sent+r.SendErrors, want/10, "the pacer sent what the rate asks")
	assert.Zero(t, r.SendErrors)
	assert.LessOrEqual(t, r.Received, r.Sent)
	assert.Less(t, r.Loss, 0.02, "loopback loses little")
	assert.Equal(t, int64(r.Received)*1000, r.Bytes)
	assert.InEpsilon(t, float64(r.Received-1)*1042*8/r.Elapsed.Seconds(), r.WireBitsPerSecond, 1e-9)
	assert.InEpsilon(t, 40e6, r.WireBitsPerSecond, 0.2, "the sender's rate")

	var he *HelperError
	_, err = c.ProbeRate(t.Context(), RateProbe{To: lo, Port: h.ProbePort()})
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadRequest, he.Status)
	assert.Contains(t, he.Msg, "rate_bits_per_s: missing")

	// Nothing listens on port 1: the probe fails at once, naming the peer.
	start := time.Now()
	_, err = c.ProbeRate(t.Context(), RateProbe{To: lo, Port: 1, Rate: 1e6, Warmup: 100 * time.Millisecond, Duration: 100 * time.Millisecond})
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadGateway, he.Status)
	assert.Contains(t, he.Msg, "rate probe to 127.0.0.1")
	assert.Contains(t, he.Msg, "connection refused")
	assert.Less(t, time.Since(start), 5*time.Second)

	req, _ := http.NewRequest(http.MethodPost, "http://"+c.Addr()+"/probe/rate", strings.NewReader(`{"to":"127.0.0.1","rate":1000000}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var e errorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, e.Error, `unknown field "rate"`)
}

// The API's JSON names are the protocol: durations in nanoseconds under _ns.
func TestRateProbeJSON(t *testing.T) {
	var p RateProbe
	require.NoError(t, json.Unmarshal([]byte(`{"to":"172.18.0.3","port":7951,"rate_bits_per_s":65000000,"size":1200,"warmup_ns":500000000,"duration_ns":2000000000}`), &p))
	assert.Equal(t, RateProbe{To: netip.MustParseAddr("172.18.0.3"), Port: 7951, Rate: 65_000_000, Size: 1200, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second}, p)
	b, err := json.Marshal(RateProbe{To: netip.MustParseAddr("172.18.0.3"), Rate: 1})
	require.NoError(t, err)
	assert.JSONEq(t, `{"to":"172.18.0.3","rate_bits_per_s":1}`, string(b))
	b, err = json.Marshal(RateResult{Sent: 100, SendErrors: 1, Received: 95, Bytes: 114_000, Elapsed: time.Second, WireBitsPerSecond: 9.5e5, Loss: 0.05})
	require.NoError(t, err)
	assert.JSONEq(t, `{"sent":100,"send_errors":1,"received":95,"bytes":114000,"elapsed_ns":1000000000,"wire_bits_per_second":950000,"loss":0.05}`, string(b))
}
