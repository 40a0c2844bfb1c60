package meshtest

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/backend/docker"
	"github.com/meshtest/meshtest/meshtest/metrics"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// testBackend is the Docker backend, or a skip (a failure with
// MESHTEST_REQUIRE_DOCKER=1) where no engine answers.
func testBackend(t *testing.T) *docker.Backend {
	t.Helper()
	RequireDocker(t)
	b, err := docker.New(t.Context(), docker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// startMesh is New without the *testing.T side: the mesh and its error, so
// a test can look at a failure. The mesh is removed at the test's end.
func startMesh(t *testing.T, cfg Config, g topology.Graph) (*Mesh, error) {
	t.Helper()
	cfg.Peers = g.N - 1
	m, err := prepare(t.Context(), t.Name(), cfg, g, t.Logf)
	if err != nil {
		return nil, err
	}
	t.Cleanup(m.close)
	return m, m.start()
}

// leftovers lists what of a run is still on the engine.
func leftovers(t *testing.T, m *Mesh) []string {
	t.Helper()
	ctx := context.Background()
	var left []string
	runs := []string{m.Run, m.floorRun()}
	for _, id := range runs {
		l, err := m.backend.Leftovers(ctx, id)
		require.NoError(t, err)
		left = append(left, l...)
	}
	return withoutStuckNetworks(t, m.backend, runs, left)
}

// withoutStuckNetworks removes the runs when anything of theirs is left,
// and drops the networks from left when the engine refused them with no
// container attached (its bug, cleared only by a daemon restart:
// backend.ErrStuckNetwork): that is logged, not listed, for it is not a
// leak of ours, and the next run is not blocked by it.
func withoutStuckNetworks(t *testing.T, b backend.Backend, runs, left []string) []string {
	t.Helper()
	if len(left) == 0 {
		return left
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, run := range runs {
		errs = append(errs, b.RemoveRun(ctx, run, t.Logf))
	}
	if err := errors.Join(errs...); errors.Is(err, backend.ErrStuckNetwork) {
		t.Logf("the engine's bug, not a leak: %v", err)
		left = slices.DeleteFunc(left, func(l string) bool { return strings.HasPrefix(l, "network ") })
	}
	return left
}

// TestMeshLifecycle starts a small star, checks what New promises, and checks
// that close leaves nothing of the run behind.
func TestMeshLifecycle(t *testing.T) {
	b := testBackend(t)
	m, err := startMesh(t, Config{Name: "life", Backend: b}, topology.Star(3))
	require.NoError(t, err)

	require.Len(t, m.Nodes, 4)
	assert.Equal(t, "bootstrap", m.Nodes[0].Role)
	ids := map[string]bool{}
	for _, n := range m.Nodes {
		assert.NotEmpty(t, n.Instance.Handle, n.Name)
		assert.NotEmpty(t, n.IP, n.Name)
		ids[n.PeerID] = true
	}
	assert.Len(t, ids, 4, "every node has its own pre-assigned peer ID")
	assert.Greater(t, m.Converge, time.Duration(0))

	rec, err := m.record(3*time.Second, t.Logf, nil)
	require.NoError(t, err)
	assert.Empty(t, rec.Drift)
	assert.Empty(t, rec.Unresponsive)
	assert.Equal(t, "cgroupfs", rec.CostSource)
	assert.Equal(t, 3.0, rec.Role("bootstrap").Min(FigConns))
	assert.Positive(t, rec.Role("peer").Min(FigMemBytes), "cgroup memory is read")
	assert.Positive(t, rec.Role("peer").Min(FigGoroutines), "node metrics are read")

	m.close()
	assert.Empty(t, leftovers(t, m), "after close")
	assert.Positive(t, m.Teardown())
}

// noneOfTest asserts that nothing labelled with this test's name is on the
// engine: bad input must create nothing, not create and remove.
func noneOfTest(t *testing.T, b *docker.Backend) {
	t.Helper()
	got, err := b.ByTest(context.Background(), t.Name())
	require.NoError(t, err)
	assert.Empty(t, got, "resources of %s on the engine", t.Name())
}

// TestBadConfigTouchesNothing: invalid input is refused before anything is
// created, with an error that names the Config field, its value and the fix.
func TestBadConfigTouchesNothing(t *testing.T) {
	b := testBackend(t)
	for _, tc := range []struct {
		cfg  Config
		g    topology.Graph
		want string
	}{
		{Config{}, topology.Graph{N: 1}, "Config.Peers = 0: a mesh needs at least 1 peer"},
		{Config{NetworkSize: MaxNodes}, topology.Star(2), "Config.NetworkSize = 1023: one Docker bridge network holds at most 1023 containers"},
		{Config{Name: "has space"}, topology.Star(2), `Config.Name = "has space"`},
		{Config{Interval: time.Millisecond}, topology.Star(2), "Config.Interval = 1ms"},
	} {
		tc.cfg.Backend = b
		m, err := startMesh(t, tc.cfg, tc.g)
		assert.Nil(t, m, tc.want)
		assert.ErrorContains(t, err, tc.want)
	}
	noneOfTest(t, b)
}

// TestMissingImage: an image that is not on the engine is named in the
// error, with the fix, and nothing is created.
func TestMissingImage(t *testing.T) {
	b := testBackend(t)
	_, err := startMesh(t, Config{Backend: b, Image: "meshtest-no-such-image:v0"}, topology.Star(1))
	assert.ErrorContains(t, err, `image "meshtest-no-such-image:v0" (spec "meshnode") is not on the Docker engine`)
	assert.ErrorContains(t, err, "docker build -t meshtest-no-such-image:v0")
	noneOfTest(t, b)
}

// TestNodeExitFailsWithLogs: a node that exits makes New fail with the
// node's name and its last log lines, and the partial mesh is removed.
func TestNodeExitFailsWithLogs(t *testing.T) {
	b := testBackend(t)
	cfg := Config{Backend: b, Env: map[string]string{"MESHNODE_DIAL_TIMEOUT": "not-a-duration"}, ConvergeTimeout: 30 * time.Second}
	m, err := startMesh(t, cfg, topology.Star(2))
	require.Error(t, err)
	require.NotNil(t, m, "the partial mesh is returned so it can be removed")
	assert.Contains(t, err.Error(), "exited before the mesh converged")
	assert.Contains(t, err.Error(), "not-a-duration", "the node's own complaint is in the error")
	m.close()
	assert.Empty(t, leftovers(t, m))
}

// TestIdentityNeverFound: a spec whose identity pattern never matches fails
// with the node's name, what was looked for and its last log lines, and
// leaves nothing behind.
func TestIdentityNeverFound(t *testing.T) {
	b := testBackend(t)
	s := spec.Bundled()
	s.Name = "wrong-pattern"
	s.Identity = spec.Identity{From: "log", Pattern: `my id is (?P<id>\w+)`}
	s.Env = map[string]string{"MESHNODE_DIAL": "{{.DialAddrs}}"}
	m, err := startMesh(t, Config{Backend: b, Spec: s, ConvergeTimeout: 5 * time.Second}, topology.Star(1))
	require.Error(t, err)
	require.NotNil(t, m)
	assert.Contains(t, err.Error(), "node bootstrap (spec wrong-pattern) not ready")
	assert.Contains(t, err.Error(), "peer ID not found yet")
	assert.Contains(t, err.Error(), `"event":"ready"`, "the node's own log lines are in the error")
	m.close()
	assert.Empty(t, leftovers(t, m))
}

// TestGrow adds peers to a running star: the new ones start, the whole star
// is proven again, a topology that does not extend the mesh's is refused,
// and a recording made before the growth keeps the facts of its own size.
func TestGrow(t *testing.T) {
	b := testBackend(t)
	m, err := startMesh(t, Config{Name: "grow", Backend: b}, topology.Star(2))
	require.NoError(t, err)
	first := m.Nodes[1].Instance.Handle
	small, err := m.record(2*time.Second, t.Logf, nil)
	require.NoError(t, err)

	require.NoError(t, m.grow(topology.Star(4)))
	require.Len(t, m.Nodes, 5)
	assert.Equal(t, first, m.Nodes[1].Instance.Handle, "existing peers are kept")
	assert.Equal(t, 4, m.Config.Peers)
	rec, err := m.record(2*time.Second, t.Logf, nil)
	require.NoError(t, err)
	assert.Equal(t, 4.0, rec.Role("bootstrap").Min(FigConns))
	assert.Empty(t, rec.Drift)

	// The summary of the first size is the first size's, even rewritten
	// after the growth (as WriteArtifacts does at teardown).
	s := small.Summary()
	assert.Equal(t, 3, s.Topology.Nodes)
	assert.Contains(t, string(s.Config), `"peers":2`)
	assert.Equal(t, 5, rec.Summary().Topology.Nodes)

	ring, err := topology.Ring(6)
	require.NoError(t, err)
	assert.ErrorContains(t, m.grow(ring), "does not extend")

	m.close()
	assert.Empty(t, leftovers(t, m))
}

// TestServices: an image that is not a node runs in the mesh from a spec,
// with no identity and no part in convergence, belongs to the run and is
// removed with it.
func TestServices(t *testing.T) {
	b := testBackend(t)
	collector := spec.Bundled()
	collector.Name = "collector"
	collector.Env = map[string]string{"MESHNODE_LISTEN_PORT": "4001"} // dials no one, has no assigned key
	m, err := startMesh(t, Config{Name: "services", Backend: b, Services: []*spec.Spec{collector}}, topology.Star(1))
	require.NoError(t, err)
	require.Len(t, m.Services, 1)
	s := m.Services[0]
	assert.Len(t, m.Nodes, 2, "a service is not a node")
	code, _, err := metrics.Get(t.Context(), m.httpClient(), s.URL+"/healthz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "the service is reachable at its URL")
	left := leftovers(t, m)
	assert.Contains(t, left, "container meshtest-"+m.Run+"-collector", "the service belongs to the run")

	m.close()
	assert.Empty(t, leftovers(t, m))
}
