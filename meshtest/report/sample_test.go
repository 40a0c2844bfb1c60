package report

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/regress"
	"github.com/meshtest/meshtest/meshtest/summary"
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
		Network:    sampleNetwork(verdict == "fail"),
		Events:     sampleEvents(),
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
		}, Events: markers(sampleEvents())},
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

// markers are a run's events as a chart draws them: the kind, and the
// time the mesh took to recover.
func markers(events []summary.Event) []chart.Marker {
	var ms []chart.Marker
	for _, e := range events {
		label := e.Kind
		if e.RecoveredS > 0 {
			label += fmt.Sprintf(" +%.1fs", e.RecoveredS)
		}
		ms = append(ms, chart.Marker{X: e.ElapsedS, Label: label})
	}
	return ms
}

// sampleNetwork is a star shaped in user space, the kernel having no
// netem: three paths calibrated, one of them, when off, with four times
// the loss it was asked for.
func sampleNetwork(off bool) *summary.Network {
	n := &summary.Network{
		Mechanism: "nfqueue-delay-line",
		Kernel:    "sch_netem missing; nfqueue, ifb, htb",
		Note:      "the kernel has no sch_netem: delay in user space",
		Passed:    !off,
		Calibration: []summary.Calibration{
			{From: "bootstrap", To: "peer-1", WantRTTMs: 40, GotRTTMs: 40.6, WantLoss: 0.0199, GotLoss: 0.018, Probes: 500,
				WantRateBitsPerS: 10e6, GotRateBitsPerS: 9.71e6, Verdict: summary.CalibrationOK},
			{From: "bootstrap", To: "peer-2", WantRTTMs: 40, GotRTTMs: 41.2, WantLoss: 0.0199, GotLoss: 0.022, Probes: 500,
				Verdict: summary.CalibrationOK},
			{From: "peer-1", To: "peer-2", WantRTTMs: 80, GotRTTMs: 80.9, WantLoss: 0.0199, GotLoss: 0.02, Probes: 500,
				Verdict: summary.CalibrationOK},
		},
		DelayLine:            &summary.DelayLineCost{Packets: 184220, CPUSeconds: 2.41, CPUMsPer1000Packets: 13.1, MeanLateMs: 0.084, MaxLateMs: 1.9},
		CalibrationDelayLine: &summary.DelayLineCost{Packets: 640, CPUSeconds: 0.31, MeanLateMs: 0.07, MaxLateMs: 5.5},
	}
	if off {
		c := &n.Calibration[2]
		c.GotLoss, c.Verdict = 0.081, summary.CalibrationMismatch
		c.Mismatches = []string{"loss 8.1 %, want 1.99 % ± 1.5 %"}
	}
	return n
}

// sampleEvents are the faults of a chaos run: conditions set before the
// window, five peers cut off and healed, a peer killed.
func sampleEvents() []summary.Event {
	start := time.Date(2026, 5, 4, 9, 41, 5, 0, time.UTC)
	return []summary.Event{
		{At: start.Add(-2 * time.Second), ElapsedS: -2, Kind: "conditions", Detail: "latency 20ms, loss 1%"},
		{At: start.Add(15 * time.Second), ElapsedS: 15, Kind: "partition", Nodes: []string{"peer-1", "peer-2", "peer-3", "peer-4", "peer-5"},
			Detail: "{peer-1..peer-5} | {rest}"},
		{At: start.Add(30 * time.Second), ElapsedS: 30, Kind: "heal", RecoveredS: 3.2, Recovery: "peer-ids"},
		{At: start.Add(45 * time.Second), ElapsedS: 45, Kind: "kill", Nodes: []string{"peer-7"}, Recovery: "not awaited"},
	}
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
