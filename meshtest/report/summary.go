package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// tableFigures are the figures of the per-role tables, in order.
var tableFigures = []string{"connections", "mem_bytes", "cpu_cores", "goroutines", "heap_inuse_bytes"}

// FromSummary is the report of one run, from its summary.json: passed is the
// verdict of the test's own assertions, charts the run's SVG charts, in
// order. A run that shaped its links gets the Network section and, when it
// calibrated them, a check of the calibration; a run with faults gets the
// Events section.
func FromSummary(s *summary.File, passed bool, charts []Chart) Data {
	d := Data{
		Title:   fmt.Sprintf("%s — %s, %d nodes", s.Experiment, s.Topology.Name, s.Topology.Nodes),
		Verdict: map[bool]string{true: "pass", false: "fail"}[passed],
		Created: s.Created,
		Charts:  charts,
	}
	d.Params = []KV{
		{Key: "peers", Value: fmt.Sprint(s.Topology.Nodes - 1)},
		{Key: "topology", Value: fmt.Sprintf("%s (%d nodes, %d edges)", s.Topology.Name, s.Topology.Nodes, s.Topology.Edges)},
		{Key: "duration", Value: fmt.Sprintf("%.1f s", s.Timings.SamplingS)},
		{Key: "interval", Value: fmt.Sprintf("%g s", s.Harness.IntervalS)},
	}
	for _, g := range slices.Sorted(maps.Keys(s.Images)) {
		d.Params = append(d.Params, KV{Key: "image (" + g + ")", Value: s.Images[g]})
	}
	b := s.Backend
	d.Environment = []KV{
		{Key: "host", Value: fmt.Sprintf("%s/%s, %d cores, %.1f GB", s.Host.OS, s.Host.Arch, s.Host.Cores, float64(s.Host.MemoryBytes)/1e9)},
		{Key: "kernel", Value: s.Host.Kernel},
		{Key: "backend", Value: fmt.Sprintf("%s %s (API %s, %s, cgroup v%s %s)", b.Backend, b.ServerVersion, b.APIVersion, b.StorageDriver, b.CgroupVersion, b.CgroupDriver)},
	}
	if len(b.Clocks) > 0 {
		var clocks []string
		for _, c := range b.Clocks {
			clocks = append(clocks, c.String())
		}
		d.Environment = append(d.Environment, KV{Key: "engine clocks", Value: strings.Join(clocks, ", ") + " against the harness's"})
	}
	for _, e := range slices.Sorted(maps.Keys(s.Placement)) {
		nodes := s.Placement[e]
		d.Environment = append(d.Environment, KV{Key: "engine " + e, Value: fmt.Sprintf("%d nodes: %s", len(nodes), abbreviate(nodes, 6))})
	}
	d.Environment = append(d.Environment, []KV{
		{Key: "git revision", Value: s.GitRevision},
		{Key: "Go", Value: s.Host.GoVersion},
	}...)
	d.Timings = []KV{{Key: "bring-up", Value: fmt.Sprintf("%.1f s", s.Timings.BringUpS)}}
	if s.Timings.FloorS > 0 {
		d.Timings = append(d.Timings, KV{Key: "engine floor", Value: fmt.Sprintf("%.1f s (bring-up is %.2f× the floor)", s.Timings.FloorS, s.Timings.BringUpRatio)})
	}
	d.Timings = append(d.Timings, KV{Key: "converge", Value: fmt.Sprintf("%.1f s", s.Timings.ConvergeS)})
	if s.Timings.WarmUp != "" {
		d.Timings = append(d.Timings, KV{Key: "warm-up", Value: fmt.Sprintf("%.1f s (%s)", s.Timings.WarmUpS, s.Timings.WarmUp)})
	}
	sampling := fmt.Sprintf("%.1f s", s.Timings.SamplingS)
	if h := s.Harness; h.Rounds > 0 {
		sampling += fmt.Sprintf(" (%d rounds, %d late", h.Rounds, h.LateRounds)
		if h.SampleStride > 1 {
			sampling += fmt.Sprintf("; peers in turn, each every %d rounds", h.SampleStride)
		}
		if h.MetricsEvery > 1 {
			sampling += fmt.Sprintf("; a peer's metrics every %d of its reads", h.MetricsEvery)
		}
		sampling += fmt.Sprintf("; the harness used %.2f %% of one core", h.CPUPercentOneCore)
		if h.PeakRSSBytes > 0 {
			sampling += fmt.Sprintf(", heap %.0f MB, peak RSS %.0f MB", float64(h.HeapBytes)/1e6, float64(h.PeakRSSBytes)/1e6)
		}
		sampling += ")"
	}
	d.Timings = append(d.Timings, KV{Key: "sampling", Value: sampling})
	if s.Timings.TeardownS > 0 {
		v := fmt.Sprintf("%.1f s", s.Timings.TeardownS)
		if s.Timings.TeardownRatio > 0 {
			v += fmt.Sprintf(" (%.2f× the engine's forced removal of as many plain containers, %.1f s)", s.Timings.TeardownRatio, s.Timings.FloorRemoveS)
		}
		d.Timings = append(d.Timings, KV{Key: "teardown", Value: v})
	}
	c := s.Convergence
	d.Convergence = Convergence{
		Proven: c.Proven, Edges: s.Topology.Edges, Nodes: s.Topology.Nodes,
		Unverified: c.Unverified, DriftSamples: c.DriftSamples,
		Detail: convergenceDetail(s),
	}
	scrapeErrors := 0
	for _, k := range s.Harness.ScrapeErrors {
		scrapeErrors += k
	}
	d.Checks = []Check{
		{Name: "the topology was proven before sampling", OK: c.Proven, Detail: provenDetail(s)},
		{Name: "the topology held in every sample", OK: c.DriftSamples == 0, Detail: fmt.Sprintf("%d drift samples", c.DriftSamples)},
		{Name: "every node answered", OK: len(s.Harness.Unresponsive) == 0, Detail: fmt.Sprintf("%d missed reads, %d late rounds", scrapeErrors, s.Harness.LateRounds)},
		{Name: "the test's own assertions", OK: passed, Detail: map[bool]string{true: "all passed", false: "some failed: see the test output"}[passed]},
	}
	if c, ok := calibrationCheck(s.Network); ok {
		d.Checks = append(d.Checks, c)
	}
	d.Network, d.Events = s.Network, s.Events
	for _, role := range slices.Sorted(maps.Keys(s.Roles)) {
		tb := Table{Caption: role, Columns: []string{"figure", "N", "mean", "min", "p50", "p95", "max"}}
		for _, f := range tableFigures {
			st, ok := s.Roles[role][f]
			if !ok || st.N == 0 {
				continue
			}
			tb.Rows = append(tb.Rows, []string{f, fmt.Sprint(st.N), num(f, st.Mean), num(f, st.Min), num(f, st.P50), num(f, st.P95), num(f, st.Max)})
		}
		d.Tables = append(d.Tables, tb)
	}
	d.Tables = append(d.Tables, workloadTables(s)...)
	d.Files = []string{"summary.json", "samples.csv"}
	if s.Gossip != nil && s.Gossip.DeliveriesFile != "" {
		d.Files = append(d.Files, s.Gossip.DeliveriesFile)
	}
	d.Files = append(d.Files, s.Charts...)
	return d
}

// provenDetail says how each group was proven, so a page never claims more
// than was checked.
func provenDetail(s *summary.File) string {
	var parts []string
	for _, g := range slices.Sorted(maps.Keys(s.Convergence.Roles)) {
		parts = append(parts, g+": "+s.Convergence.Roles[g])
	}
	return fmt.Sprintf("%d edges; %s", s.Topology.Edges, strings.Join(parts, ", "))
}

func convergenceDetail(s *summary.File) string {
	c := s.Convergence
	var how string
	switch {
	case len(c.Unverified) > 0:
		how = fmt.Sprintf("the roles %s give no way to count connections, so their part of the topology is UNVERIFIED; the others held their degree", strings.Join(c.Unverified, ", "))
	case onlyMethod(c.Roles, summary.ByPeerIDs):
		how = "every node held exactly its neighbours, by peer ID,"
	default:
		how = "every node held exactly its neighbours (by peer ID) or its degree (by connection count: " + strings.Join(groupsBy(c.Roles, summary.ByConnectionCount), ", ") + ")"
	}
	return fmt.Sprintf("%s before sampling (%.1f s after the last start); %d samples left the topology during the window", how, s.Timings.ConvergeS, c.DriftSamples)
}

func onlyMethod(groups map[string]string, method string) bool {
	for _, m := range groups {
		if m != method {
			return false
		}
	}
	return true
}

func groupsBy(groups map[string]string, method string) []string {
	var out []string
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		if groups[g] == method {
			out = append(out, g)
		}
	}
	return out
}

func num(figure string, v float64) string {
	if strings.HasSuffix(figure, "_bytes") {
		return fmt.Sprintf("%.1f MB", v/1e6)
	}
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}

// abbreviate lists names, or the first max of them and how many more.
func abbreviate(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}
