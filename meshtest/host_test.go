package meshtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/preflight"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestHostNeed: helpers share their node's namespace and take no bridge
// port or neighbour entry; services and Prometheus do.
func TestHostNeed(t *testing.T) {
	g := topology.Star(4)
	m := &Mesh{Graph: g, Config: Config{Monitor: true}}
	for i := range g.N {
		m.Nodes = append(m.Nodes, &Node{Index: i, spec: spec.Bundled()})
	}
	need := m.hostNeed()
	assert.Equal(t, 6, need.Containers, "5 nodes and Prometheus")
	assert.Equal(t, 2, need.Peers, "a star of 5 has 8 edge ends over 5 nodes: 2 rounded up")
	assert.Equal(t, uint64(bundledNodeHostBytes), need.MemoryPerContainerBytes)
	m.Config.Conditions.Link.Latency = 1
	assert.Equal(t, 6, m.hostNeed().Containers, "shapers add no namespace")

	// Past one bridge, peers fill the first network before the next: the
	// fullest holds 1022 of 1500 and the bootstrap, which the host's
	// broadcasts must all reach (preflight's backlog check).
	big := &Mesh{Graph: topology.Star(1500), Config: Config{Peers: 1500}}
	for i := range big.Graph.N {
		big.Nodes = append(big.Nodes, &Node{Index: i, spec: spec.Bundled()})
	}
	need = big.hostNeed()
	assert.Equal(t, 2, need.Bridges)
	assert.Equal(t, DefaultNetworkSize+1, need.LargestBridge)
	f := preflight.Check(preflight.Host{Sysctl: map[string]int64{"net.core.netdev_max_backlog": 1000}}, need)
	require.Len(t, f, 1)
	assert.Equal(t, preflight.SeverityError, f[0].Severity, "1023 on one bridge overflow a backlog of 1000: %s", f[0])
}

// TestPreflightRefusesWhatTheHostCannotHold: the largest mesh one bridge
// takes (1023 containers) is checked against this host before anything
// starts. Where the host's limits are short (the neighbour table's 1024
// entries by default), New fails with the setting and the command that
// raises it, and nothing of the run is on the engine; where they are not,
// the preflight passes.
func TestPreflightRefusesWhatTheHostCannotHold(t *testing.T) {
	g := topology.Star(MaxNodes - 1)
	m, err := prepare(t.Context(), t.Name(), Config{Name: "preflight", Peers: MaxNodes - 1, Backend: testBackend(t)}, g, t.Logf)
	require.NoError(t, err)
	t.Cleanup(m.close)
	require.NoError(t, m.assignSpecs(t.Context()))
	want := preflight.Error(preflight.Check(preflight.Read(), m.hostNeed()))
	if want == nil {
		// Never start 1023 containers to find out: check the preflight alone.
		t.Logf("this host holds %d containers: the preflight passes", m.hostNeed().Containers)
		require.NoError(t, m.preflight())
		return
	}
	err = m.start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot hold a mesh of 1023 containers")
	assert.Contains(t, err.Error(), "gc_thresh3")
	assert.True(t, strings.Contains(err.Error(), "fix: sudo sysctl -w ") && strings.Contains(err.Error(), " net.ipv4.neigh.default.gc_thresh3="), err.Error())
	assert.Empty(t, leftovers(t, m), "refused before anything started")
	assert.Nil(t, m.run, "no network was made")
}

// TestRaiseHostLimitsPutsThemBack: every setting raised for a run is
// written back at teardown.
func TestRaiseHostLimitsPutsThemBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gc_thresh3")
	require.NoError(t, os.WriteFile(path, []byte("1024\n"), 0o644))
	m, err := prepare(t.Context(), t.Name(), Config{Peers: 1, Backend: &fakeBackend{}}, topology.Star(1), t.Logf)
	require.NoError(t, err)
	require.NoError(t, m.raiseHostLimits(map[string]int64{path: 8192}))
	got, _ := os.ReadFile(path)
	assert.Equal(t, "8192", string(got), "raised for the run")
	m.close()
	got, _ = os.ReadFile(path)
	assert.Equal(t, "1024\n", string(got), "put back at teardown")
	assert.ErrorContains(t, m.raiseHostLimits(map[string]int64{filepath.Join(t.TempDir(), "missing"): 1}), "raise ", "a setting that cannot be read is an error, not a guess")
}
