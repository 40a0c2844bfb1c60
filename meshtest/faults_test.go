package meshtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestFaultInputErrors: a fault that names no node of the mesh, or the
// wrong number, or a node in the wrong state, is refused with what is wrong
// and nothing is done to the mesh.
func TestFaultInputErrors(t *testing.T) {
	m, f := fakeMesh(t, Config{}, topology.Star(3))
	m.faults.down = map[string]FaultKind{"peer-002": FaultKill, "peer-003": FaultPause}
	for _, c := range []struct {
		fault Fault
		want  string
	}{
		{Kill("peer-9"), `no node "peer-9"`},
		{Kill(), "kill takes at least one node"},
		{Kill("peer-001", "peer-001"), "named twice"},
		{Cut("peer-001", "peer-001"), "named twice"},
		{Fault{Kind: FaultCut, Nodes: []string{"peer-001"}}, "cut takes two nodes"},
		{Fault{Kind: FaultHeal, Nodes: []string{"peer-001"}}, "heal takes no nodes"},
		{Partition("bootstrap", "peer-001", "peer-002", "peer-003"), "not all 4"},
		{Kill("peer-002"), "peer-002 is already down (kill)"},
		{Start("peer-001"), "peer-001 was not killed or stopped"},
		{Start("peer-003"), "peer-003 was not killed or stopped"},
		{Unpause("peer-002"), "peer-002 is not paused"},
		{Connect("peer-001"), "peer-001 is not disconnected"},
		{Fault{Kind: "melt", Nodes: []string{"peer-001"}}, `unknown fault kind "melt"`},
		{Replace("peer-003"), "peer-003 is already down (pause)"},
		{Fault{Kind: EventConditions}, "takes the new conditions and no nodes"},
		{ChangeConditions(conditions.Conditions{Link: shape.Link{Latency: time.Millisecond, Jitter: time.Second}}), "conditions: link.jitter"},
	} {
		t.Run(c.fault.String(), func(t *testing.T) {
			before := len(f.log())
			_, err := m.inject(m.ctx, c.fault)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Len(t, f.log(), before, "nothing asked of the backend")
		})
	}
	_, err := m.inject(m.ctx, Replace("bootstrap"))
	assert.ErrorContains(t, err, "node bootstrap is dialed by peer-001 by its peer ID, so a newcomer in its place would never be found; restart it instead")
	assert.Empty(t, m.Events(), "a refused fault is no event")
}

// TestExpectedTopology: what drift is judged against as faults come and
// go. A kill takes the node's edges away once it has taken effect, and
// until then leaves them in doubt; a partition takes exactly the edges
// that cross it; a pause leaves its node's edges in doubt for good.
func TestExpectedTopology(t *testing.T) {
	ring, err := topology.Ring(6)
	require.NoError(t, err)
	m, _ := fakeMesh(t, Config{}, ring)
	rangeOf := func(i int) [2]float64 {
		m.faultMu.Lock()
		ex := m.faults.timeline[len(m.faults.timeline)-1]
		m.faultMu.Unlock()
		lo, hi := ex.degreeRange(i)
		return [2]float64{lo, hi}
	}
	target := func() int { g, _ := m.expectedNow(); return len(g.Edges) }
	// Ring 0-1-2-3-4-5-0: cut {0,1,2} from {3,4,5} loses 2-3 and 5-0.
	m.setCut(FaultPartition, []*Node{m.Nodes[0], m.Nodes[1], m.Nodes[2]}, true)
	assert.Equal(t, [2]float64{1, 2}, rangeOf(0), "in transition: the cut edge may linger")
	assert.Equal(t, 4, target(), "the effect is proven against the ring without the cut edges")
	assert.Equal(t, [2]float64{2, 2}, rangeOf(1), "a node away from the cut keeps its degree")
	m.settle()
	assert.Equal(t, [2]float64{1, 1}, rangeOf(0), "settled: the cut edge is gone")
	assert.Equal(t, [2]float64{1, 1}, rangeOf(3))
	assert.Equal(t, [2]float64{2, 2}, rangeOf(4))
	m.setCut(FaultHeal, nil, false)
	assert.Equal(t, [2]float64{1, 2}, rangeOf(5), "healing: the edge may come back")
	assert.Equal(t, 6, target(), "a recovery is proven against the whole ring, not the edges still certain")
	m.settle()
	assert.Equal(t, [2]float64{2, 2}, rangeOf(5))

	m.setDown([]*Node{m.Nodes[2]}, FaultKill)
	m.settle()
	assert.Equal(t, [2]float64{1, 1}, rangeOf(1), "a killed neighbour's edge is gone")
	// Started again, it dials its neighbours before it is proven up.
	m.setReturning([]*Node{m.Nodes[2]}, FaultStart)
	assert.Equal(t, [2]float64{1, 2}, rangeOf(1), "a returning neighbour's edge may be back before it is proven up")
	assert.True(t, m.isDown(m.Nodes[2]), "a returning node is not sampled until it is up")
	m.setUp([]*Node{m.Nodes[2]}, true)
	m.settle()
	assert.Equal(t, [2]float64{2, 2}, rangeOf(1), "back: the edge is certain")
	// A restart takes a node that is up: from the engine's action on, it
	// is down and its edges in doubt.
	m.setReturning([]*Node{m.Nodes[2]}, FaultRestart)
	assert.Equal(t, [2]float64{1, 2}, rangeOf(3), "a restarting neighbour's edge may drop")
	m.setUp([]*Node{m.Nodes[2]}, true)
	m.settle()
	m.setDown([]*Node{m.Nodes[2]}, FaultKill)
	m.settle()
	m.faultMu.Lock()
	delete(m.faults.down, "peer-002")
	m.faultMu.Unlock()
	m.setDown([]*Node{m.Nodes[4]}, FaultPause)
	m.settle()
	assert.Equal(t, [2]float64{1, 2}, rangeOf(3), "a paused neighbour's edge is in doubt for good")
}

// startMeshWith is startMesh with errorf standing for the test's Errorf,
// which the watcher of unplanned exits calls.
func startMeshWith(t *testing.T, cfg Config, g topology.Graph, errorf func(string, ...any)) (*Mesh, error) {
	t.Helper()
	cfg.Peers = g.N - 1
	m, err := prepare(t.Context(), t.Name(), cfg, g, t.Logf)
	if err != nil {
		return nil, err
	}
	m.errorf = errorf
	t.Cleanup(m.close)
	return m, m.start()
}

// faultConfig is the Docker backend, with a mesh whose peers redial the
// bootstrap and notice a silent loss within about 11 s.
func faultConfig(t *testing.T) Config {
	return Config{
		Backend: testBackend(t),
		Env:     map[string]string{"MESHNODE_REDIAL": "true", "MESHNODE_KEEPALIVE": "1s"},
	}
}

// TestUnplannedExitFailsAtOnce kills a peer behind the fixture's back: the
// test fails within seconds with the peer's last log lines, and whatever
// the test does with the mesh next returns that cause.
func TestUnplannedExitFailsAtOnce(t *testing.T) {
	failures := make(chan string, 4)
	m, err := startMeshWith(t, faultConfig(t), topology.Star(2), func(format string, args ...any) {
		failures <- fmt.Sprintf(format, args...)
	})
	require.NoError(t, err)

	killed := time.Now()
	require.NoError(t, m.run.Act(context.Background(), "peer-002", backend.Kill)) // no fault planned it
	select {
	case msg := <-failures:
		t.Logf("failed after %v: %.300s", time.Since(killed), msg)
		assert.Contains(t, msg, "node peer-002 died (exit code 137: SIGKILL, not from meshtest; the OOM killer's, unreported, or a kill from outside) and no fault planned it")
		assert.Contains(t, msg, `"event":"ready"`, "the node's last log lines")
	case <-time.After(10 * time.Second):
		t.Fatal("no failure within 10 s of an unplanned kill")
	}
	_, err = m.record(2*time.Second, t.Logf, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "peer-002 died")
	m.close()
	assert.Empty(t, leftovers(t, m))
}

// TestFaultsRecover takes a peer of a star through every fault and back,
// and proves after each return that the star holds again; then kills and
// starts a peer inside a recording, whose samples, events and drift must
// say what happened.
func TestFaultsRecover(t *testing.T) {
	cfg := faultConfig(t)
	m, err := startMeshWith(t, cfg, topology.Star(3), t.Errorf)
	require.NoError(t, err)
	for _, pair := range [][2]Fault{
		{Pause("peer-001"), Unpause("peer-001")},
		{Stop("peer-002"), Start("peer-002")},
		{Disconnect("peer-003"), Connect("peer-003")},
		{Kill("peer-001", "peer-002"), Start("peer-001", "peer-002")},
	} {
		down, err := m.inject(m.ctx, pair[0])
		require.NoError(t, err, "%s", pair[0])
		back, err := m.inject(m.ctx, pair[1])
		require.NoError(t, err, "%s", pair[1])
		t.Logf("%s: effect %v; %s: recovered in %v", pair[0], down.Effect, pair[1], back.Recovered)
		assert.Greater(t, back.Recovered, time.Duration(0), "%s", pair[1])
	}
	ev, err := m.inject(m.ctx, Restart("peer-003"))
	require.NoError(t, err)
	assert.Greater(t, ev.Recovered, time.Duration(0))

	before := m.Nodes[1].PeerID
	ev, err = m.inject(m.ctx, Replace("peer-001"))
	require.NoError(t, err)
	assert.NotEqual(t, before, m.Nodes[1].PeerID, "a newcomer has a new identity")
	assert.Contains(t, ev.Detail, "new identities: peer-001")
	peers, err := fetchPeers(m.ctx, m.httpClient(), m.Nodes[0].MetricsURL+"/peers")
	require.NoError(t, err)
	assert.Contains(t, peers.Peers, m.Nodes[1].PeerID, "the bootstrap holds the newcomer")
	assert.NotContains(t, peers.Peers, before, "and not the peer it replaced")

	rec, err := m.record(8*time.Second, t.Logf, []Step{
		{At: 2 * time.Second, Fault: Kill("peer-002")},
		{At: 4 * time.Second, Fault: Start("peer-002")},
	})
	require.NoError(t, err)
	assert.Empty(t, rec.Drift, "drift is judged against what the faults left")
	assert.Empty(t, rec.Unresponsive, "a killed node's silence is expected")
	var evRows []string
	var downAt, upAt time.Duration
	for _, s := range rec.Samples {
		if s.IsEvent() {
			evRows = append(evRows, s.Event)
		}
	}
	assert.Equal(t, []string{"kill peer-002", "start peer-002"}, evRows, "events in the samples")
	evs := rec.Events[len(rec.Events)-2:]
	downAt, upAt = evs[0].At.Sub(rec.Started), evs[1].At.Sub(rec.Started)
	for _, s := range rec.Samples {
		if !s.IsEvent() && s.Node == "peer-002" {
			assert.False(t, s.Elapsed > downAt+time.Second && s.Elapsed < upAt, "peer-002 sampled at %v while down (%v..%v)", s.Elapsed, downAt, upAt)
		}
	}
	boot := rec.Role("bootstrap")
	assert.Equal(t, 2.0, boot.Min(FigConns), "the bootstrap lost exactly the killed peer")
	assert.Equal(t, 3.0, boot.Max(FigConns))
	sum := rec.Summary()
	require.Len(t, sum.Events, len(rec.Events))
	assert.Contains(t, strings.Join(rec.Figures(), ","), FigConns)
	m.close()
	assert.Empty(t, leftovers(t, m))
}
