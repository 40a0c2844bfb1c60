package meshtest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestWorkloadsOnRealNodes drives every workload of the bundled node
// through the spec's contract on a small ring, and checks that what comes
// back adds up: every message counted at every other node, delays
// positive and short on a bridge, perf moving the bytes asked for with a
// handshake each run, ping on every edge, and all of it in the summary.
func TestWorkloadsOnRealNodes(t *testing.T) {
	g, err := topology.Ring(6)
	require.NoError(t, err)
	m, err := startMesh(t, Config{Name: "work", Backend: testBackend(t), Workloads: Workloads{Topic: "meshtest", Perf: true, Ping: true}}, g)
	require.NoError(t, err)

	msg := m.Publish(t, "peer-002", 100)
	assert.Len(t, msg.ID, 32)
	assert.WithinDuration(t, time.Now(), msg.At, 10*time.Second)

	rec, err := m.recordGossip(GossipLoad{Rate: 5, Size: 2048, Duration: 2 * time.Second, Warm: 2 * time.Second, Drain: 2 * time.Second}, t.Logf, nil)
	require.NoError(t, err)
	require.NotNil(t, rec.Gossip)
	r := rec.Gossip.Result
	assert.Equal(t, 10, r.Messages)
	assert.Equal(t, 6, r.Subscribers)
	assert.Equal(t, 50, r.Expected, "each message at the 5 nodes that did not publish it")
	assert.Equal(t, r.Expected, r.Delivered, "a clean bridge loses nothing")
	assert.Equal(t, 5, r.Unknown, "the message published before the window is not one of the load's")
	assert.Positive(t, r.Delay.Min)
	assert.Less(t, r.Delay.Max, 1.0, "a bridge spreads a message in well under a second")
	assert.Equal(t, 3, rec.Gossip.Diameter)
	assert.GreaterOrEqual(t, r.Duplicates.Min, 0.0, "the bundled node counts duplicates")
	assert.Equal(t, "records", rec.Gossip.Source)
	assert.Equal(t, "counted by the nodes", rec.Gossip.MeshDegreeSource)
	for node, d := range rec.Gossip.Input.MeshDegree {
		assert.Equal(t, 2, d, "%s meshes with both its ring neighbours (fewer than D)", node)
	}
	assert.Zero(t, r.DuplicatesFloor, "a mesh of degree 2 is a ring: the floor has no spare edges")
	require.Len(t, rec.Gossip.ControlBytes, 6)
	for node, b := range rec.Gossip.ControlBytes {
		assert.Positive(t, b, "%s sent GRAFTs and IHAVEs in the window", node)
	}
	// The mesh's first window warms up first: the load must fall after it,
	// in the window, with an idle stretch before the first publish.
	require.NotNil(t, rec.WarmUp, "the first window warmed up")
	assert.GreaterOrEqual(t, rec.Gossip.PublishStart, time.Second, "publishing starts after the window's idle start")
	for _, msg := range rec.Gossip.Input.Messages {
		assert.False(t, msg.At.Before(rec.Started), "message %s published before the window", msg.ID)
	}
	cost := rec.gossipCost()["peer"]
	assert.Equal(t, 5, cost.CPUSecondsPerMessage.N)
	assert.Positive(t, cost.CPUSecondsPerMessage.Mean)
	assert.Equal(t, 5, cost.CPUSecondsPerMessageAboveIdle.N, "the idle rate was measured before the load")

	res := m.Perf(t, "peer-001", "peer-003", PerfLoad{Upload: 1 << 20, Download: 2 << 20, Runs: 3, NewConnection: true})
	assert.Equal(t, 3, res.Runs)
	assert.Zero(t, res.Failed)
	assert.Equal(t, 3, res.ConnectionSeconds.N, "each run timed its own handshake")
	t.Logf("perf on the bridge: connection + 1 RTT min %.2f ms, median %.2f ms, max %.2f ms", 1e3*res.ConnectionSeconds.Min, 1e3*res.ConnectionSeconds.Median, 1e3*res.ConnectionSeconds.Max)
	assert.Positive(t, res.UploadBitsPerSecond.Min)
	assert.Positive(t, res.DownloadBitsPerSecond.Min)
	over := m.Perf(t, "peer-001", "peer-002", PerfLoad{Download: 1 << 20, Runs: 2})
	assert.Zero(t, over.ConnectionSeconds.N, "neighbours perf over the topology's connection")

	edges := m.Ping(t, 3)
	require.Len(t, edges, len(g.Edges))
	for _, e := range edges {
		assert.Len(t, e.RTTs, 3, "%s→%s", e.From, e.To)
		assert.Empty(t, e.Err)
	}
	// The perf runs closed what they opened: the ring holds.
	rec2, err := m.record(2*time.Second, t.Logf, nil)
	require.NoError(t, err)
	assert.Empty(t, rec2.Drift)

	data, err := rec.Summary().Marshal()
	require.NoError(t, err)
	var sum summary.File
	require.NoError(t, json.NewDecoder(bytes.NewReader(data)).Decode(&sum))
	require.NotNil(t, sum.Gossip)
	assert.Equal(t, 50, sum.Gossip.Delivered)
	assert.Equal(t, sameHostClock, sum.Gossip.Clock)
	require.Len(t, sum.Perf, 2)
	assert.True(t, sum.Perf[0].NewConnection)
	require.Len(t, sum.Ping, 1)
	assert.Equal(t, 18, sum.Ping[0].RTTS.N)
	files, err := rec.artifacts()
	require.NoError(t, err)
	assert.Equal(t, 5+50+1, bytes.Count(files["deliveries.csv"], []byte("\n")), "a row per delivery read, and the header")
	for _, f := range []string{"gossip-delay-cdf", "gossip-deliveries", "gossip-duplicates"} {
		assert.Contains(t, files, rec.filePrefix()+"-"+f+".svg")
	}
}

// TestWorkloadInputErrors: a workload the mesh was not made for, or bad
// parameters, fail with what to change and touch nothing.
func TestWorkloadInputErrors(t *testing.T) {
	m := &Mesh{Config: Config{}}
	_, err := m.recordGossip(GossipLoad{}, t.Logf, nil)
	assert.ErrorContains(t, err, "set Config.Workloads.Topic")
	_, err = m.perf("a", "b", PerfLoad{Download: 1})
	assert.ErrorContains(t, err, "set Config.Workloads.Perf")
	_, err = m.ping(1)
	assert.ErrorContains(t, err, "set Config.Workloads.Ping")

	m.Config.Workloads = Workloads{Topic: "t", Perf: true, Ping: true}
	m.Nodes = []*Node{{Name: "bootstrap"}, {Name: "peer-001", Index: 1}}
	_, err = m.recordGossip(GossipLoad{Rate: -1}, t.Logf, nil)
	assert.ErrorContains(t, err, "GossipLoad.Rate -1")
	_, err = m.recordGossip(GossipLoad{Publishers: []string{"peer-9"}}, t.Logf, nil)
	assert.ErrorContains(t, err, `no node "peer-9"`)
	_, err = m.perf("bootstrap", "peer-001", PerfLoad{})
	assert.ErrorContains(t, err, "PerfLoad moves nothing")
	_, err = m.perf("bootstrap", "nobody", PerfLoad{Download: 1})
	assert.ErrorContains(t, err, `no node "nobody"`)
	_, err = m.ping(101)
	assert.ErrorContains(t, err, "expected 1 to 100")
}

// TestPerfResponseTimesTheUpload checks how a node's perf answer becomes a
// run: with a download, the upload ends at the first byte back; without
// one, at the end of the exchange (test-plans' upload-only run), where the
// time to first byte is 0 and the run would otherwise drop out of the
// upload's quartiles.
func TestPerfResponseTimesTheUpload(t *testing.T) {
	both := perfResponse{UploadBytes: 1 << 20, DownloadBytes: 1 << 20, TimeToFirstByteNs: 3e8, DownloadNs: 2e8, TotalNs: 5e8}
	assert.Equal(t, 300*time.Millisecond, both.run().Upload)
	assert.Equal(t, 200*time.Millisecond, both.run().Download)

	uploadOnly := perfResponse{UploadBytes: 1 << 20, TotalNs: 4e8}
	assert.Equal(t, 400*time.Millisecond, uploadOnly.run().Upload)

	downloadOnly := perfResponse{UploadBytes: 0, DownloadBytes: 1 << 20, TimeToFirstByteNs: 1e8, DownloadNs: 2e8, TotalNs: 3e8}
	assert.Equal(t, 200*time.Millisecond, downloadOnly.run().Download)

	failed := perfResponse{Error: "boom"}
	assert.Equal(t, "boom", failed.run().Err)
}

// TestClockNoteOfEngines: on a backend of several engines the gossip
// summary states each engine's clock offset and what a delay across two
// engines can be off by; without measured clocks it says so.
func TestClockNoteOfEngines(t *testing.T) {
	m := &Mesh{}
	m.envOnce.Do(func() {}) // the environment is set here, not asked of a backend
	m.envFacts.engine = backend.Info{Backend: "swarm"}
	assert.Contains(t, m.clockNote(), "which was not measured")
	m.envFacts.engine.Clocks = []backend.EngineClock{{Engine: "e1", OffsetMs: -3, UncertaintyMs: 1}, {Engine: "e2", OffsetMs: -1, UncertaintyMs: 2}}
	note := m.clockNote()
	assert.Contains(t, note, "e1 -3.00 ms (±1.00), e2 -1.00 ms (±2.00)")
	assert.Contains(t, note, "at most 2.00 ms between these estimates and 5.00 ms with their uncertainty")
}
