package meshtest

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/summary"
)

// Calibration budget. RTT probes go at 500/s, so 2,000 take 4 s a pair and
// tell a loss of 1 % each way (2 % round trip) within a point at 3σ. A rate
// is measured with a UDP flood paced at 1.3 times it, so that the shaper
// and not the sender is the limit, counted for 2 s after a 0.5 s warm-up
// that fills the shaper's queue: the link's rate, which a TCP stream on a
// long path would not reach for seconds. Pairs run concurrently, rate
// pairs one at a time since floods can share an uplink.
const (
	calibrationPairsPerClass = 3
	calibrationProbes        = 2000
	calibrationProbeInterval = 2 * time.Millisecond
	calibrationRateOver      = 1.3
	calibrationRateWarmup    = 500 * time.Millisecond
	calibrationRateWindow    = 2 * time.Second
)

// calibrate measures the network the helpers built, pair by pair, from
// inside the mesh (one helper probes another's, so the probes cross the
// same rules as the nodes' packets), and fails when a figure is off beyond
// its tolerance (conditions.Check). The figures land in m.Shaping and the
// summary either way.
func (m *Mesh) calibrate(ctx context.Context) error {
	begin := time.Now()
	line0 := m.readDelayLine(ctx)
	nodes := m.conditionNodes()
	edges := make([][2]int, len(m.Graph.Edges))
	for i, e := range m.Graph.Edges {
		edges[i] = [2]int{e.From, e.To}
	}
	pairs, err := m.Config.Conditions.Pick(edges, nodes, calibrationPairsPerClass)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	results := make([]Calibration, len(pairs))
	got := make([]conditions.Measured, len(pairs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, p := range pairs {
		g.Go(func() (err error) {
			got[i], err = m.probePath(gctx, p.From, p.To)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	for i, p := range pairs {
		if p.Want.Throughput > 0 {
			bps, err := m.probeRate(ctx, p.From, p.To, p.Want.Throughput)
			if err != nil {
				return fmt.Errorf("calibrate: %w", err)
			}
			got[i].Throughput = bps
		}
	}
	var bad []string
	for i, p := range pairs {
		w, g := p.Want, got[i]
		r := Calibration{From: p.From.Name, To: p.To.Name,
			WantRTT: w.RTT, GotRTT: g.RTT, WantLoss: w.RoundTripLoss, GotLoss: g.RoundTripLoss, Probes: g.Probes,
			WantRate: float64(w.Throughput) * (1 - w.ForwardLoss), GotRate: g.Throughput, Verdict: summary.CalibrationOK}
		for _, res := range conditions.Check(w, g) {
			switch res.Outcome {
			case conditions.Fail:
				r.Verdict = summary.CalibrationMismatch
				r.Mismatches = append(r.Mismatches, res.String())
			case conditions.Undecided:
				if asked(res.Figure, w) {
					if r.Verdict == summary.CalibrationOK {
						r.Verdict = summary.CalibrationUndecided
					}
					r.Mismatches = append(r.Mismatches, res.String())
				}
			}
		}
		if r.Verdict == summary.CalibrationMismatch {
			bad = append(bad, strings.Join(r.Mismatches, "; "))
		}
		results[i] = r
		m.logf("meshtest: calibration %s→%s: %s", r.From, r.To, r.describe())
	}
	line := m.readDelayLine(ctx)
	line.Packets -= line0.Packets
	line.CPU -= line0.CPU
	if c := line.cost(); c != nil {
		m.logf("meshtest: delay lines during calibration: %d packets, %.1f ms of the helpers' CPU per 1000 (idle work included), late by %.3f ms on average, %.1f ms at most",
			c.Packets, c.CPUMsPer1000Packets, c.MeanLateMs, c.MaxLateMs)
	}
	m.shapeMu.Lock()
	m.Shaping.Calibration = results
	m.Shaping.CalibrationDelayLine = &line
	m.shapeMu.Unlock()
	if len(bad) > 0 {
		return fmt.Errorf("the network is not the one asked for (%d of %d paths off; mechanism %s): %s",
			len(bad), len(results), m.Shaping.Mechanism, strings.Join(bad, "; "))
	}
	m.logf("meshtest: calibrated %d paths in %.1f s: the network is the one asked for", len(results), time.Since(begin).Seconds())
	return nil
}

// asked reports whether the conditions set figure on the path: an RTT is
// always checked (0 added is a figure too), loss and rate only when set.
// A figure not asked for is undecided by nature, and not worth a word.
func asked(figure string, w conditions.Expected) bool {
	switch figure {
	case conditions.FigureLoss:
		return w.RoundTripLoss > 0
	case conditions.FigureThroughput:
		return w.Throughput > 0
	}
	return true
}

// describe is the calibration of one path in a line of the log.
func (c Calibration) describe() string {
	s := fmt.Sprintf("rtt %.2f ms (want %.2f), loss %.2f%% (want %.2f%%, %d probes)",
		ms(c.GotRTT), ms(c.WantRTT), 100*c.GotLoss, 100*c.WantLoss, c.Probes)
	if c.WantRate > 0 {
		s += fmt.Sprintf(", rate %.2f Mbit/s (want %.2f)", c.GotRate/1e6, c.WantRate/1e6)
	}
	return s + ": " + c.Verdict
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// conditionNodes are the mesh's nodes as package conditions sees them.
func (m *Mesh) conditionNodes() []conditions.Node {
	m.addrMu.RLock()
	defer m.addrMu.RUnlock()
	out := make([]conditions.Node, len(m.Nodes))
	for i, n := range m.Nodes {
		addr, _ := netip.ParseAddr(n.IP)
		out[i] = conditions.Node{Index: n.Index, Name: n.Name, Role: n.Role, Group: n.Group, Addr: addr}
	}
	return out
}

// probePath measures from's path to to and back with UDP probes between
// their helpers: the median RTT and the round-trip loss.
func (m *Mesh) probePath(ctx context.Context, from, to conditions.Node) (conditions.Measured, error) {
	out := conditions.Measured{From: from.Name, To: to.Name}
	s, err := m.shaperOf(from.Name)
	if err != nil {
		return out, err
	}
	res, err := s.client.ProbeRTT(ctx, shape.RTTProbe{To: to.Addr, Count: calibrationProbes, Interval: calibrationProbeInterval})
	if err != nil {
		return out, fmt.Errorf("probe %s→%s: %w", from.Name, to.Name, err)
	}
	out.RTT, out.Probes, out.RoundTripLoss = res.Median, res.Sent, res.RoundTripLoss
	if res.Returned == 0 {
		out.RTT = time.Duration(math.MaxInt64) // nothing came back: no RTT is right
	}
	return out, nil
}

// probeRate measures the rate of from → to on the wire, in bit/s, with a
// UDP flood paced above the rate the path should have.
func (m *Mesh) probeRate(ctx context.Context, from, to conditions.Node, want int64) (float64, error) {
	s, err := m.shaperOf(from.Name)
	if err != nil {
		return 0, err
	}
	res, err := s.client.ProbeRate(ctx, shape.RateProbe{To: to.Addr, Rate: int64(float64(want) * calibrationRateOver),
		Warmup: calibrationRateWarmup, Duration: calibrationRateWindow})
	if err != nil {
		return 0, fmt.Errorf("rate %s→%s: %w", from.Name, to.Name, err)
	}
	return res.WireBitsPerSecond, nil
}

// shaperOf is node name's helper.
func (m *Mesh) shaperOf(name string) (*shaper, error) {
	m.shapeMu.Lock()
	defer m.shapeMu.Unlock()
	s := m.shapers[name]
	if s == nil {
		return nil, fmt.Errorf("node %s: %w", name, errNotShaped)
	}
	return s, nil
}

// DelayLine is what the helpers' delay lines did: packets held and the
// helpers' CPU time, summed, and how late packets left against their due
// time (over the helpers' lifetime).
type DelayLine struct {
	Packets           uint64
	CPU               time.Duration
	MeanLate, MaxLate time.Duration
}

// cost is d as the summary gives it: nil when no packet was delayed, and
// no per-packet figure below 1000 packets, where the helpers' idle work
// would be most of the CPU.
func (d *DelayLine) cost() *summary.DelayLineCost {
	if d == nil || d.Packets == 0 {
		return nil
	}
	c := &summary.DelayLineCost{Packets: d.Packets, CPUSeconds: d.CPU.Seconds(), MeanLateMs: ms(d.MeanLate), MaxLateMs: ms(d.MaxLate)}
	if d.Packets >= 1000 {
		c.CPUMsPer1000Packets = ms(d.CPU) / float64(d.Packets) * 1000
	}
	return c
}

// readDelayLine sums the helpers' delay-line counters and CPU time: what
// shaping without netem costs. A helper that does not answer (its node
// is down) is left out.
func (m *Mesh) readDelayLine(ctx context.Context) DelayLine {
	m.shapeMu.Lock()
	all := make([]*shaper, 0, len(m.shapers))
	for _, s := range m.shapers {
		all = append(all, s)
	}
	m.shapeMu.Unlock()
	var (
		mu      sync.Mutex
		out     DelayLine
		lateSum float64
	)
	var g errgroup.Group
	g.SetLimit(16)
	for _, s := range all {
		g.Go(func() error {
			st, err := s.client.Stats(ctx)
			if err != nil {
				return nil // its node is down: its share is missing
			}
			mu.Lock()
			defer mu.Unlock()
			out.Packets += st.Delay.Packets
			out.CPU += st.CPU
			lateSum += float64(st.Delay.MeanLate) * float64(st.Delay.Packets)
			out.MaxLate = max(out.MaxLate, st.Delay.MaxLate)
			return nil
		})
	}
	g.Wait()
	if out.Packets > 0 {
		out.MeanLate = time.Duration(lateSum / float64(out.Packets))
	}
	return out
}
