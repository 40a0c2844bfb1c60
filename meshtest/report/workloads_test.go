package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/workload"
)

// TestWorkloadTables: a summary with gossip, perf and ping sections gets a
// table each, with the figures a reader looks for, and one without gets
// none; a node that reports no duplicates is said to, not shown as zero.
func TestWorkloadTables(t *testing.T) {
	s := &summary.File{Experiment: "TestGossip", Topology: summary.Topology{Name: "ring", Nodes: 4, Edges: 4}}
	assert.Empty(t, workloadTables(s))

	s.Gossip = &summary.Gossip{
		Topic: "t", RatePerS: 1, SizeBytes: 1024, Publishers: 4, Source: "records", Clock: "one host",
		Diameter: 2, MeanHops: 1.33, MeshD: 6, MeshDegreeSource: "counted by the nodes",
		GossipResult: workload.GossipResult{
			Messages: 10, Subscribers: 4, Expected: 30, Delivered: 29, DeliveryRatio: 29.0 / 30,
			Reach:      []workload.Reach{{Fraction: 0.5, Reached: 10, P50: 0.002}, {Fraction: 1, Reached: 9, P50: 0.004, Max: 0.011}},
			Delay:      series.Stats{N: 29, Mean: 0.003, P50: 0.0025, P95: 0.006, Max: 0.011},
			Duplicates: series.Stats{N: 29, Mean: 1.5, P95: 3},
		},
		Cost: map[string]summary.GossipCost{"peer": {
			CPUSecondsPerMessage:          series.Stats{N: 3, Mean: 0.004, P95: 0.005},
			CPUSecondsPerMessageAboveIdle: series.Stats{N: 3, Mean: 0.002},
			MemBytesPerMessage:            series.Stats{N: 3, Mean: 120, P95: 300},
		}},
	}
	s.Perf = []summary.Perf{{From: "peer-001", To: "peer-002", Transport: "quic-v1", PathRTTS: 0.05, ConnectionRoundTrips: 3.2,
		PerfResult: workload.PerfResult{Runs: 5, UploadBitsPerSecond: workload.Quartiles{N: 5, Min: 18e6, Median: 18.6e6, Max: 19e6},
			ConnectionSeconds: workload.Quartiles{N: 5, Median: 0.16}}}}
	s.Ping = []summary.Ping{{Count: 3, Edges: 4, RTTS: series.Stats{N: 12, Mean: 0.0004}, PerEdgeMedianS: series.Stats{N: 4}}}

	tables := workloadTables(s)
	require.Len(t, tables, 3)
	text := func(tb Table) string {
		var b strings.Builder
		b.WriteString(tb.Caption + "\n")
		for _, r := range tb.Rows {
			b.WriteString(strings.Join(r, " | ") + "\n")
		}
		return b.String()
	}
	g := text(tables[0])
	for _, want := range []string{"29 of 30 (96.67 %)", "time to reach 100 %", "9 of 10 messages", "mean 1.50, p95 3.00", "counted by the nodes", "peer: CPU per delivered message", "4000 µs (above idle 2000 µs)", "one host"} {
		assert.Contains(t, g, want)
	}
	p := text(tables[1])
	assert.Contains(t, p, "18.00 / 18.60 / 19.00")
	assert.Contains(t, p, "3.20 of 50.0 ms")
	assert.Contains(t, p, "—", "no download was run: no figure, not a zero")
	assert.Contains(t, text(tables[2]), "3 round trips on each of 4 edges")

	s.Gossip.Duplicates = series.Stats{}
	assert.Contains(t, text(workloadTables(s)[0]), "not reported by the node")

	d := FromSummary(s, true, nil)
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, d))
	assert.Contains(t, buf.String(), "time to reach 50 %")
}
