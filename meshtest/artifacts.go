package meshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/report"
	"github.com/meshtest/meshtest/meshtest/workload"
)

// chartFigure is one chart of the run: a figure, bootstrap against peers.
type chartFigure struct {
	file   string // suffix of the file name: "memory" -> star-100-memory.png
	figure string
	title  string
	yLabel string
	unit   chart.Unit
}

var chartFigures = []chartFigure{
	{"memory", FigMemBytes, "Container memory", "memory", chart.Bytes},
	{"cpu", FigCPUCores, "Container CPU", "CPU (cores)", chart.Count},
	{"goroutines", FigGoroutines, "Goroutines", "goroutines", chart.Count},
	{"connections", FigConns, "libp2p connections", "connections", chart.Count},
	{"heap", FigHeapInuse, "Go heap in use", "heap", chart.Bytes},
}

// WriteArtifacts writes the run's charts (PNG and SVG), raw samples
// (samples.csv), summary (summary.json) and, when the test ends, report.html
// to t.ArtifactDir(), and to Config.ResultsDir/<test name>/ when set (that
// directory is emptied first). `go test -artifacts -outputdir DIR` keeps the
// artifact directory; without it that directory is temporary, which is what
// ResultsDir is for. It ends by printing where the files are.
func (r *Recording) WriteArtifacts(t testing.TB) {
	t.Helper()
	dirs := artifactDirs(t, r.Config.ResultsDir)
	if len(dirs) > 1 {
		// Files of an earlier run of the same test would mix with this one's.
		if err := os.RemoveAll(dirs[1]); err != nil {
			t.Errorf("meshtest: empty %s: %v", dirs[1], err)
		}
	}
	files, err := r.artifacts()
	if err != nil {
		t.Errorf("meshtest: artifacts: %v", err)
	}
	for _, dir := range dirs {
		if err := writeFiles(dir, files); err != nil {
			t.Errorf("meshtest: write artifacts to %s: %v", dir, err)
		}
		if err := r.Mesh.snapshotPrometheus(t.Context(), dir); err != nil {
			t.Errorf("meshtest: Prometheus snapshot to %s: %v", dir, err)
		}
	}
	// The summary is written again once the mesh is gone, with the teardown
	// time, where the directory still exists then. Everything else in it
	// was captured when the recording was made.
	logf := r.Mesh.logf
	r.Mesh.onTeardown(func() {
		data, err := r.Summary().Marshal()
		if err != nil {
			logf("meshtest: rewrite summary.json with the teardown time: %v", err)
			return
		}
		for _, dir := range dirs {
			if _, err := os.Stat(dir); err != nil {
				continue // a temporary artifact directory already removed
			}
			if err := os.WriteFile(filepath.Join(dir, "summary.json"), data, 0o644); err != nil {
				logf("meshtest: rewrite summary.json with the teardown time: %v", err)
			}
		}
	})
	// report.html is written when the test ends, so that it carries the
	// verdict of the test's own assertions too, and once the mesh is gone
	// (the mesh's own cleanup, registered before this one, runs after it),
	// so that it carries the teardown time.
	t.Cleanup(func() { r.Mesh.onTeardown(func() { r.writeReport(t, dirs) }) })
	t.Logf("meshtest: artifacts (report.html, charts, samples.csv, summary.json) in %s", joinDirs(dirs))
}

// artifactDirs are t.ArtifactDir() and, when resultsDir is set, the test's
// directory under it.
func artifactDirs(t testing.TB, resultsDir string) []string {
	dirs := []string{t.ArtifactDir()}
	if resultsDir != "" {
		dirs = append(dirs, filepath.Join(resultsDir, backend.SafeName(t.Name())))
	}
	return dirs
}

func joinDirs(dirs []string) string {
	s := dirs[0]
	if len(dirs) > 1 {
		s = dirs[1]
		if abs, err := filepath.Abs(s); err == nil {
			s = abs
		}
		s += " (and " + dirs[0] + ")"
	}
	return s
}

// filePrefix starts every artifact's name: "star-100".
func (r *Recording) filePrefix() string {
	return fmt.Sprintf("%s-%d", r.Config.Name, r.Config.Peers)
}

// artifacts renders every file in memory, going on past errors so one bad
// chart does not cost the CSV and summary.
func (r *Recording) artifacts() (map[string][]byte, error) {
	files := map[string][]byte{}
	var errs []error
	var csv bytes.Buffer
	if err := r.WriteCSV(&csv); err != nil {
		errs = append(errs, fmt.Errorf("samples.csv: %w", err))
	}
	files["samples.csv"] = csv.Bytes()
	if g := r.Gossip; g != nil {
		var d bytes.Buffer
		if err := workload.WriteCSV(&d, g.Input, r.Started); err != nil {
			errs = append(errs, err)
		}
		files["deliveries.csv"] = d.Bytes()
	}
	var charts []string
	r.svgs = map[string][]byte{}
	for _, nc := range r.allCharts() {
		base := fmt.Sprintf("%s-%s", r.filePrefix(), nc.file)
		rendered, err := chart.Files(base, nc.c)
		if err != nil {
			errs = append(errs, err)
		}
		for _, name := range slices.Sorted(maps.Keys(rendered)) {
			files[name] = rendered[name]
			charts = append(charts, name)
		}
		if svg, ok := rendered[base+".svg"]; ok {
			r.svgs[nc.title] = svg // report.html shows these, not a second rendering
		}
	}
	r.charts = charts
	data, err := r.Summary().Marshal()
	if err != nil {
		errs = append(errs, fmt.Errorf("summary.json: %w", err))
	}
	files["summary.json"] = data
	return files, errors.Join(errs...)
}

func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// allCharts are the run's charts in the order files and the report list
// them: the figures over time, then the workload's.
func (r *Recording) allCharts() []namedChart {
	var out []namedChart
	for _, cf := range chartFigures {
		out = append(out, namedChart{cf.file, cf.title, r.timeChart(cf)})
	}
	return append(out, r.workloadCharts()...)
}

// markers are the faults within the window, as lines on the time charts:
// "partition +11.0s" (in effect after), "heal +2.1s" (recovered after).
func (r *Recording) markers() []chart.Marker {
	var ms []chart.Marker
	for _, ev := range r.Events {
		x := ev.At.Sub(r.Started)
		if x < 0 || x > r.Duration {
			continue
		}
		label := Fault{Kind: ev.Kind, Nodes: ev.Nodes}.String()
		if len(ev.Nodes) > 2 {
			label = fmt.Sprintf("%s %d nodes", ev.Kind, len(ev.Nodes))
		}
		switch {
		case ev.Recovered > 0:
			label += fmt.Sprintf(" +%.1fs", ev.Recovered.Seconds())
		case ev.Effect > 0:
			label += fmt.Sprintf(" +%.1fs", ev.Effect.Seconds())
		}
		ms = append(ms, chart.Marker{X: x.Seconds(), Label: label})
	}
	return ms
}

// timeChart is one figure over time: the bootstrap, and the peers' mean
// and p95 across nodes in each round.
func (r *Recording) timeChart(cf chartFigure) chart.TimeChart {
	c := chart.TimeChart{
		Title:  fmt.Sprintf("%s: %s, %d peers", cf.title, r.Graph.Name, r.Config.Peers),
		YLabel: cf.yLabel,
		YUnit:  cf.unit,
		Events: r.markers(),
	}
	for _, role := range r.Roles() {
		var x, mean, p95 []float64
		for _, p := range r.RoleOverTime(role, cf.figure) {
			if p.N == 0 {
				continue
			}
			x, mean, p95 = append(x, p.Elapsed.Seconds()), append(mean, p.Mean), append(p95, p.P95)
		}
		if nodes := len(r.Nodes(role)); nodes == 1 {
			c.Lines = append(c.Lines, chart.Line{Name: role, X: x, Y: mean})
		} else {
			c.Lines = append(c.Lines,
				chart.Line{Name: fmt.Sprintf("%s mean (%d nodes)", role, nodes), X: x, Y: mean},
				chart.Line{Name: role + " p95", X: x, Y: p95, Dashed: true})
		}
	}
	return c
}

// writeReport renders report.html into each artifact directory. It runs
// in a cleanup, after the test's own assertions, so the page's verdict is
// the test's.
func (r *Recording) writeReport(t testing.TB, dirs []string) {
	var charts []report.Chart
	for _, nc := range r.allCharts() {
		if svg, ok := r.svgs[nc.title]; ok {
			charts = append(charts, report.Chart{Title: nc.title, SVG: svg})
		}
	}
	d := report.FromSummary(r.Summary(), !t.Failed(), charts)
	d.Regression = r.Regression
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
			shot = screenshot(t, path)
		}
		if shot != nil {
			if err := os.WriteFile(filepath.Join(dir, "report.png"), shot, 0o644); err != nil {
				t.Errorf("meshtest: report.png: %v", err)
			}
		}
	}
}

// screenshot opens the report in headless Chromium, where one is installed,
// as a person would: it fails the test if the page logs an error, and
// returns the picture of the whole page.
func screenshot(t testing.TB, path string) []byte {
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
