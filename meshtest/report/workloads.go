package report

import (
	"fmt"
	"maps"
	"slices"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// workloadTables are the tables of the run's workloads: gossip propagation
// and cost, perf series, ping round trips. None without workloads.
func workloadTables(s *summary.File) []Table {
	var out []Table
	if g := s.Gossip; g != nil {
		tb := Table{
			Caption: fmt.Sprintf("gossip: %d messages of %d B at %g/s from %d publishers on %q; %s (%s)",
				g.Messages, g.SizeBytes, g.RatePerS, g.Publishers, g.Topic, g.Source, g.Clock),
			Columns: []string{"figure", "value"},
		}
		row := func(k, v string) { tb.Rows = append(tb.Rows, []string{k, v}) }
		row("delivered", fmt.Sprintf("%d of %d (%.2f %%)", g.Delivered, g.Expected, 100*g.DeliveryRatio))
		row("topology", fmt.Sprintf("diameter %d, mean %.2f hops from a publisher", g.Diameter, g.MeanHops))
		for _, r := range g.Reach {
			row(fmt.Sprintf("time to reach %g %%", 100*r.Fraction),
				fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (%d of %d messages)", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Reached, g.Messages))
		}
		row("first-delivery delay", fmt.Sprintf("mean %s, p50 %s, p95 %s, max %s", ms(g.Delay.Mean), ms(g.Delay.P50), ms(g.Delay.P95), ms(g.Delay.Max)))
		if g.Duplicates.N > 0 {
			row("duplicates per delivered message", fmt.Sprintf("mean %.2f, p95 %.2f (floor (d−2)/2 = %.2f, d the mean mesh degree %s)", g.Duplicates.Mean, g.Duplicates.P95, g.DuplicatesFloor, g.MeshDegreeSource))
		} else {
			row("duplicates per delivered message", "not reported by the node")
		}
		if g.ControlBytesSent.N > 0 {
			row("control bytes sent per node", fmt.Sprintf("mean %s, max %s", num("mem_bytes", g.ControlBytesSent.Mean), num("mem_bytes", g.ControlBytesSent.Max)))
		}
		for _, role := range slices.Sorted(maps.Keys(g.Cost)) {
			c := g.Cost[role]
			if c.CPUSecondsPerMessage.N == 0 {
				continue
			}
			row(role+": CPU per delivered message", fmt.Sprintf("%s (above idle %s), p95 %s, over %d nodes",
				us(c.CPUSecondsPerMessage.Mean), us(c.CPUSecondsPerMessageAboveIdle.Mean), us(c.CPUSecondsPerMessage.P95), c.CPUSecondsPerMessage.N))
			row(role+": memory growth per delivered message", fmt.Sprintf("%.0f B, p95 %.0f B", c.MemBytesPerMessage.Mean, c.MemBytesPerMessage.P95))
		}
		if g.PublishErrors > 0 {
			row("publish errors", fmt.Sprint(g.PublishErrors))
		}
		out = append(out, tb)
	}
	if len(s.Perf) > 0 {
		tb := Table{
			Caption: "perf (/perf/1.0.0): throughput and connection time over repeated runs",
			Columns: []string{"from → to", "transport", "runs", "upload Mbit/s (min / median / max)", "download Mbit/s (min / median / max)", "connection + 1 RTT (median)", "round trips"},
		}
		for _, p := range s.Perf {
			tr := p.Transport
			if p.Security != "" {
				tr += "/" + p.Security
			}
			conn, trips := "—", "—"
			if p.ConnectionSeconds.N > 0 {
				conn = ms(p.ConnectionSeconds.Median)
			}
			if p.ConnectionRoundTrips > 0 {
				trips = fmt.Sprintf("%.2f of %s", p.ConnectionRoundTrips, ms(p.PathRTTS))
			}
			tb.Rows = append(tb.Rows, []string{
				p.From + " → " + p.To, tr, fmt.Sprintf("%d (%d failed)", p.Runs, p.Failed),
				mbits(p.UploadBitsPerSecond.Min, p.UploadBitsPerSecond.Median, p.UploadBitsPerSecond.Max, p.UploadBitsPerSecond.N),
				mbits(p.DownloadBitsPerSecond.Min, p.DownloadBitsPerSecond.Median, p.DownloadBitsPerSecond.Max, p.DownloadBitsPerSecond.N),
				conn, trips,
			})
		}
		out = append(out, tb)
	}
	for _, p := range s.Ping {
		out = append(out, Table{
			Caption: fmt.Sprintf("ping (/ipfs/ping/1.0.0): %d round trips on each of %d edges, %d failed", p.Count, p.Edges, len(p.Failed)),
			Columns: []string{"over", "N", "mean", "p50", "p95", "max"},
			Rows: [][]string{
				{"every round trip", fmt.Sprint(p.RTTS.N), ms(p.RTTS.Mean), ms(p.RTTS.P50), ms(p.RTTS.P95), ms(p.RTTS.Max)},
				{"each edge's median", fmt.Sprint(p.PerEdgeMedianS.N), ms(p.PerEdgeMedianS.Mean), ms(p.PerEdgeMedianS.P50), ms(p.PerEdgeMedianS.P95), ms(p.PerEdgeMedianS.Max)},
			},
		})
	}
	return out
}

func ms(seconds float64) string { return fmt.Sprintf("%.1f ms", 1e3*seconds) }
func us(seconds float64) string { return fmt.Sprintf("%.0f µs", 1e6*seconds) }

func mbits(lo, mid, hi float64, n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f", lo/1e6, mid/1e6, hi/1e6)
}
