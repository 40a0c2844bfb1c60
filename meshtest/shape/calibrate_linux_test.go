package shape

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestCalibration builds meshshaper, shapes one side of a namespace pair with
// it, and measures from the other side that the network is the one asked
// for, with the bounds: RTT within 5 % or 1 ms (the larger), loss
// within 1 percentage point over 20,000 packets, rate within 10 %. After each
// run nothing of the shape may remain.
func TestCalibration(t *testing.T) {
	requireNetns(t)
	bin := buildShaper(t)
	p := newNSPair(t)

	base, err := udpEcho(p.a, shapedIP, p.b, 200, 1000)
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	t.Logf("unshaped: %v", base)

	// run starts meshshaper in the shaped namespace, measures, stops it and
	// checks that it removed everything.
	run := func(t *testing.T, args []string, measure func(t *testing.T)) shaperEvent {
		t.Helper()
		sh := startShaper(t, bin, p.a, args...)
		t.Logf("meshshaper %s: mechanism=%q kernel=%q", strings.Join(args, " "), sh.Ready.Mechanism, sh.Ready.Kernel)
		measure(t)
		ev := sh.stop(t)
		if ev.Errors != 0 {
			t.Errorf("delay line errors: %d, last: %s", ev.Errors, ev.LastError)
		}
		left, err := leftovers(p.a)
		if err != nil {
			t.Errorf("list leftovers: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("meshshaper left behind: %s", strings.Join(left, "; "))
		}
		return ev
	}

	t.Run("ingress.latency=50ms", func(t *testing.T) {
		const want = 50 * time.Millisecond
		var r echoResult
		ev := run(t, []string{"-ingress-latency", "50ms"}, func(t *testing.T) {
			if r, err = udpEcho(p.a, shapedIP, p.b, 3000, 1000); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("shaped: %v", r)
		tol := max(want/20, time.Millisecond)
		if got := r.Quantile(0.5); got < want-tol || got > want+tol {
			t.Errorf("median RTT %v, want %v ± %v (one-way %v on the shaped side's input)", got, want, tol, want)
		}
		// The median, not the mean, is asserted: on a loaded machine the
		// scheduler sometimes wakes the delay line tens of milliseconds late,
		// which moves the mean and the tail (both logged) but not the median.
		if r.Received != r.Sent {
			t.Errorf("received %d of %d probes with no loss configured", r.Received, r.Sent)
		}
		if ev.Packets < uint64(r.Sent) {
			t.Errorf("delay line saw %d packets, fewer than the %d probes", ev.Packets, r.Sent)
		}
		t.Logf("delay line: %d packets, %d released, lateness mean %.1f µs max %.1f µs, added RTT error (mean - 50ms - unshaped mean) %v",
			ev.Packets, ev.Released, ev.MeanLateUS, ev.MaxLateUS, r.Mean()-want-base.Mean())
		if ev.Packets > 0 {
			t.Logf("delay line CPU: %.1f ms for %d packets = %.2f ms per 1000 packets", ev.CPUms, ev.Packets, ev.CPUms/float64(ev.Packets)*1000)
		}
	})

	// Loss is configured on one direction only, so the echo loss is the
	// configured loss.
	for _, dir := range []string{"ingress", "egress"} {
		t.Run(dir+".loss=1%", func(t *testing.T) {
			const want, n = 0.01, 20_000
			var r echoResult
			run(t, []string{"-" + dir + "-loss", "1%"}, func(t *testing.T) {
				if r, err = udpEcho(p.a, shapedIP, p.b, n, 5000); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("shaped: %v", r)
			if got := r.Loss(); math.Abs(got-want) > 0.01 {
				t.Errorf("loss %.3f%% over %d probes, want %.0f%% ± 1 point", 100*got, n, 100*want)
			}
		})
	}

	// HTB counts wire bytes; goodput excludes the TCP/IP/Ethernet headers
	// (about 4.4 % at a 1500-byte MTU), which the 10 % bound absorbs.
	for _, tc := range []struct{ dir, sink, sinkIP, sender string }{
		{"ingress", p.a, shapedIP, p.b},
		{"egress", p.b, measureIP, p.a},
	} {
		t.Run(tc.dir+".rate=10mbit", func(t *testing.T) {
			const want = 10e6
			var got float64
			run(t, []string{"-" + tc.dir + "-rate", "10mbit"}, func(t *testing.T) {
				if got, err = tcpGoodput(tc.sink, tc.sinkIP, tc.sender, 4*time.Second); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("TCP goodput %.3f Mbit/s with %s rate 10mbit", got/1e6, tc.dir)
			if math.Abs(got-want) > 0.1*want {
				t.Errorf("TCP goodput %.3f Mbit/s, want 10 Mbit/s ± 10 %%", got/1e6)
			}
		})
	}

	t.Run("egress.latency=refused", func(t *testing.T) {
		stderr, err := runShaper(bin, p.a, "-egress-latency", "10ms")
		if err == nil {
			t.Fatal("meshshaper accepted -egress-latency; want it refused")
		}
		if !strings.Contains(stderr, "ingress.latency instead") {
			t.Errorf("refusal does not say what to do instead: %s", stderr)
		}
		if left, _ := leftovers(p.a); len(left) > 0 {
			t.Errorf("refused run left behind: %s", strings.Join(left, "; "))
		}
	})
}

// TestDetect reports the mechanism this kernel allows; where the kernel has
// no sch_netem (as on the development machine) it must be the delay line.
func TestDetect(t *testing.T) {
	requireNetns(t)
	m, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel mechanism: %s", m)
	if m != Netem && m != DelayLine {
		t.Errorf("Detect() = %q, want %q or %q", m, Netem, DelayLine)
	}
}
