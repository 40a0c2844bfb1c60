package experiments_test

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// flagSet reports whether the command line set flag name.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// TestLinkConditions runs a star over shaped links and proves the network
// is the one asked for. Without -latency, -loss, -rate or -conditions it
// loads testdata/conditions/bootstrap-link.json: 50 ms added each way on
// the bootstrap's link (100 ms round trips from every peer), 1 % loss each
// way between the bootstrap and its peers but peer-001, and 10 Mbit/s each
// way between the bootstrap and peer-001. New calibrates before it returns
// and fails the mesh on a mismatch; this test says the same in its own
// terms and keeps the figures.
func TestLinkConditions(t *testing.T) {
	cfg, err := flags.Config("links")
	require.NoError(t, err, "flags")
	require.GreaterOrEqual(t, cfg.Peers, 2, "-peers: a lossy path and a rate-limited one need two peers")
	if cfg.Conditions.IsZero() {
		path, err := meshtest.FindFile("testdata/conditions/bootstrap-link.json")
		require.NoError(t, err)
		cfg.Conditions, err = conditions.Load(path)
		require.NoError(t, err)
	}
	meshtest.RequireDocker(t)

	mesh := meshtest.New(t, cfg)
	rec := mesh.Record(t, min(flags.Duration, 10*time.Second))
	rec.WriteArtifacts(t)

	require.NotNil(t, mesh.Shaping, "a shaped mesh says how it was shaped")
	t.Logf("links shaped by %s", mesh.Shaping.Mechanism)
	assert.NotEmpty(t, mesh.Shaping.Mechanism)
	require.NotEmpty(t, mesh.Shaping.Calibration, "calibration measured no path")
	for _, c := range mesh.Shaping.Calibration {
		assert.NotEqual(t, summary.CalibrationMismatch, c.Verdict, "%s→%s: %v", c.From, c.To, c.Mismatches)
		tol := max(0.05*float64(c.WantRTT), float64(time.Millisecond))
		assert.InDelta(t, float64(c.WantRTT), float64(c.GotRTT), tol, "%s→%s median RTT", c.From, c.To)
		if c.WantLoss > 0 {
			assert.InDelta(t, c.WantLoss, c.GotLoss, 0.01, "%s→%s round-trip loss over %d probes", c.From, c.To, c.Probes)
		}
		if c.WantRate > 0 {
			assert.InEpsilon(t, c.WantRate, c.GotRate, 0.10, "%s→%s rate on the wire", c.From, c.To)
		}
	}
	sum := rec.Summary()
	require.NotNil(t, sum.Network, "summary.json has the network section")
	assert.Equal(t, mesh.Shaping.Mechanism, sum.Network.Mechanism)
	assert.True(t, sum.Network.Passed)
	if d := sum.Network.DelayLine; d != nil {
		t.Logf("delay line: %d packets in the window, %.1f ms CPU per 1000, late by %.3f ms on average (max %.1f ms)",
			d.Packets, d.CPUMsPer1000Packets, d.MeanLateMs, d.MaxLateMs)
	}
	// The star held over lossy links: Record fails the test on drift.
	assert.Equal(t, float64(cfg.Peers), rec.Role("bootstrap").Min(meshtest.FigConns))

	// Mid-run, other conditions: 20 ms on every link, so 40 ms round trips,
	// calibrated again; then none.
	mesh.SetConditions(t, conditions.Conditions{Link: shape.Link{Latency: 20 * time.Millisecond}})
	for _, c := range mesh.Shaping.Calibration {
		assert.InDelta(t, float64(40*time.Millisecond), float64(c.GotRTT), float64(2*time.Millisecond), "%s→%s after the change", c.From, c.To)
		assert.Zero(t, c.WantLoss, "the change replaced the loss too")
	}
	mesh.SetConditions(t, conditions.Conditions{})
	evs := mesh.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, meshtest.EventConditions, evs[1].Kind)
}

// TestPartition cuts a ring in two halves, keeps it cut, heals it, and
// times both: how long until the two cut edges vanish from both their ends
// (a silent drop, noticed by the nodes' keepalive) and how long until the
// ring is proven again (the nodes redial). Only the two cut edges may
// vanish: Record judges every sample against the topology the partition
// leaves. A 20-node ring unless -peers says otherwise.
func TestPartition(t *testing.T) {
	cfg, err := flags.Config("partition")
	require.NoError(t, err, "flags")
	if !flagSet("peers") {
		cfg.Peers = 19
	}
	require.GreaterOrEqual(t, cfg.Peers, 3, "-peers: a ring cut in two needs four nodes")
	g, err := topology.Parse("ring", cfg.Peers+1, flags.Seed)
	require.NoError(t, err)
	cfg.Name = "partition-ring"
	// Redial: a node heals what it dialed. Keepalive 1 s: a silently cut
	// connection closes within 1 s + yamux's 10 s write timeout.
	cfg.Env = map[string]string{"MESHNODE_REDIAL": "true", "MESHNODE_KEEPALIVE": "1s"}
	meshtest.RequireDocker(t)

	mesh := meshtest.NewGraph(t, cfg, g)
	var left []string
	side := map[int]bool{}
	for i := range g.N / 2 {
		left = append(left, mesh.Nodes[i].Name)
		side[i] = true
	}
	var cut []topology.Edge
	for _, e := range g.Edges {
		if side[e.From] != side[e.To] {
			cut = append(cut, e)
		}
	}
	require.Len(t, cut, 2, "a ring cut in two halves loses exactly two edges")

	window := max(flags.Duration, 45*time.Second)
	rec := mesh.RecordSchedule(t, window,
		meshtest.Step{At: 3 * time.Second, Fault: meshtest.Partition(left...)},
		meshtest.Step{At: 25 * time.Second, Fault: meshtest.Heal()},
	)
	rec.WriteArtifacts(t)

	evs := rec.Events
	require.Len(t, evs, 2)
	part, heal := evs[0], evs[1]
	t.Logf("cut edges gone from both ends %.1f s after the partition; ring proven again %.1f s after healing", part.Effect.Seconds(), heal.Recovered.Seconds())
	// Derived bounds: the cut is noticed within keepalive (1 s) + yamux's
	// write timeout (10 s) + a poll; a redial lands within the dial's own
	// 5 s timeout + 2 s of backoff + a poll.
	assert.Greater(t, part.Effect, time.Duration(0))
	assert.Less(t, part.Effect, 20*time.Second, "time for the cut edges to vanish")
	assert.Greater(t, heal.Recovered, time.Duration(0))
	assert.Less(t, heal.Recovered, 15*time.Second, "time to reconnect after healing")

	// While cut, the ends of the cut edges held one connection fewer, and
	// every other node its full degree (Record judged every sample; this
	// says it of the window between the cut taking effect and the heal).
	deg := g.Degrees()
	from, to := part.At.Add(part.Effect).Sub(rec.Started), heal.At.Sub(rec.Started)
	ends := map[string]int{}
	for _, e := range cut {
		ends[mesh.Nodes[e.From].Name]++
		ends[mesh.Nodes[e.To].Name]++
	}
	seen := 0
	for _, s := range rec.Samples {
		v, ok := s.Values[meshtest.FigConns]
		if s.IsEvent() || !ok || s.Elapsed < from || s.Elapsed >= to {
			continue
		}
		n := mesh.Nodes[nodeIndex(t, mesh, s.Node)]
		assert.Equal(t, float64(deg[n.Index]-ends[n.Name]), v, "%s at %v, during the partition", n.Name, s.Elapsed)
		seen++
	}
	assert.Greater(t, seen, 0, "samples during the partition")
}

func nodeIndex(t *testing.T, mesh *meshtest.Mesh, name string) int {
	for i, n := range mesh.Nodes {
		if n.Name == name {
			return i
		}
	}
	t.Fatalf("no node %s", name)
	return -1
}

// TestChurn churns every peer of a star once, one every two seconds, while
// the bootstrap is sampled: half are killed and started again a second
// later (the same identity coming back), half are replaced by a newcomer
// with a new identity (one peer leaving, another joining). The bootstrap
// must give back what each churned peer cost it: its goroutines and heap
// after churn are compared with a window before it.
func TestChurn(t *testing.T) {
	cfg, err := flags.Config("churn")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)

	mesh := meshtest.New(t, cfg)
	before := mesh.Record(t, 10*time.Second)

	var steps []meshtest.Step
	at := time.Second
	for i, n := range mesh.Nodes[1:] {
		if i%2 == 0 {
			steps = append(steps,
				meshtest.Step{At: at, Fault: meshtest.Kill(n.Name)},
				meshtest.Step{At: at + time.Second, Fault: meshtest.Start(n.Name)})
		} else {
			steps = append(steps, meshtest.Step{At: at, Fault: meshtest.Replace(n.Name)})
		}
		at += 2 * time.Second
	}
	churn := mesh.RecordSchedule(t, at+5*time.Second, steps...)
	churn.WriteArtifacts(t)
	after := mesh.Record(t, 10*time.Second)

	churned := float64(cfg.Peers)
	var worst time.Duration
	for _, ev := range churn.Events {
		if ev.Kind == meshtest.FaultStart || ev.Kind == meshtest.FaultReplace {
			worst = max(worst, ev.Recovered)
		}
	}
	t.Logf("%v peers churned; slowest back with its connection after %.2f s", churned, worst.Seconds())

	b0, b1 := before.Role("bootstrap"), after.Role("bootstrap")
	dg := b1.Mean(meshtest.FigGoroutines) - b0.Mean(meshtest.FigGoroutines)
	dm := b1.Mean(meshtest.FigHeapInuse) - b0.Mean(meshtest.FigHeapInuse)
	t.Logf("bootstrap after churn: %+.1f goroutines (%+.2f per churned peer), %+.0f KiB heap in use (%+.1f KiB per churned peer)",
		dg, dg/churned, dm/1024, dm/1024/churned)
	// A churned peer's connection costs the bootstrap ~4 goroutines and
	// 50-80 KB (TestStar); a leak of one connection's state per churned
	// peer would show as that much per peer. Bounds: under one goroutine
	// per churned peer, and under 16 KiB of heap per churned peer beyond
	// the window-to-window noise of an idle bootstrap (its heap's own
	// range in the window before).
	noise := b0.Max(meshtest.FigHeapInuse) - b0.Min(meshtest.FigHeapInuse)
	assert.Less(t, dg, churned, "bootstrap goroutines after %v churned peers", churned)
	assert.Less(t, dm, churned*16*1024+noise, "bootstrap heap after %v churned peers (noise %.0f KiB)", churned, noise/1024)
	assert.Equal(t, churned, b1.Min(meshtest.FigConns), "every churned peer is back")
}
