package meshtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestServicesKeepTheirOwnSettings: Config.Image and Config.Env are the
// nodes'; a service (Prometheus, say) runs its own spec's image and
// environment. Before, both were applied to services too, and Prometheus
// ran the node image when both were set.
func TestServicesKeepTheirOwnSettings(t *testing.T) {
	m, _ := fakeMesh(t, Config{Image: "node:other", Env: map[string]string{"MESHNODE_CONN_HIGH": "50"}}, topology.Star(1))
	node, err := m.nodeUnit(1)
	require.NoError(t, err)
	assert.Equal(t, "node:other", node.Image)
	assert.Equal(t, "50", node.Env["MESHNODE_CONN_HIGH"])

	svc, err := m.serviceUnit(m.ctx, serviceSpec(PrometheusSpec("global: {}\n")))
	require.NoError(t, err)
	assert.Equal(t, "image-of-prometheus", svc.Image, "a service keeps its own image")
	assert.NotContains(t, svc.Env, "MESHNODE_CONN_HIGH", "a service keeps its own environment")
	assert.Equal(t, "service", svc.Role)
}

// TestCloseSavesLogsBeforeRemoving: a failed test's node logs are read
// before the mesh is removed, also when the test removes the mesh itself
// (as BenchmarkStar does between sizes), which left a failed benchmark
// without logs.
func TestCloseSavesLogsBeforeRemoving(t *testing.T) {
	m, f := fakeMesh(t, Config{}, topology.Star(2))
	for i := range m.Nodes {
		require.NoError(t, m.startNode(m.ctx, i))
	}
	m.failed = func() bool { return true }
	m.logDirs = []string{t.TempDir()}
	m.Close()
	calls := f.log()
	removed := slices.Index(calls, "remove-run "+m.Run)
	require.GreaterOrEqual(t, removed, 0, "the run is removed: %v", calls)
	for _, n := range m.Nodes {
		i := slices.Index(calls, "logs "+n.Name)
		assert.True(t, i >= 0 && i < removed, "logs of %s read before removal: %v", n.Name, calls)
	}
	assert.FileExists(t, m.logDirs[0]+"/logs/bootstrap.log")
}

// TestAbortStopsBringUp: a signal or the deadline during bring-up cancels
// it, waits for it to return, and only then removes the run, so no node is
// started after the removal listed the run. Before, teardown ran beside a
// bring-up that went on creating containers.
func TestAbortStopsBringUp(t *testing.T) {
	m, f := fakeMesh(t, Config{MeasureFloor: false}, topology.Star(5))
	f.block = true
	done := make(chan error, 1)
	go func() {
		m.busy.Lock()
		defer m.busy.Unlock()
		done <- m.startNodes(m.ctx)
	}()
	for !slices.ContainsFunc(f.log(), func(c string) bool { return strings.HasPrefix(c, "start ") }) {
		time.Sleep(time.Millisecond)
	}
	m.abort(fmt.Errorf("interrupted by test"))
	err := <-done
	require.Error(t, err)
	assert.ErrorContains(t, m.why(err), "interrupted by test", "the error says why bring-up stopped")
	calls := f.log()
	removed := slices.Index(calls, "remove-run "+m.Run)
	require.GreaterOrEqual(t, removed, 0, "the run is removed: %v", calls)
	for _, c := range calls[removed:] {
		assert.False(t, strings.HasPrefix(c, "start "), "%q after the removal: %v", c, calls)
	}
	assert.Contains(t, calls, "remove-run "+m.floorRun(), "the floor run is removed too")
	assert.ErrorContains(t, m.grow(topology.Star(6)), "interrupted by test", "a removed mesh refuses work")
}

// TestStuckNetworkIsNotRetried: a network the engine will not remove ends
// the teardown at once; any other leftover is tried again.
func TestStuckNetworkIsNotRetried(t *testing.T) {
	m, f := fakeMesh(t, Config{}, topology.Star(1))
	stuck := fmt.Errorf("remove network x: %w", backend.ErrStuckNetwork)
	f.removeFn = func(id string) error {
		if id == m.Run {
			return stuck
		}
		return nil
	}
	f.left[m.Run] = []string{"network meshtest-" + m.Run}
	f.left[m.floorRun()] = []string{"container meshtest-" + m.floorRun() + "-001"}
	m.Close()
	calls := f.log()
	count := func(c string) int {
		n := 0
		for _, x := range calls {
			if x == c {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 1, count("remove-run "+m.Run), "a stuck network is tried once: %v", calls)
	assert.Equal(t, 4, count("remove-run "+m.floorRun()), "a leftover container is tried again, four passes in all: %v", calls)
	assert.True(t, errors.Is(stuck, backend.ErrStuckNetwork))
}

// TestCloseFromManyGoroutines: the test's cleanup, a signal and the
// deadline may close a mesh at once; it is removed once, and hooks
// registered meanwhile run. Run with -race.
func TestCloseFromManyGoroutines(t *testing.T) {
	m, f := fakeMesh(t, Config{}, topology.Star(1))
	var ran sync.WaitGroup
	ran.Add(8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			m.onTeardown(ran.Done)
			m.abort(errors.New("stop"))
			_ = m.Teardown()
		})
	}
	wg.Wait()
	ran.Wait()
	n := 0
	for _, c := range f.log() {
		if c == "remove-run "+m.Run {
			n++
		}
	}
	// One removal: the first pass, and the second look an aborted mesh
	// gets for a create that lands late (TestAbortLooksAgain).
	assert.Equal(t, 2, n)
}

// TestAbortLooksAgain: a create the engine was still carrying out when an
// aborted bring-up was cancelled can land after the first removal pass
// found nothing; an aborted mesh looks again and removes it.
func TestAbortLooksAgain(t *testing.T) {
	m, f := fakeMesh(t, Config{}, topology.Star(1))
	passes := 0
	landed := make(chan struct{})
	f.removeFn = func(id string) error {
		if id != m.Run {
			return nil
		}
		passes++
		if passes == 1 {
			// The first pass finds nothing; the late create lands after it.
			go func() {
				time.Sleep(500 * time.Millisecond)
				f.mu.Lock()
				f.left[id] = []string{"container meshtest-" + id + "-peer-001"}
				f.mu.Unlock()
				close(landed)
			}()
			return nil
		}
		<-landed
		f.mu.Lock()
		delete(f.left, id)
		f.mu.Unlock()
		return nil
	}
	m.abort(errors.New("interrupted"))
	assert.Equal(t, 2, passes, "the first pass, and the late look that removes what landed")
	left, err := f.Leftovers(t.Context(), m.Run)
	require.NoError(t, err)
	assert.Empty(t, left, "the late create is removed")
}

// TestUnitsRenderTheSpec: a node's unit is its spec rendered for it, with
// the dial addresses of the nodes it dials and its assigned key.
func TestUnitsRenderTheSpec(t *testing.T) {
	m, _ := fakeMesh(t, Config{}, topology.Star(2))
	u, err := m.nodeUnit(2)
	require.NoError(t, err)
	assert.Equal(t, "peer-002", u.Name)
	assert.Equal(t, spec.Bundled().MetricsPort, u.MetricsPort)
	assert.Equal(t, "/dns4/bootstrap/tcp/4001/p2p/"+m.Nodes[0].PeerID, u.Env["MESHNODE_DIAL"])
	assert.NotEmpty(t, u.Env["MESHNODE_KEY"])
}

// TestVerificationByRole: the bootstrap and the peers may run two specs of
// one name (Kubo's do) that check connections differently; each role says
// its own, and a role that cannot be checked is named, whatever its spec's
// name shares with another's.
func TestVerificationByRole(t *testing.T) {
	boot := spec.Bundled()
	boot.Name = "kubo"
	peer := spec.Bundled()
	peer.Name = "kubo"
	peer.PeersPath, peer.Connections = "", nil
	m, _ := fakeMesh(t, Config{BootstrapSpec: boot, Spec: peer}, topology.Star(2))
	assert.Equal(t, map[string]string{"bootstrap": summary.ByPeerIDs, "peer": summary.NotVerified}, m.Verification())
	assert.Equal(t, []string{"peer"}, m.Unverified())
	rec := m.newRecording()
	c := rec.convergence()
	assert.False(t, c.Proven, "the peers' connections were not proven")
	assert.Equal(t, []string{"peer"}, c.Unverified)
}

// TestTeardownAgainstTheFloor: the teardown is reported against the raw
// engine's removal of as many plain containers, in summary.json and in the
// report, which is written once the mesh is gone so that it has the time.
// Before, report.html was written before the mesh's own cleanup removed it
// and never showed a teardown.
func TestTeardownAgainstTheFloor(t *testing.T) {
	results := t.TempDir()
	var rec *Recording
	t.Run("mesh", func(t *testing.T) {
		m, f := fakeMesh(t, Config{ResultsDir: results}, topology.Star(2))
		f.removeFn = func(string) error { time.Sleep(20 * time.Millisecond); return nil }
		m.Floor, m.FloorRemove = time.Second, 10*time.Millisecond
		rec = m.newRecording()
		rec.WriteArtifacts(t)
	})
	s := rec.Summary()
	require.Positive(t, s.Timings.TeardownS, "the summary has the teardown once the mesh is gone")
	assert.InDelta(t, 0.01, s.Timings.FloorRemoveS, 1e-9)
	assert.InDelta(t, s.Timings.TeardownS/0.01, s.Timings.TeardownRatio, 1e-9)
	assert.Greater(t, s.Timings.TeardownRatio, 1.0, "two 20 ms removals against a 10 ms floor")
	html, err := os.ReadFile(filepath.Join(results, "TestTeardownAgainstTheFloor_mesh", "report.html"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(html), "the engine&#39;s forced removal of as many plain containers"), "report.html shows the teardown against the floor")
}
