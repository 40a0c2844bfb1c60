package experiments_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
)

// checkMonitor asserts what a monitored mesh must show in its Prometheus:
// every node's target up, and Prometheus agreeing with the harness's own
// sampler on the bootstrap's goroutines and memory. Called by experiments
// run with -monitor, while the mesh is still up.
func checkMonitor(t *testing.T, mesh *meshtest.Mesh, rec *meshtest.Recording) {
	t.Helper()
	up, err := mesh.Query(t.Context(), `up{job=~"nodes-.*"} == 1`)
	require.NoError(t, err)
	assert.Len(t, up, len(mesh.Nodes), "node targets up in Prometheus")

	// Prometheus scraped the same endpoints on its own schedule; over the
	// window both means must agree within the sampling noise: three standard
	// errors of the harness's samples, and never closer than 2 %.
	window := fmt.Sprintf("%ds", int(rec.Duration.Seconds()))
	for _, c := range []struct{ figure, family string }{
		{meshtest.FigGoroutines, "go_goroutines"},
		{meshtest.FigRSS, "process_resident_memory_bytes"},
	} {
		got, err := mesh.Query(t.Context(), fmt.Sprintf(`avg_over_time(%s{node="bootstrap"}[%s])`, c.family, window))
		require.NoError(t, err)
		prom, ok := got["bootstrap"]
		require.True(t, ok, "Prometheus has %s of the bootstrap", c.family)
		sum := rec.Role("bootstrap").Stats(c.figure)
		tol := math.Max(3*sum.Stddev/math.Sqrt(float64(sum.N)), 0.02*sum.Mean)
		assert.InDelta(t, sum.Mean, prom, tol, "bootstrap %s: harness %.0f, Prometheus %.0f", c.figure, sum.Mean, prom)
	}
}

// TestDashboard runs a small monitored star and every query of the shipped
// Grafana dashboard against its live Prometheus: each must return data.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "dashboards", "meshtest.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(data, &dash))
	require.NotEmpty(t, dash.Panels)
	cfg, err := config("dashboard")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)

	cfg.Peers, cfg.Monitor = 4, true
	mesh := meshtest.New(t, cfg)
	rec := mesh.Record(t, max(*duration, 20e9))
	rec.WriteArtifacts(t)
	checkMonitor(t, mesh, rec)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, q := range p.Targets {
			res, err := mesh.Query(t.Context(), q.Expr)
			if assert.NoError(t, err, "panel %q", p.Title) {
				assert.NotEmpty(t, res, "panel %q: %s returned no data", p.Title, q.Expr)
			}
		}
	}
	_, err = os.Stat(filepath.Join(t.ArtifactDir(), "prometheus-snapshot"))
	assert.NoError(t, err, "the TSDB snapshot is in the artifacts")
}
