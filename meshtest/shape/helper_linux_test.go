package shape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// nsClient is a Client of the helper in namespace ns, through its
// loopback: the test process is outside every namespace, so each
// connection is dialled from a thread inside ns.
func nsClient(ns, token string) *Client {
	c := NewClient(fmt.Sprintf("127.0.0.1:%d", ControlPort), token)
	c.hc.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := inNetns(ns, func() (err error) { conn, err = (&net.Dialer{}).DialContext(ctx, network, addr); return })
		return conn, err
	}
	return c
}

// TestHelperEndToEnd runs meshshaper -serve in both namespaces of a pair,
// as a node's helper runs, sets rules on each over HTTP with Client, and
// has the helpers probe each other: the RTT must be the sum of both sides'
// delays, the goodput and the rate probe's figure the destination's rate,
// forward and return loss each side's loss. SIGTERM must leave nothing behind.
func TestHelperEndToEnd(t *testing.T) {
	requireNetns(t)
	bin := buildShaper(t)
	p := newNSPair(t)
	src := p.addSources(t, 4)

	stderr, err := runShaper(bin, p.a, "-serve")
	if err == nil || !strings.Contains(stderr, "MESHSHAPER_TOKEN") {
		t.Errorf("-serve without a token: %v, %q; want a refusal naming MESHSHAPER_TOKEN", err, stderr)
	}
	stderr, err = runShaper(bin, p.a, "-serve", "-ingress-latency", "10ms")
	if err == nil || !strings.Contains(stderr, "PUT the rules") {
		t.Errorf("-serve with shape flags: %v, %q; want a refusal", err, stderr)
	}

	const token = "e2e-token"
	env := []string{"MESHSHAPER_TOKEN=" + token}
	procA := startShaperEnv(t, bin, p.a, env, "serving", "-serve")
	procB := startShaperEnv(t, bin, p.b, env, "serving", "-serve")
	ca, cb := nsClient(p.a, token), nsClient(p.b, token)
	ctx := t.Context()
	for _, c := range []*Client{ca, cb} {
		st, err := c.Ready(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Iface != "eth0" || (st.Kernel != DelayLine && st.Kernel != Netem) || string(st.Kernel) != procA.Ready.Kernel {
			t.Errorf("healthz: %+v, want eth0 and the kernel the serving line reported (%q)", st, procA.Ready.Kernel)
		}
	}
	var he *HelperError
	if _, err := nsClient(p.a, "wrong").Stats(ctx); !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Errorf("stats with a wrong token: %v, want HTTP 401", err)
	}

	ipA, ipB := netip.MustParseAddr(shapedIP), netip.MustParseAddr(measureIP)
	set := func(c *Client, r Rules, wantClasses int) {
		t.Helper()
		a, err := c.SetRules(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		wantMech := Mechanism("")
		if wantClasses > 0 {
			wantMech = DelayLine
		}
		if a != (Applied{Mechanism: wantMech, DelayClasses: wantClasses}) {
			t.Errorf("%s: applied %+v, want %d delay classes", c.Addr(), a, wantClasses)
		}
	}

	// A→B waits 10 ms at B's input, B→A 30 ms at A's: the RTT is 40 ms.
	rulesA := Rules{From: []PathRule{{Src: []netip.Addr{ipB}, Latency: 30 * time.Millisecond}}}
	set(ca, rulesA, 1)
	set(cb, Rules{From: []PathRule{{Src: []netip.Addr{ipA}, Latency: 10 * time.Millisecond}}}, 1)
	r, err := ca.ProbeRTT(ctx, RTTProbe{To: ipB, Count: 2000, Interval: time.Millisecond, Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	checkRTT(t, "helper a → helper b, 30ms + 10ms", r, 40*time.Millisecond)
	if r.Returned != r.Sent || r.Forward != r.Sent {
		t.Errorf("rtt probe: sent %d, forward %d, returned %d with no loss configured", r.Sent, r.Forward, r.Returned)
	}

	// The link A→B at 8 Mbit/s, under no uplink limit.
	const rate = 8_000_000
	rulesA.To = []RateRule{{Dst: []netip.Addr{ipB}, Rate: rate}}
	set(ca, rulesA, 1)
	tp, err := ca.ProbeThroughput(ctx, ThroughputProbe{To: ipB, Duration: 3 * time.Second, Warmup: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("throughput a → b with to[0].rate=8mbit: %.3f Mbit/s (%d bytes in %v)", tp.BitsPerSecond/1e6, tp.Bytes, tp.Elapsed)
	if math.Abs(tp.BitsPerSecond-rate) > 0.1*rate {
		t.Errorf("throughput a → b: %.3f Mbit/s, want 8 Mbit/s ± 10 %%", tp.BitsPerSecond/1e6)
	}

	// The same link with the rate probe, sent 1.3× faster than the link:
	// the figure is the link's on the wire, within 3 %.
	rp, err := ca.ProbeRate(ctx, RateProbe{To: ipB, Rate: rate * 13 / 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rate a → b with to[0].rate=8mbit: %.3f Mbit/s on the wire (%d of %d datagrams in %v, loss %.2f%%)",
		rp.WireBitsPerSecond/1e6, rp.Received, rp.Sent, rp.Elapsed, 100*rp.Loss)
	if math.Abs(rp.WireBitsPerSecond-rate) > 0.03*rate {
		t.Errorf("rate a → b: %.3f Mbit/s on the wire, want 8 Mbit/s ± 3 %%", rp.WireBitsPerSecond/1e6)
	}

	// 5 % loss at B's input is forward loss to A's probes, 3 % at A's input
	// is return loss; binomial σ over 4000 probes is 0.35 points.
	rulesA.From[0].Loss = 0.03
	set(ca, rulesA, 1)
	set(cb, Rules{From: []PathRule{{Src: []netip.Addr{ipA}, Latency: 10 * time.Millisecond, Loss: 0.05}}}, 1)
	r, err = ca.ProbeRTT(ctx, RTTProbe{To: ipB, Count: 4000, Interval: 500 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss a → b: forward %.2f%%, return %.2f%%, round trip %.2f%% over %d probes", 100*r.ForwardLoss, 100*r.ReturnLoss, 100*r.RoundTripLoss, r.Sent)
	if math.Abs(r.ForwardLoss-0.05) > 0.015 || math.Abs(r.ReturnLoss-0.03) > 0.015 {
		t.Errorf("forward loss %.2f%%, return loss %.2f%%; want 5%% and 3%% ± 1.5 points", 100*r.ForwardLoss, 100*r.ReturnLoss)
	}

	st, err := ca.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Classes) != 1 || st.Classes[0].Latency != 30*time.Millisecond || st.Classes[0].Packets == 0 || st.CPU <= 0 ||
		st.Mechanism != DelayLine || len(st.Rules.To) != 1 || st.Rules.From[0].Loss != 0.03 {
		t.Errorf("stats of a: %+v; want the rules set last, one 30ms class that saw packets, CPU time", st)
	}

	// The delay lines' cost with several classes: four sources of B at
	// four delays to a receiver in A that is not the helper, so that the
	// helper's CPU time is the delay lines' alone.
	t.Run("classes=4", func(t *testing.T) {
		set(cb, Rules{}, 0)
		var rules Rules
		for i, s := range src {
			rules.From = append(rules.From, PathRule{Src: []netip.Addr{s}, Latency: time.Duration(i+1) * 10 * time.Millisecond})
		}
		set(ca, rules, len(src))
		echo := echoIn(t, p.a)
		before, err := ca.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		res := make([]RTTResult, len(src))
		errs := make([]error, len(src))
		var wg sync.WaitGroup
		for i, s := range src {
			wg.Go(func() {
				run, err := rttFrom(ctx, p.b, s, RTTProbe{To: ipA, Port: echo.Port(), Count: n, Interval: 2 * time.Millisecond})
				res[i], errs[i] = run.result(), err
			})
		}
		wg.Wait()
		after, err := ca.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range src {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			checkRTT(t, fmt.Sprintf("from %v, class %v", src[i], rules.From[i].Latency), res[i], rules.From[i].Latency)
			if res[i].Returned != n {
				t.Errorf("from %v: %d of %d probes came back", src[i], res[i].Returned, n)
			}
		}
		for _, c := range after.Classes {
			t.Logf("class %v: %d packets in all, lateness mean %v max %v, intake mean %v max %v", c.Latency, c.Packets, c.MeanLate, c.MaxLate, c.MeanIntake, c.MaxIntake)
		}
		// A class the previous rules had (30 ms) kept its line and its
		// counts: the cost is of the packets of this run.
		packets, cpu := after.Delay.Packets-before.Delay.Packets, after.CPU-before.CPU
		if packets < uint64(len(src)*n) {
			t.Fatalf("the classes saw %d packets, want at least %d", packets, len(src)*n)
		}
		t.Logf("helper CPU with %d classes at %d packets/s in all: %v for %d packets = %.1f ms per 1000 packets",
			len(src), len(src)*int(time.Second/(2*time.Millisecond)), cpu, packets, float64(cpu)/float64(packets)/1e3)
	})

	for _, pr := range []*shaperProc{procA, procB} {
		ev := pr.stop(t)
		t.Logf("removed: %+v", ev)
		if ev.Errors != 0 {
			t.Errorf("delay line errors: %d, last: %s", ev.Errors, ev.LastError)
		}
	}
	for _, ns := range []string{p.a, p.b} {
		left, err := leftovers(ns)
		if err != nil {
			t.Errorf("list leftovers in %s: %v", ns, err)
		}
		if len(left) > 0 {
			t.Errorf("meshshaper -serve left behind in %s: %s", ns, strings.Join(left, "; "))
		}
	}
}
