package meshtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/chart"
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
// (samples.csv) and summary (summary.json) to t.ArtifactDir(), and copies them
// to Config.ResultsDir when set. `go test -artifacts -outputdir DIR` keeps the
// artifact directory; without it that directory is temporary, which is what
// ResultsDir is for. It ends by printing where the files are.
func (r *Recording) WriteArtifacts(t testing.TB) {
	t.Helper()
	dirs := r.artifactDirs(t)
	if rd := r.Mesh.Config.ResultsDir; rd != "" {
		// Files of an earlier run of the same test would mix with this one's.
		os.RemoveAll(filepath.Join(rd, safeName(t.Name())))
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
	// time, where the directory still exists then.
	r.Mesh.onClose = append(r.Mesh.onClose, func() {
		if data, err := r.summaryJSON(); err == nil {
			for _, dir := range dirs {
				if _, err := os.Stat(dir); err == nil {
					os.WriteFile(filepath.Join(dir, "summary.json"), data, 0o644)
				}
			}
		}
	})
	// report.html is written when the test ends, so that it carries the
	// verdict of the test's own assertions too.
	t.Cleanup(func() { r.writeReport(t, dirs) })
	t.Logf("meshtest: artifacts (report.html, charts, samples.csv, summary.json) in %s", joinDirs(dirs))
}

// artifactDirs are t.ArtifactDir() and, when set, the test's ResultsDir.
func (r *Recording) artifactDirs(t testing.TB) []string {
	dirs := []string{t.ArtifactDir()}
	if rd := r.Mesh.Config.ResultsDir; rd != "" {
		dirs = append(dirs, filepath.Join(rd, safeName(t.Name())))
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

// safeName turns a test name ("TestStar/peers=10") into a directory name.
func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
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
	prefix := fmt.Sprintf("%s-%d", r.Mesh.Config.Name, r.Mesh.Config.Peers)
	var charts []string
	r.svgs = map[string][]byte{}
	for _, cf := range chartFigures {
		base := fmt.Sprintf("%s-%s", prefix, cf.file)
		rendered, err := chart.Files(base, r.timeChart(cf))
		if err != nil {
			errs = append(errs, err)
		}
		for _, name := range slices.Sorted(maps.Keys(rendered)) {
			files[name] = rendered[name]
			charts = append(charts, name)
		}
		if svg, ok := rendered[base+".svg"]; ok {
			r.svgs[cf.title] = svg // report.html shows these, not a second rendering
		}
	}
	r.charts = charts
	data, err := r.summaryJSON()
	if err != nil {
		errs = append(errs, fmt.Errorf("summary.json: %w", err))
	}
	files["summary.json"] = data
	return files, errors.Join(errs...)
}

func (r *Recording) summaryJSON() ([]byte, error) {
	s := r.Summary()
	s.Charts = r.charts
	return json.MarshalIndent(s, "", "  ")
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

// saveOnFailure registers the collection of node logs for a failed test. It
// is registered after the mesh's removal, so it runs before it.
func (m *Mesh) saveOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dirs := []string{t.ArtifactDir()}
		if rd := m.Config.ResultsDir; rd != "" {
			dirs = append(dirs, filepath.Join(rd, safeName(t.Name())))
		}
		for _, dir := range dirs {
			if err := m.WriteLogs(ctx, dir); err != nil {
				t.Logf("meshtest: node logs: %v", err)
			}
		}
		t.Logf("meshtest: test failed: node logs in %s", filepath.Join(joinDirs(dirs), "logs"))
	})
}

// timeChart is one figure over time: the bootstrap, and the peers' mean
// and p95 across nodes in each round.
func (r *Recording) timeChart(cf chartFigure) chart.TimeChart {
	c := chart.TimeChart{
		Title:  fmt.Sprintf("%s: %s, %d peers", cf.title, r.Mesh.Graph.Name, r.Mesh.Config.Peers),
		YLabel: cf.yLabel,
		YUnit:  cf.unit,
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
