package shape

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests apply Rules in this process, on eth0 of namespace a of a
// namespace pair, and measure from namespace b, whose extra addresses
// (addSources) stand for several peers. Every netlink call of the Shaper
// runs inside a, through inNetns.

// applyIn puts r in force in namespace ns; t.Cleanup closes the Shaper.
func applyIn(t *testing.T, ns string, r Rules) *Shaper {
	t.Helper()
	var sh *Shaper
	err := inNetns(ns, func() (err error) { sh, err = ApplyRules("eth0", r); return })
	if sh != nil {
		t.Cleanup(func() {
			if err := inNetns(ns, sh.Close); err != nil {
				t.Errorf("close shaper: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("apply rules in %s: %v", ns, err)
	}
	return sh
}

func updateIn(ns string, sh *Shaper, r Rules) error {
	return inNetns(ns, func() error { return sh.Update(r) })
}

// echoIn serves the probe protocol in namespace ns, on a free port.
func echoIn(t *testing.T, ns string) *probeServer {
	t.Helper()
	var s *probeServer
	if err := inNetns(ns, func() (err error) { s, err = listenProbes("0.0.0.0:0"); return }); err != nil {
		t.Fatalf("probe server in %s: %v", ns, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rttFrom sends p's probes from address src of namespace ns.
func rttFrom(ctx context.Context, ns string, src netip.Addr, p RTTProbe) (rttRun, error) {
	p = p.withDefaults()
	var conn *net.UDPConn
	err := inNetns(ns, func() (err error) {
		conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.To, uint16(p.Port))))
		return
	})
	if err != nil {
		return rttRun{}, fmt.Errorf("probe socket from %v: %w", src, err)
	}
	defer conn.Close()
	return probeRTT(ctx, conn, p)
}

// rttTolerance is the bound on an RTT: 5 % or 1 ms, the larger.
func rttTolerance(want time.Duration) time.Duration { return max(want/20, time.Millisecond) }

// checkRTT reports an error unless the median RTT of r is want within
// rttTolerance.
func checkRTT(t *testing.T, what string, r RTTResult, want time.Duration) {
	t.Helper()
	tol := rttTolerance(want)
	t.Logf("%s: median %v (error %v), mean %v, p99 %v, max %v, returned %d of %d",
		what, r.Median, r.Median-want, r.Mean, r.P99, r.Max, r.Returned, r.Sent)
	if r.Median < want-tol || r.Median > want+tol {
		t.Errorf("%s: median RTT %v, want %v ± %v", what, r.Median, want, tol)
	}
}

// TestRulesPerSource gives two sources different delays to one receiver
// and leaves a third alone: each must see its own RTT, and the third none,
// with every probe delivered and only the shaped sources' packets in the
// delay lines.
func TestRulesPerSource(t *testing.T) {
	requireNetns(t)
	p := newNSPair(t)
	src := p.addSources(t, 3)
	srv := echoIn(t, p.a)
	want := []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 0}
	sh := applyIn(t, p.a, Rules{From: []PathRule{
		{Src: src[:1], Latency: want[0]},
		{Src: src[1:2], Latency: want[1]},
	}})
	if got := sh.Mechanism(); got != DelayLine {
		t.Errorf("Mechanism() = %q, want %q", got, DelayLine)
	}

	const n = 1000
	results := make([]RTTResult, len(src))
	errs := make([]error, len(src))
	var wg sync.WaitGroup
	for i, s := range src {
		wg.Go(func() {
			var run rttRun
			// 500 probes/s each: the three streams and two delay lines share
			// this process, and the machine, with whatever else runs.
			run, errs[i] = rttFrom(t.Context(), p.b, s, RTTProbe{To: netip.MustParseAddr(shapedIP), Port: srv.Port(), Count: n, Interval: 2 * time.Millisecond})
			results[i] = run.result()
		})
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("probe from %v: %v", src[i], errs[i])
		}
		if r.Returned != n {
			t.Errorf("from %v: %d of %d probes came back with no loss configured", src[i], r.Returned, n)
		}
	}
	checkRTT(t, fmt.Sprintf("from %v, latency %v", src[0], want[0]), results[0], want[0])
	checkRTT(t, fmt.Sprintf("from %v, latency %v", src[1], want[1]), results[1], want[1])
	t.Logf("from %v, unshaped: median %v, p99 %v", src[2], results[2].Median, results[2].P99)
	if results[2].Median > 2*time.Millisecond {
		t.Errorf("from %v, which no rule names: median RTT %v, want under 2ms (unshaped)", src[2], results[2].Median)
	}

	classes := sh.DelayClasses()
	if len(classes) != 2 {
		t.Fatalf("DelayClasses() = %+v, want 2 classes", classes)
	}
	var packets uint64
	for i, c := range classes {
		t.Logf("class %v on queue %d: %d packets, lateness mean %v max %v, intake mean %v max %v", c.Latency, c.Queue, c.Packets, c.MeanLate, c.MaxLate, c.MeanIntake, c.MaxIntake)
		if c.Latency != want[i] || c.Sources != 1 {
			t.Errorf("class %d: latency %v with %d sources, want %v with 1", i, c.Latency, c.Sources, want[i])
		}
		if c.Packets < n || c.Errors != 0 {
			t.Errorf("class %v: %d packets, %d errors (%s); want at least the %d probes and no error", c.Latency, c.Packets, c.Errors, c.LastError, n)
		}
		packets += c.Packets
	}
	// The unshaped source's probes would add n more.
	if packets >= 2*n+n/2 {
		t.Errorf("the delay lines saw %d packets, want about %d: the unshaped source went through them", packets, 2*n)
	}
}

// TestRulesCut cuts one source: none of its packets pass, another's all do.
// With a rule for every source last, only the sources named before it
// escape it.
func TestRulesCut(t *testing.T) {
	requireNetns(t)
	p := newNSPair(t)
	src := p.addSources(t, 3)
	srv := echoIn(t, p.a)
	probe := RTTProbe{To: netip.MustParseAddr(shapedIP), Port: srv.Port(), Count: 300, Interval: time.Millisecond}
	run := func(t *testing.T, cut, open []netip.Addr) {
		t.Helper()
		for _, s := range append(slices.Clone(cut), open...) {
			r, err := rttFrom(t.Context(), p.b, s, probe)
			if err != nil {
				t.Fatalf("probe from %v: %v", s, err)
			}
			res := r.result()
			if slices.Contains(cut, s) {
				if res.Forward != 0 || res.Returned != 0 {
					t.Errorf("from cut %v: %d probes arrived and %d came back, want none", s, res.Forward, res.Returned)
				}
			} else if res.Returned != probe.Count {
				t.Errorf("from %v, not cut: %d of %d probes came back", s, res.Returned, probe.Count)
			}
		}
	}
	sh := applyIn(t, p.a, Rules{From: []PathRule{{Src: src[:1], Loss: 1, Latency: 10 * time.Millisecond}}})
	if len(sh.DelayClasses()) != 0 {
		t.Errorf("a cut path has delay classes %+v; it delays nothing", sh.DelayClasses())
	}
	run(t, src[:1], src[1:])

	// src[1] is named (untouched) before the rule that cuts everyone else.
	if err := updateIn(p.a, sh, Rules{From: []PathRule{{Src: src[1:2]}, {Loss: 1}}}); err != nil {
		t.Fatal(err)
	}
	run(t, []netip.Addr{src[0], src[2]}, src[1:2])
}

// TestRulesUpdate changes the delay under a running probe stream, twice:
// 20 ms, then 50 ms (a new class, its line started before the swap and the
// old one closed after), then no rules. The stream must see each delay and
// lose no probe across the swaps.
func TestRulesUpdate(t *testing.T) {
	requireNetns(t)
	p := newNSPair(t)
	src := p.addSources(t, 2)
	srv := echoIn(t, p.a)
	phases := []struct {
		rules Rules
		want  time.Duration
	}{
		{Rules{From: []PathRule{{Src: src[:1], Latency: 20 * time.Millisecond}}}, 20 * time.Millisecond},
		{Rules{From: []PathRule{{Src: src[:1], Latency: 50 * time.Millisecond}, {Src: src[1:], Loss: 1}}}, 50 * time.Millisecond},
		{Rules{}, 0},
	}
	const phase, interval = time.Second, time.Millisecond
	sh := applyIn(t, p.a, phases[0].rules)

	type out struct {
		run rttRun
		err error
	}
	done := make(chan out, 1)
	start := time.Now()
	go func() {
		r, err := rttFrom(t.Context(), p.b, src[0], RTTProbe{To: netip.MustParseAddr(shapedIP), Port: srv.Port(),
			Count: int(time.Duration(len(phases)) * phase / interval), Interval: interval})
		done <- out{r, err}
	}()
	swapped := []time.Duration{0} // when each phase's rules were in force, from the stream's start
	for i := 1; i < len(phases); i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * phase)))
		t0 := time.Now()
		if err := updateIn(p.a, sh, phases[i].rules); err != nil {
			t.Fatalf("update to phase %d: %v", i, err)
		}
		swapped = append(swapped, time.Since(start))
		t.Logf("update to phase %d took %v", i, time.Since(t0))
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	all := o.run.result()
	if all.Returned != all.Sent {
		var lost []int
		for i, d := range o.run.rtt {
			if d < 0 {
				lost = append(lost, i)
			}
		}
		t.Errorf("%d of %d probes lost across the updates (no loss configured); sequence numbers %v", all.Sent-all.Returned, all.Sent, lost)
	}
	// Each phase is judged on the probes sent well after its rules were in
	// force and well before the next update began.
	const margin = 150 * time.Millisecond
	for i, ph := range phases {
		from := int((swapped[i] + margin) / interval)
		to := int((time.Duration(i+1)*phase - margin) / interval)
		if from+100 > to {
			t.Errorf("phase %d: its rules were in force only from %v, too late to judge it", i, swapped[i])
			continue
		}
		r := rttRun{rtt: o.run.rtt[from:to], forward: to - from}.result()
		if ph.want == 0 {
			t.Logf("phase %d, no rules: median %v, p99 %v", i, r.Median, r.P99)
			if r.Median > 2*time.Millisecond {
				t.Errorf("phase %d, no rules: median RTT %v, want under 2ms", i, r.Median)
			}
			continue
		}
		checkRTT(t, fmt.Sprintf("phase %d, latency %v, probes %d..%d", i, ph.want, from, to), r, ph.want)
	}
	st := sh.Stats()
	t.Logf("delay lines over the run: %+v", st)
	if st.Errors != 0 || st.Released != st.Packets {
		t.Errorf("delay lines: %d packets, %d released, %d errors (%s); want every packet released, no error", st.Packets, st.Released, st.Errors, st.LastError)
	}
	if n := sh.DelayClasses(); len(n) != 0 {
		t.Errorf("after Update(Rules{}) classes %+v remain", n)
	}
}

// TestRulesRate limits two destinations to 5 and 10 Mbit/s under no uplink
// limit, and measures both at once; a third destination is not limited.
// Then Update swaps the two rates, in place, and both are measured again.
func TestRulesRate(t *testing.T) {
	requireNetns(t)
	p := newNSPair(t)
	dst := p.addSources(t, 3)
	rules := func(r0, r1 int64) Rules {
		return Rules{To: []RateRule{{Dst: dst[:1], Rate: r0}, {Dst: dst[1:2], Rate: r1}}}
	}
	measure := func(t *testing.T, dur time.Duration, want []float64) []float64 {
		t.Helper()
		got := make([]float64, len(dst))
		errs := make([]error, len(dst))
		var wg sync.WaitGroup
		for i, d := range dst {
			wg.Go(func() { got[i], errs[i] = tcpGoodput(p.b, d.String(), p.a, dur) })
		}
		wg.Wait()
		for i := range dst {
			if errs[i] != nil {
				t.Fatalf("goodput to %v: %v", dst[i], errs[i])
			}
		}
		for i, w := range want {
			t.Logf("to %v, rate %s: TCP goodput %.3f Mbit/s", dst[i], FormatRate(int64(w)), got[i]/1e6)
			if math.Abs(got[i]-w) > 0.1*w {
				t.Errorf("to %v: TCP goodput %.3f Mbit/s, want %.0f Mbit/s ± 10 %%", dst[i], got[i]/1e6, w/1e6)
			}
		}
		t.Logf("to %v, no rule: TCP goodput %.1f Mbit/s", dst[2], got[2]/1e6)
		if got[2] < 50e6 {
			t.Errorf("to %v, which no rule names: %.1f Mbit/s, want far above the rules' rates (the default class is the unlimited uplink)", dst[2], got[2]/1e6)
		}
		return got
	}
	sh := applyIn(t, p.a, rules(5_000_000, 10_000_000))
	measure(t, 4*time.Second, []float64{5e6, 10e6})

	// The classes are replaced in place and the filters move to the other
	// priority: a filter left at the old one would keep the old rates.
	if err := updateIn(p.a, sh, rules(10_000_000, 5_000_000)); err != nil {
		t.Fatal(err)
	}
	measure(t, 3*time.Second, []float64{10e6, 5e6})
}

// TestRulesRemove checks that Update(Rules{}), Close and Remove each leave
// nothing of the package behind, and that the full rules put something of
// each kind in place first, so that the check can fail.
func TestRulesRemove(t *testing.T) {
	requireNetns(t)
	p := newNSPair(t)
	src := p.addSources(t, 3)
	full := Rules{EgressRate: 50_000_000, IngressRate: 50_000_000, EgressLoss: 0.001,
		To: []RateRule{{Dst: src[:1], Rate: 5_000_000}},
		From: []PathRule{{Src: src[:1], Latency: 10 * time.Millisecond}, {Src: src[1:2], Loss: 1}, {Src: src[2:], Loss: 0.1},
			{Latency: 5 * time.Millisecond}}}
	expect := func(t *testing.T, what string, wantAll bool) {
		t.Helper()
		left, err := leftovers(p.a)
		if err != nil {
			t.Fatalf("list leftovers: %v", err)
		}
		if !wantAll {
			if len(left) > 0 {
				t.Errorf("after %s: left behind %s", what, strings.Join(left, "; "))
			}
			return
		}
		got := strings.Join(left, "; ")
		for _, w := range []string{"link mtshape", "qdisc htb on eth0", "qdisc htb on mtshape", "qdisc ingress on eth0", "nft table meshtest_shape (family 1)", "nft table meshtest_shape (family 5)"} {
			if !strings.Contains(got, w) {
				t.Errorf("after %s: want %q among %s", what, w, got)
			}
		}
	}
	sh := applyIn(t, p.a, full)
	expect(t, "ApplyRules", true)
	if len(sh.DelayClasses()) != 2 {
		t.Errorf("classes %+v, want 2 (10ms, and 5ms for every other source)", sh.DelayClasses())
	}
	if err := updateIn(p.a, sh, Rules{}); err != nil {
		t.Fatal(err)
	}
	expect(t, "Update(Rules{})", false)
	if sh.Mechanism() != "" || !sh.Rules().IsZero() {
		t.Errorf("after Update(Rules{}): mechanism %q, rules %+v", sh.Mechanism(), sh.Rules())
	}
	if err := updateIn(p.a, sh, full); err != nil {
		t.Fatal(err)
	}
	expect(t, "Update(full) after Update(Rules{})", true)
	if err := inNetns(p.a, sh.Close); err != nil {
		t.Fatal(err)
	}
	expect(t, "Close", false)
	if err := updateIn(p.a, sh, full); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Update after Close: %v, want an error saying the shaper is closed", err)
	}

	// Remove, as after a crash, with the Shaper's delay lines still running.
	sh2 := applyIn(t, p.a, full)
	if err := inNetns(p.a, func() error { return Remove("eth0") }); err != nil {
		t.Fatal(err)
	}
	expect(t, "Remove", false)
	if err := inNetns(p.a, sh2.Close); err != nil {
		t.Errorf("Close after Remove: %v", err)
	}

	// Refused rules leave nothing.
	err := inNetns(p.a, func() error {
		_, err := ApplyRules("eth0", Rules{From: []PathRule{{Src: []netip.Addr{netip.MustParseAddr("fd00::1")}, Latency: time.Millisecond}}})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "IPv6") {
		t.Errorf("ApplyRules with an IPv6 source: %v, want a refusal naming IPv6", err)
	}
	expect(t, "a refused ApplyRules", false)
}
