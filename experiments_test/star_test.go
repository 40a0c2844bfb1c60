package experiments_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
)

// TestStar is the seed's experiment: one bootstrap node and n peers that each
// dial only the bootstrap. The bootstrap carries every connection, so its cost
// grows with n while a peer's stays flat.
//
// The bounds come from runs of the bundled node on a 2-core machine at
// n = 20 and 100 (and 10 and 50, see the per-assertion notes): per connection
// the bootstrap held ~4 goroutines (3.8 at n=20, 4.0 at n=100) and 50-80 KB of
// container memory beyond an average peer's; peers differed from each other by
// less than 2 % in memory (p95/p50) and not at all in goroutines.
func TestStar(t *testing.T) {
	cfg, err := flags.Config("star")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)

	mesh := meshtest.New(t, cfg)
	rec := mesh.Record(t, flags.Duration)
	rec.WriteArtifacts(t)
	if cfg.Monitor {
		checkMonitor(t, mesh, rec)
		checkSnapshot(t, mesh, rec)
	}

	n := float64(cfg.Peers)
	boot, peer := rec.Role("bootstrap"), rec.Role("peer")
	if cfg.Swarm != "" {
		// The swarm spreads the nodes over its engines; a mesh on one of
		// them would prove nothing across engines.
		engines := map[string]int{}
		for _, node := range mesh.Nodes {
			engines[node.Engine]++
		}
		t.Logf("nodes per engine: %v", engines)
		assert.NotContains(t, engines, "", "every node's engine is known")
		assert.GreaterOrEqual(t, len(engines), 2, "the nodes run on more than one engine")
	}

	// The star held throughout. Record already fails the test on any drift
	// from the topology; say it again in this experiment's own terms.
	assert.Equal(t, n, boot.Min(meshtest.FigConns), "bootstrap connections, lowest sample")
	assert.Equal(t, n, boot.Max(meshtest.FigConns), "bootstrap connections, highest sample")
	assert.Equal(t, 1.0, peer.Min(meshtest.FigConns), "a peer holds its bootstrap connection")
	assert.Equal(t, 1.0, peer.Max(meshtest.FigConns), "a peer holds nothing else")

	// Peers stay alike: same code, same single connection. The spread is over
	// each peer's mean across the window; measured p95/p50 1.01 for memory.
	mem, gor := peer.Spread(meshtest.FigMemBytes), peer.Spread(meshtest.FigGoroutines)
	assert.LessOrEqual(t, mem.P95/mem.P50, 1.25, "peer memory p95/p50")
	assert.LessOrEqual(t, gor.P95/gor.P50, 1.10, "peer goroutines p95/p50")

	if cfg.Spec != nil || cfg.BootstrapSpec != nil {
		t.Log("another node than the bundled one: its cost bounds are not known, only the topology and the peers' likeness are asserted")
		return
	}
	// Goroutines: go-libp2p runs a few per connection (yamux, identify, the
	// swarm's reader), so the bootstrap's excess over a peer must grow with n.
	// Measured ~4 per connection; 2 leaves room for noise, and the upper bound
	// of 8 catches a leak per connection.
	extraG := boot.Mean(meshtest.FigGoroutines) - peer.Mean(meshtest.FigGoroutines)
	assert.GreaterOrEqual(t, extraG, 2*n, "bootstrap goroutines beyond a peer's, at %v connections", n)
	assert.LessOrEqual(t, extraG, 8*n, "bootstrap goroutines beyond a peer's, at %v connections", n)

	// Memory: connection state (buffers, yamux sessions, peerstore entries).
	// Measured 50-80 KB per connection beyond an average peer; 16 KiB per
	// connection is a floor the noise of a few hundred KB in GC timing cannot
	// cross at n >= 10.
	extraM := boot.Mean(meshtest.FigMemBytes) - peer.Mean(meshtest.FigMemBytes)
	assert.GreaterOrEqual(t, extraM, n*16*1024, "bootstrap memory beyond a peer's (bytes), at %v connections", n)
}
