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
	"github.com/meshtest/meshtest/meshtest/monitor/snapshot"
	"github.com/meshtest/meshtest/meshtest/series"
)

// checkMonitor asserts what a monitored mesh must show in its Prometheus:
// every node's target up; Prometheus agreeing with the harness's own
// sampler on the bootstrap's goroutines and memory (both scraped from the
// node) and on every node's container memory and CPU (which Prometheus got
// from the harness's exporter, and the harness from the cgroup: what
// Prometheus holds is what the harness measured); and, once the artifacts
// are written, the run's series inside the TSDB snapshot. Called by
// experiments run with -monitor, while the mesh is still up.
func checkMonitor(t *testing.T, mesh *meshtest.Mesh, rec *meshtest.Recording) {
	t.Helper()
	up, err := mesh.Query(t.Context(), `up{job=~"nodes-.*"} == 1`)
	require.NoError(t, err)
	assert.Len(t, up, len(mesh.Nodes), "node targets up in Prometheus")

	// Prometheus scraped on its own schedule; over the window both means
	// must agree within the sampling noise: three standard errors of the
	// harness's samples, and never closer than 2 %.
	// Both over the harness's window: `@` pins Prometheus's range to its
	// end, where a query evaluated now would take in the later samples of
	// a memory still rising after the warm-up (2.6 % apart, seen in CI).
	end := rec.Started.Add(rec.Duration)
	window := fmt.Sprintf("[%ds] @ %.3f", int(rec.Duration.Seconds()), float64(end.UnixMilli())/1e3)
	agree := func(what string, s series.Stats, prom float64) {
		t.Helper()
		tol := math.Max(3*s.Stddev/math.Sqrt(float64(s.N)), 0.02*math.Abs(s.Mean))
		assert.InDelta(t, s.Mean, prom, tol, "%s: harness %.4g, Prometheus %.4g", what, s.Mean, prom)
	}
	for _, c := range []struct{ figure, family string }{
		{meshtest.FigGoroutines, "go_goroutines"},
		{meshtest.FigRSS, "process_resident_memory_bytes"},
	} {
		got, err := mesh.Query(t.Context(), fmt.Sprintf(`avg_over_time(%s{node="bootstrap"}%s)`, c.family, window))
		require.NoError(t, err)
		prom, ok := got["bootstrap"]
		require.True(t, ok, "Prometheus has %s of the bootstrap", c.family)
		agree("bootstrap "+c.figure, rec.Role("bootstrap").Stats(c.figure), prom)
	}
	// The harness's container samples, as Prometheus scraped them from the
	// exporter: every node's memory over the window.
	mem, err := mesh.Query(t.Context(), fmt.Sprintf(`avg_over_time(meshtest_container_memory_bytes%s)`, window))
	require.NoError(t, err)
	require.Len(t, mem, len(mesh.Nodes), "container memory of every node in Prometheus")
	for _, n := range mesh.Nodes {
		var vs []float64
		for _, s := range rec.Samples {
			if v, ok := s.Values[meshtest.FigMemBytes]; ok && s.Node == n.Name {
				vs = append(vs, v)
			}
		}
		agree(n.Name+" container memory", series.Describe(vs), mem[n.Name])
	}
	// CPU: the exporter's counter is the cgroup's, so its increase over
	// the window is the harness's last sample minus its first.
	cpu, err := mesh.Query(t.Context(), `max_over_time(meshtest_container_cpu_seconds{node="bootstrap"}[1h])`)
	require.NoError(t, err)
	assert.InEpsilon(t, rec.Role("bootstrap").Last(meshtest.FigCPUSeconds), cpu["bootstrap"], 0.05, "bootstrap CPU seconds: harness against Prometheus")
}

// checkSnapshot opens the TSDB snapshot in the artifacts with Prometheus's
// own reader and finds the run's series in it: the bootstrap's goroutines
// and the harness's container memory of every node, each covering the
// sampling window.
func checkSnapshot(t *testing.T, mesh *meshtest.Mesh, rec *meshtest.Recording) {
	t.Helper()
	dir := filepath.Join(t.ArtifactDir(), "prometheus-snapshot")
	goroutines, err := snapshot.Read(dir, `go_goroutines{node="bootstrap"}`)
	require.NoError(t, err, "the snapshot opens in Prometheus's TSDB reader")
	require.Len(t, goroutines, 1, "the bootstrap's goroutines are in the snapshot")
	windowRounds := int(rec.Duration / rec.Interval)
	assert.GreaterOrEqual(t, goroutines[0].Samples, windowRounds/2, "samples of %s", goroutines[0])
	assert.False(t, goroutines[0].Last.Before(rec.Started), "%s reaches into the window", goroutines[0])
	mem, err := snapshot.Read(dir, `meshtest_container_memory_bytes`)
	require.NoError(t, err)
	assert.Len(t, mem, len(mesh.Nodes), "the harness's container memory of every node is in the snapshot")
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
	cfg, err := flags.Config("dashboard")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)

	cfg.Peers, cfg.Monitor = 4, true
	mesh := meshtest.New(t, cfg)
	rec := mesh.Record(t, max(flags.Duration, 20e9))
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
	checkSnapshot(t, mesh, rec)
}
