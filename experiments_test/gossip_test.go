package experiments_test

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
	"github.com/meshtest/meshtest/meshtest/workload"
)

// gossipLatency is the one-way delay of every link in TestGossip's second
// phase: each hop a message takes adds it.
const gossipLatency = 100 * time.Millisecond

// TestGossip publishes -gossip-rate messages a second of -gossip-size bytes
// (default 1/s of 1 KiB) for -duration (default 30 s here) through a
// GossipSub mesh of 30 nodes (-peers=29) on a random-regular topology of
// degree 8 (-topology): GossipSub's D = 6 mesh peers and two more that
// only gossip (IHAVE/IWANT), which is how it recovers what loss drops. One
// mesh runs three phases, each its own window and artifacts: a clean
// bridge, 100 ms on every link, and 5 % loss on every link. Under
// -latency, -loss, -rate or -conditions it runs one phase, with those.
func TestGossip(t *testing.T) {
	cfg, err := flags.Config("gossip")
	require.NoError(t, err, "flags")
	nodes := 30
	if flagSet("peers") {
		nodes = cfg.Peers + 1
	}
	g, err := flags.GraphOf("random-regular:d=8", nodes)
	require.NoError(t, err)
	cfg.Workloads.Topic = "meshtest"
	load := meshtest.GossipLoad{Rate: flags.GossipRate, Size: flags.GossipSize, Duration: 30 * time.Second}
	if flagSet("duration") {
		load.Duration = flags.Duration
	}
	phases := []struct {
		name string
		c    conditions.Conditions
	}{
		{"clean", conditions.Conditions{}},
		{"latency=100ms", conditions.Conditions{Link: shape.Link{Latency: gossipLatency}}},
		{"loss=5%", conditions.Conditions{Link: shape.Link{Loss: 0.05}}},
	}
	if !cfg.Conditions.IsZero() {
		phases = phases[:1]
		phases[0].name, phases[0].c = "conditions", cfg.Conditions
	}
	meshtest.RequireDocker(t)
	cfg.Conditions = conditions.Conditions{}
	mesh := meshtest.NewGraph(t, cfg, g)
	hops := medianHops(g)
	t.Logf("topology %s: diameter %d; half the nodes lie within %g hops of a node (median over nodes)", g.Name, g.Diameter(), hops)

	var cleanP50 float64
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			if !ph.c.IsZero() {
				mesh.SetConditions(t, ph.c)
			}
			rec := mesh.RecordGossip(t, load)
			rec.WriteArtifacts(t)
			r := rec.Gossip.Result
			reach50, _ := r.ReachAt(0.5)
			all, _ := r.ReachAt(1)
			t.Logf("%s: %d/%d delivered (%.2f %%); time to reach 50 %%: p50 %.1f ms; to reach all: p50 %.1f ms, max %.1f ms (%d of %d messages reached all)",
				ph.name, r.Delivered, r.Expected, 100*r.DeliveryRatio, 1e3*reach50.P50, 1e3*all.P50, 1e3*all.Max, all.Reached, r.Messages)
			t.Logf("%s: %.2f duplicates per delivered message (p95 %.0f; floor (D-2)/2 = %.2f)", ph.name, r.Duplicates.Mean, r.Duplicates.P95, r.DuplicatesFloor)
			for role, c := range rec.Summary().Gossip.Cost {
				t.Logf("%s: %s: %.0f µs CPU per delivered message (%.0f µs above idle), memory %+.0f B per message",
					ph.name, role, 1e6*c.CPUSecondsPerMessage.Mean, 1e6*c.CPUSecondsPerMessageAboveIdle.Mean, c.MemBytesPerMessage.Mean)
			}
			require.Equal(t, load.Size, rec.Gossip.Load.Size)
			require.Positive(t, r.Messages)
			switch ph.name {
			case "clean":
				// A bridge loses nothing, so every message reaches every node.
				assert.Equal(t, 1.0, r.DeliveryRatio, "clean network: every message at every node")
				assert.Equal(t, r.Messages, all.Reached)
				// Each node sees at least about (D-2)/2 copies beyond the first.
				assert.GreaterOrEqual(t, r.Duplicates.Mean, 0.5*r.DuplicatesFloor, "duplicates against the floor")
				cleanP50 = reach50.P50
			case "latency=100ms":
				assert.Equal(t, 1.0, r.DeliveryRatio, "latency delays messages, it loses none")
				// Half the receivers are reached after about the hops that
				// cover half the nodes, each 100 ms: a message's first copy
				// travels a shortest path of the gossip mesh, which is a
				// subgraph of the topology, so no fewer hops, and rarely
				// more than one more.
				rise := reach50.P50 - cleanP50
				t.Logf("latency=100ms: reaching half the nodes took %.0f ms longer than on the bridge, %.2f hops of 100 ms (median distance %g hops)", 1e3*rise, rise/gossipLatency.Seconds(), hops)
				assert.GreaterOrEqual(t, rise, 0.9*hops*gossipLatency.Seconds(), "no message outruns the hops")
				assert.LessOrEqual(t, rise, (hops+1.5)*gossipLatency.Seconds(), "about one hop of 100 ms per hop of distance")
			case "loss=5%":
				// Loss on TCP costs retransmissions, not messages: the
				// delivery ratio is reported; the tail grows.
				assert.Greater(t, r.DeliveryRatio, 0.0)
			}
		})
	}
}

// medianHops is, over nodes, the distance within which half of the other
// nodes lie: how many hops it takes a message to reach half the mesh.
func medianHops(g topology.Graph) float64 {
	var per []float64
	for i := range g.N {
		hops := slices.DeleteFunc(g.Hops(i), func(h int) bool { return h <= 0 })
		slices.Sort(hops)
		if len(hops) > 0 {
			per = append(per, float64(hops[int(math.Ceil(0.5*float64(len(hops))))-1]))
		}
	}
	slices.Sort(per)
	return per[len(per)/2]
}

// TestKuboGossip is the workload contract's worked example on software no
// one here wrote: Kubo's pubsub (go-libp2p-pubsub's GossipSub inside the
// IPFS daemon), run from testdata/specs/kubo-peer.json, whose "workloads"
// entry says how: publish by POST /api/v0/pubsub/pub with the payload as a
// multipart file, deliveries from the stream of POST /api/v0/pubsub/sub
// that the harness holds open and timestamps as lines arrive (Kubo keeps no
// records and counts no duplicates, so those are reported as unknown).
// The config file turns Pubsub on only when the mesh runs a topic. 8 nodes,
// random-regular of degree 3; 2 messages a second for 10 s.
func TestKuboGossip(t *testing.T) {
	cfg, err := flags.Config("kubo-gossip")
	require.NoError(t, err, "flags")
	path, err := meshtest.FindFile("testdata/specs/kubo-peer.json")
	require.NoError(t, err)
	cfg.Spec, err = spec.Load(path)
	require.NoError(t, err)
	cfg.BootstrapSpec, cfg.Groups = nil, nil
	cfg.Workloads.Topic = "meshtest"
	g, err := topology.RandomRegular(8, 3, flags.Seed)
	require.NoError(t, err)
	meshtest.RequireDocker(t)
	mesh := meshtest.NewGraph(t, cfg, g)
	// Kubo drops a message that arrives behind a newer one from the same
	// sender (its own seqno check), so no node publishes twice within a
	// few milliseconds: here each publishes every 4 s.
	rec := mesh.RecordGossip(t, meshtest.GossipLoad{Rate: 2, Duration: 10 * time.Second, Drain: 3 * time.Second})
	rec.WriteArtifacts(t)
	r := rec.Gossip.Result
	t.Logf("kubo: %d/%d delivered; delay p50 %.1f ms, max %.1f ms (the harness's clock, when it read each line)", r.Delivered, r.Expected, 1e3*r.Delay.P50, 1e3*r.Delay.Max)
	assert.Equal(t, "subscribe", rec.Gossip.Source)
	assert.Equal(t, 20, r.Messages)
	assert.Equal(t, 1.0, r.DeliveryRatio, "every message at every Kubo node")
	assert.Zero(t, r.Duplicates.N, "Kubo reports no duplicates; none are made up")
	assert.Less(t, r.Delay.Max, 1.0, "a bridge spreads a message in well under a second")
}

var gossipSweep = flag.String("gossip-sweep", "10,30", "node counts BenchmarkGossip sweeps, comma-separated")

// BenchmarkGossip runs TestGossip's workload (random-regular of degree 8,
// -gossip-rate messages a second of -gossip-size bytes, for -duration,
// default 20 s here) on a fresh mesh at each size of -gossip-sweep, and
// reports what benchstat compares: first-delivery delay p50 and p99, time
// for a message to reach every node (median over messages), duplicates
// per delivered message, and the CPU a delivered message cost a node
// (mean over nodes, idle CPU taken out).
func BenchmarkGossip(b *testing.B) {
	sizes, err := parseSweep(*gossipSweep)
	if err != nil {
		b.Fatalf("-gossip-sweep: %v", err)
	}
	cfg, err := flags.Config("bench-gossip")
	if err != nil {
		b.Fatalf("flags: %v", err)
	}
	cfg.Workloads.Topic = "meshtest"
	load := meshtest.GossipLoad{Rate: flags.GossipRate, Size: flags.GossipSize, Duration: 20 * time.Second}
	if flagSet("duration") {
		load.Duration = flags.Duration
	}
	meshtest.RequireDocker(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("nodes=%d/size=%d", n, load.Size), func(b *testing.B) {
			g, err := flags.GraphOf(fmt.Sprintf("random-regular:d=%d", min(8, n-1)), n)
			if err != nil {
				b.Fatal(err)
			}
			mesh := meshtest.NewGraph(b, cfg, g)
			var rec *meshtest.Recording
			for b.Loop() {
				rec = mesh.RecordGossip(b, load)
			}
			rec.WriteArtifacts(b)
			r := rec.Gossip.Result
			delays := workload.DeliveryCDF(rec.Gossip.Input)
			all, _ := r.ReachAt(1)
			b.ReportMetric(1e3*series.Percentile(delays, 50), "p50-ms")
			b.ReportMetric(1e3*series.Percentile(delays, 99), "p99-ms")
			b.ReportMetric(1e3*all.P50, "reach-all-ms")
			b.ReportMetric(r.Duplicates.Mean, "dups/msg")
			b.ReportMetric(r.DeliveryRatio, "delivered")
			var cpu []float64
			for _, c := range rec.Summary().Gossip.Cost {
				if c.CPUSecondsPerMessageAboveIdle.N > 0 {
					cpu = append(cpu, c.CPUSecondsPerMessageAboveIdle.Mean)
				}
			}
			b.ReportMetric(1e6*series.Describe(cpu).Mean, "cpu-µs/msg")
		})
	}
}
