package meshtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshtest/meshtest/meshtest/report"
)

// writeReport renders report.html into each artifact directory. It runs
// in a cleanup, after the test's own assertions, so the page's verdict is
// the test's.
func (r *Recording) writeReport(t testing.TB, dirs []string) {
	d := r.reportData(t.Name(), !t.Failed())
	var buf bytes.Buffer
	if err := report.Write(&buf, d); err != nil {
		t.Errorf("meshtest: report.html: %v", err)
		return
	}
	var shot []byte
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		path := filepath.Join(dir, "report.html")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Errorf("meshtest: report.html: %v", err)
			continue
		}
		if shot == nil {
			shot = r.screenshot(t, path)
		}
		if shot != nil {
			os.WriteFile(filepath.Join(dir, "report.png"), shot, 0o644)
		}
	}
}

// screenshot opens the report in headless Chromium, where one is installed,
// as a person would: it fails the test if the page logs an error, and
// returns the picture of the whole page.
func (r *Recording) screenshot(t testing.TB, path string) []byte {
	if _, err := report.FindBrowser(); err != nil {
		t.Logf("meshtest: report.png not taken: %v", err)
		return nil
	}
	page, err := report.Capture(context.Background(), path)
	if err != nil {
		t.Logf("meshtest: report.png not taken: %v", err)
		return nil
	}
	if len(page.Problems) > 0 {
		t.Errorf("meshtest: report.html shows errors in the browser: %s", strings.Join(page.Problems, "; "))
	}
	return page.Screenshot
}

func (r *Recording) reportData(test string, passed bool) report.Data {
	s := r.Summary()
	m := r.Mesh
	d := report.Data{
		Title:   fmt.Sprintf("%s — %s, %d nodes", test, m.Graph.Name, m.Graph.N),
		Verdict: map[bool]string{true: "pass", false: "fail"}[passed],
		Created: s.Created,
	}
	d.Params = []report.KV{
		{Key: "peers", Value: fmt.Sprint(m.Config.Peers)},
		{Key: "topology", Value: fmt.Sprintf("%s (%d nodes, %d edges)", m.Graph.Name, m.Graph.N, len(m.Graph.Edges))},
		{Key: "duration", Value: r.Duration.Round(1e8).String()},
		{Key: "interval", Value: m.Config.Interval.String()},
	}
	for _, g := range slices.Sorted(maps.Keys(s.Images)) {
		d.Params = append(d.Params, report.KV{Key: "image (" + g + ")", Value: s.Images[g]})
	}
	d.Environment = []report.KV{
		{Key: "host", Value: fmt.Sprintf("%s/%s, %d cores, %.1f GB", s.Host.OS, s.Host.Arch, s.Host.Cores, float64(s.Host.MemoryBytes)/1e9)},
		{Key: "kernel", Value: s.Host.Kernel},
		{Key: "Docker", Value: fmt.Sprintf("%s (API %s, %s, cgroup v%s %s)", s.Docker.ServerVersion, s.Docker.APIVersion, s.Docker.StorageDriver, s.Docker.CgroupVersion, s.Docker.CgroupDriver)},
		{Key: "git revision", Value: s.GitRevision},
		{Key: "Go", Value: s.Host.GoVersion},
	}
	d.Timings = []report.KV{{Key: "bring-up", Value: fmt.Sprintf("%.1f s", s.Timings.BringUpS)}}
	if s.Timings.FloorS > 0 {
		d.Timings = append(d.Timings, report.KV{Key: "engine floor", Value: fmt.Sprintf("%.1f s (bring-up is %.2f× the floor)", s.Timings.FloorS, s.Timings.BringUpRatio)})
	}
	d.Timings = append(d.Timings,
		report.KV{Key: "converge", Value: fmt.Sprintf("%.1f s", s.Timings.ConvergeS)},
		report.KV{Key: "sampling", Value: fmt.Sprintf("%.1f s", s.Timings.SamplingS)})
	d.Convergence = report.Convergence{
		Proven: s.Convergence.Proven, Edges: len(m.Graph.Edges), Nodes: m.Graph.N,
		Unverified: s.Convergence.Unverified, DriftSamples: s.Convergence.DriftSamples,
		Detail: fmt.Sprintf("every node held exactly its neighbours before sampling (%.1f s after the last start); %d samples left the topology during the window", s.Timings.ConvergeS, s.Convergence.DriftSamples),
	}
	d.Checks = []report.Check{
		{Name: "the topology was proven before sampling", OK: s.Convergence.Proven && len(s.Convergence.Unverified) == 0, Detail: fmt.Sprintf("%d edges", len(m.Graph.Edges))},
		{Name: "the topology held in every sample", OK: len(r.Drift) == 0, Detail: fmt.Sprintf("%d drift samples", len(r.Drift))},
		{Name: "every node answered", OK: len(r.Unresponsive) == 0, Detail: fmt.Sprintf("%d missed reads, %d late rounds", sumValues(r.ScrapeErrors), r.LateRounds)},
		{Name: "the test's own assertions", OK: passed, Detail: map[bool]string{true: "all passed", false: "some failed: see the test output"}[passed]},
	}
	figs := []string{FigConns, FigMemBytes, FigCPUCores, FigGoroutines, FigHeapInuse}
	for _, role := range r.Roles() {
		tb := report.Table{Caption: role, Columns: []string{"figure", "N", "mean", "min", "p50", "p95", "max"}}
		for _, f := range figs {
			sum := r.Role(role).Stats(f)
			if sum.N == 0 {
				continue
			}
			tb.Rows = append(tb.Rows, []string{f, fmt.Sprint(sum.N), num(f, sum.Mean), num(f, sum.Min), num(f, sum.P50), num(f, sum.P95), num(f, sum.Max)})
		}
		d.Tables = append(d.Tables, tb)
	}
	for _, cf := range chartFigures {
		if svg, ok := r.svgs[cf.title]; ok {
			d.Charts = append(d.Charts, report.Chart{Title: cf.title, SVG: svg})
		}
	}
	d.Regression = r.Regression
	d.Files = append([]string{"summary.json", "samples.csv"}, r.charts...)
	return d
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

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
