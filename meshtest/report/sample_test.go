package report

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/regress"
)

// sample returns the report of a 100-peer star as an experiment would fill
// it: real charts from meshtest/chart and a real regression table from
// meshtest/regress, so a change in either shows here.
func sample(t testing.TB, verdict string) Data {
	t.Helper()
	return Data{
		Title:   "TestStar — star, 100 peers",
		Verdict: verdict,
		Created: time.Date(2026, 5, 4, 9, 42, 17, 0, time.UTC),
		Params: []KV{
			{"peers", "100"},
			{"topology", "star (1 bootstrap, 100 peers)"},
			{"duration", "60s"},
			{"interval", "1s"},
			{"image", "ghcr.io/meshtest/meshnode:v0.51.0@sha256:4c1f9e0b7a2d3e8f"},
			{"seed", "1"},
		},
		Environment: []KV{
			{"host", "linux/amd64, 16 cores, 62.7 GB"},
			{"kernel", "6.8.0-60-generic"},
			{"Docker", "28.3.2 (API 1.51, overlay2, cgroup v2 systemd)"},
			{"git revision", "4f1c2d9e0b7a"},
			{"Go", "go1.26.8"},
		},
		Timings: []KV{
			{"bring-up", "14.2 s"},
			{"engine floor", "3.6 s (bring-up is 3.9× the floor)"},
			{"converge", "1.8 s"},
			{"sampling", "60.0 s"},
			{"teardown", "4.1 s"},
		},
		Convergence: Convergence{
			Proven: true, Edges: 100, Nodes: 101, DriftSamples: 0,
			Detail: "every edge seen from both ends after 1.8 s (3 polls); no drift in 60 rounds",
		},
		Checks: []Check{
			{Name: "every node answered every round", OK: true, Detail: "60 rounds × 101 nodes, 0 late"},
			{Name: "bootstrap holds 100 connections", OK: true, Detail: "min 100, max 100 over the window"},
			{Name: "bootstrap memory per connection ≤ 32 kB", OK: true, Detail: "14.3 kB/conn"},
			{Name: "peer goroutines ≤ 80", OK: verdict == "pass", Detail: "p95 61, max 64"},
			{Name: "harness CPU ≤ 5 % of one core", OK: true, Detail: "1.7 % (cgroup files)"},
		},
		Tables: []Table{
			{
				Caption: "bootstrap",
				Columns: []string{"figure", "N", "mean", "min", "p50", "p95", "max"},
				Rows: [][]string{
					{"connections", "60", "100", "100", "100", "100", "100"},
					{"mem_bytes", "60", "31.2 MB", "29.8 MB", "31.3 MB", "32.0 MB", "32.1 MB"},
					{"cpu_cores", "60", "0.041", "0.012", "0.038", "0.072", "0.090"},
					{"goroutines", "60", "412", "405", "412", "418", "420"},
					{"heap_inuse_bytes", "60", "14.1 MB", "12.9 MB", "14.0 MB", "15.2 MB", "15.6 MB"},
				},
			},
			{
				Caption: "peer",
				Columns: []string{"figure", "N", "mean", "min", "p50", "p95", "max"},
				Rows: [][]string{
					{"connections", "6000", "1.00", "1", "1", "1", "1"},
					{"mem_bytes", "6000", "16.1 MB", "15.2 MB", "16.0 MB", "17.3 MB", "18.0 MB"},
					{"cpu_cores", "6000", "0.004", "0.001", "0.004", "0.007", "0.012"},
					{"goroutines", "6000", "52.3", "48", "52", "61", "64"},
					{"heap_inuse_bytes", "6000", "5.20 MB", "4.81 MB", "5.19 MB", "5.60 MB", "5.71 MB"},
				},
			},
		},
		Charts:     sampleCharts(t),
		Regression: sampleRegression(verdict == "fail"),
		Files: []string{
			"samples.csv", "summary.json",
			"star-100-memory.png", "star-100-cpu.png", "star-100-goroutines.png", "star-100-connections.png",
		},
	}
}

// sampleCharts renders the charts a star writes: the bootstrap against the
// peers' mean and p95, over 60 one-second rounds.
func sampleCharts(t testing.TB) []Chart {
	t.Helper()
	const rounds = 60
	x := make([]float64, rounds)
	for i := range x {
		x[i] = float64(i)
	}
	// curve is a figure that ramps up in the first seconds, as a mesh does
	// while peers dial in, then wobbles around its level.
	curve := func(level, wobble float64) []float64 {
		y := make([]float64, rounds)
		for i := range y {
			ramp := 1 - math.Exp(-float64(i)/4)
			y[i] = level*ramp + wobble*math.Sin(float64(i)/3)
		}
		return y
	}
	specs := []chart.TimeChart{
		{Title: "memory, 100-peer star", YLabel: "memory", YUnit: chart.Bytes, Lines: []chart.Line{
			{Name: "bootstrap", X: x, Y: curve(31.2e6, 0.4e6)},
			{Name: "peers (mean)", X: x, Y: curve(16.1e6, 0.2e6)},
			{Name: "peers (p95)", X: x, Y: curve(17.3e6, 0.2e6), Dashed: true},
		}},
		{Title: "CPU, 100-peer star", YLabel: "CPU", Lines: []chart.Line{
			{Name: "bootstrap", X: x, Y: curve(0.041, 0.02)},
			{Name: "peers (mean)", X: x, Y: curve(0.004, 0.002)},
			{Name: "peers (p95)", X: x, Y: curve(0.007, 0.002), Dashed: true},
		}},
		{Title: "goroutines, 100-peer star", YLabel: "goroutines", Lines: []chart.Line{
			{Name: "bootstrap", X: x, Y: curve(412, 4)},
			{Name: "peers (mean)", X: x, Y: curve(52, 1)},
			{Name: "peers (p95)", X: x, Y: curve(61, 1), Dashed: true},
		}},
		{Title: "connections, 100-peer star", YLabel: "connections", Lines: []chart.Line{
			{Name: "bootstrap", X: x, Y: curve(100, 0)},
			{Name: "peers (mean)", X: x, Y: curve(1, 0)},
		}},
	}
	var out []Chart
	for _, c := range specs {
		var buf bytes.Buffer
		if err := c.Render(&buf, chart.SVG); err != nil {
			t.Fatalf("render sample chart: %v", err)
		}
		out = append(out, Chart{Title: c.Title, SVG: buf.Bytes()})
	}
	return out
}

// sampleRegression compares a run with a baseline. The bring-up is slower
// but not gated; when regressed, the bootstrap's bytes per connection rose
// 23 %, which is.
func sampleRegression(regressed bool) string {
	bytesPerConn := 11750.0
	if regressed {
		bytesPerConn = 14300
	}
	params := map[string]string{"peers": "100", "duration": "60s", "image": "meshnode:v0.51.0"}
	base := &regress.Set{Params: params, Figures: []regress.Figure{
		{Name: "bootstrap_bytes_per_conn", Unit: "B/conn", Value: 11600, CV: 0.02, N: 5, HigherIsWorse: true, Gate: true},
		{Name: "bootstrap_goroutines_per_conn", Unit: "goroutines/conn", Value: 4.1, N: 5, HigherIsWorse: true, Gate: true},
		{Name: "peer_mem_bytes", Unit: "B", Value: 16.3e6, CV: 0.01, N: 5, HigherIsWorse: true, Gate: true},
		{Name: "bring_up_s", Unit: "s", Value: 9.8, N: 5, HigherIsWorse: true},
	}}
	now := &regress.Set{Params: params, Figures: []regress.Figure{
		regress.FromRuns("bootstrap_bytes_per_conn", []float64{bytesPerConn}, "B/conn"),
		regress.FromRuns("bootstrap_goroutines_per_conn", []float64{4.12}, "goroutines/conn"),
		regress.FromRuns("peer_mem_bytes", []float64{16.1e6}, "B"),
		{Name: "bring_up_s", Unit: "s", Value: 14.2, N: 1, HigherIsWorse: true},
	}}
	return regress.Compare(base, now, regress.Options{}).Markdown()
}
