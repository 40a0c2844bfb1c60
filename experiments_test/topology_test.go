package experiments_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// TestTopology runs the bundled node in the topology -topology names
// (default barabasi-albert:m=2, whose degrees vary widely) and relates each
// node's cost to the number of connections it holds.
func TestTopology(t *testing.T) {
	cfg, err := flags.Config("")
	require.NoError(t, err, "flags")
	g, err := flags.Graph("barabasi-albert:m=2")
	require.NoError(t, err, "flags")
	cfg.Name = g.Slug()
	meshtest.RequireDocker(t)

	mesh := meshtest.NewGraph(t, cfg, g)
	rec := mesh.Record(t, flags.Duration)
	rec.WriteArtifacts(t)
	rec.WriteDegreeArtifacts(t)

	// Every node held exactly its degree in every sample (Record checks each
	// sample; this says it per node, in the topology's terms).
	deg := g.Degrees()
	for i, n := range mesh.Nodes {
		role := rec.Role(n.Role).NodeMeans(meshtest.FigConns)
		assert.Equal(t, float64(deg[i]), role[n.Name], "%s connections", n.Name)
	}

	stats := g.DegreeStats()
	t.Logf("degrees: min %d, mean %.1f, max %d", stats.Min, stats.Mean, stats.Max)
	if stats.Min == stats.Max {
		return // a regular graph: every node alike, nothing to fit
	}
	// Goroutines grow with connections by the same few per connection as in
	// the star (measured ~4); the fit over nodes must show it, and tightly:
	// nodes differ in nothing else.
	fit := rec.ByDegree(meshtest.FigGoroutines)
	require.NoError(t, fit.Err)
	t.Logf("goroutines = %s", fit.Line)
	assert.GreaterOrEqual(t, fit.Line.Slope, 2.0, "goroutines per connection")
	assert.LessOrEqual(t, fit.Line.Slope, 8.0, "goroutines per connection")
	assert.GreaterOrEqual(t, fit.Line.R2, 0.8, "goroutines against degree, R²")
}

// TestMixedGroups runs two versions of the same node side by side in one
// star: half the peers are the bundled node, half the same node holding an
// extra 2 MiB per connection. Groups are compared the way TestStar compares
// roles, and the costlier version must show.
func TestMixedGroups(t *testing.T) {
	cfg, err := flags.Config("mixed")
	require.NoError(t, err, "flags")
	require.GreaterOrEqual(t, cfg.Peers, 2, "-peers: two groups need at least 2 peers")
	meshtest.RequireDocker(t)

	heavy := spec.Bundled()
	heavy.Name = "meshnode-2mib"
	heavy.Env["MESHNODE_EXTRA_BYTES_PER_CONN"] = "2097152"
	cfg.Groups = []meshtest.Group{
		{Name: "plain", Spec: spec.Bundled(), Count: cfg.Peers / 2},
		{Name: "heavy", Spec: heavy, Count: cfg.Peers - cfg.Peers/2},
	}
	mesh := meshtest.New(t, cfg)
	rec := mesh.Record(t, flags.Duration)
	rec.WriteArtifacts(t)

	plain, heavier := rec.Role("plain"), rec.Role("heavy")
	require.Equal(t, []string{"bootstrap", "heavy", "plain"}, rec.Roles())
	// One connection each, so the heavy peers hold 2 MiB more; allow for
	// the noise of a few hundred KB between containers.
	extra := heavier.Mean(meshtest.FigMemBytes) - plain.Mean(meshtest.FigMemBytes)
	assert.GreaterOrEqual(t, extra, 1.5*(1<<20), "heavy peers' memory beyond plain peers' (bytes)")
	assert.LessOrEqual(t, extra, 3.0*(1<<20), "heavy peers' memory beyond plain peers' (bytes)")
	// The extra bytes are a buffer, not work: both groups run the same
	// goroutines per connection (measured: identical), so their means agree
	// within a goroutine.
	assert.InDelta(t, plain.Mean(meshtest.FigGoroutines), heavier.Mean(meshtest.FigGoroutines), 1.0, "goroutines of heavy peers against plain peers")
}
