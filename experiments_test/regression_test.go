package experiments_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/regress"
)

var updateBaseline = flag.Bool("update-baseline", false, "record this run's figures as the baseline in testdata/baseline/ (make baseline)")

// The gate's band: a figure may move by 20 % or 3 times its measured noise,
// whichever is wider. Idle-node figures at 10 peers move by a few percent
// between runs here (goroutines not at all, memory per connection most).
var gate = regress.Options{Tolerance: 0.20, K: 3}

// regressionRuns collects the runs of one process (-count=3), so the set
// compared, and recorded, carries its own noise.
var regressionRuns = struct {
	sync.Mutex
	byKey map[string][]map[string]float64
}{byKey: map[string][]map[string]float64{}}

func baselinePath(peers int) string {
	return filepath.Join("..", "testdata", "baseline", fmt.Sprintf("star-%d.json", peers))
}

// runStarFigures runs a star with cfg and returns the figure set of every
// run with the same key so far in this process.
func runStarFigures(t *testing.T, key string, cfg meshtest.Config) (*regress.Set, *meshtest.Recording) {
	mesh := meshtest.New(t, cfg)
	rec := mesh.Record(t, flags.Duration)
	rec.WriteArtifacts(t)
	regressionRuns.Lock()
	defer regressionRuns.Unlock()
	h := map[string]float64{}
	for _, mt := range meshtest.StarMetrics() {
		h[mt.Name] = mt.Of(rec)
	}
	regressionRuns.byKey[key] = append(regressionRuns.byKey[key], h)
	runs := regressionRuns.byKey[key]
	set := &regress.Set{
		Created: time.Now().UTC(),
		Params: map[string]string{
			"experiment": "star",
			"peers":      fmt.Sprint(cfg.Peers),
			"duration_s": strconv.FormatFloat(flags.Duration.Seconds(), 'g', -1, 64),
			"interval_s": strconv.FormatFloat(cfg.Interval.Seconds(), 'g', -1, 64),
		},
		Host: fmt.Sprintf("%s, Docker %s", rec.Summary().Host.Kernel, rec.Summary().Backend.ServerVersion),
	}
	for _, mt := range meshtest.StarMetrics() {
		var vs []float64
		for _, r := range runs {
			vs = append(vs, r[mt.Name])
		}
		f := regress.FromRuns(mt.Name, vs, mt.Unit)
		f.Gate = mt.Gated
		set.Figures = append(set.Figures, f)
	}
	return set, rec
}

// TestRegression is the gate a maintainer runs on every change: the
// bundled node in a star of -peers, its headline figures compared with the
// baseline recorded on this kind of machine (testdata/baseline/star-N.json).
// A figure worse than the baseline beyond the band fails the test, with a
// table saying which. Run it with -count=3 so the comparison knows this
// run's noise too; `make baseline` re-records the baseline.
func TestRegression(t *testing.T) {
	cfg, err := flags.Config("regression")
	require.NoError(t, err, "flags")
	require.Nil(t, cfg.Spec, "-spec: the baseline is the bundled node's")
	meshtest.RequireDocker(t)

	now, rec := runStarFigures(t, "real", cfg)
	path := baselinePath(cfg.Peers)
	if *updateBaseline {
		require.NoError(t, now.Write(path))
		t.Logf("baseline written to %s from %d run(s)", path, now.Figures[0].N)
		return
	}
	base, err := regress.Read(path)
	if errors.Is(err, regress.ErrNoBaseline) {
		t.Fatalf("no baseline for %d peers at %s: %v (or pick -peers with a baseline)", cfg.Peers, path, err)
	}
	require.NoError(t, err)
	report := regress.Compare(base, now, gate)
	writeReport(t, report)
	rec.Regression = report.Markdown()
	if report.Failed() {
		t.Errorf("regression against %s:\n%s", path, report.Text())
	} else {
		t.Logf("no regression against %s:\n%s", path, report.Text())
	}
}

// TestGateCatchesCostlierNode proves the gate works: the same node made to
// hold an extra 256 KiB per connection (a flag that exists for this test)
// must be reported worse on memory per connection, and only on what the
// change touches.
func TestGateCatchesCostlierNode(t *testing.T) {
	cfg, err := flags.Config("costlier")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)
	base, err := regress.Read(baselinePath(cfg.Peers))
	if errors.Is(err, regress.ErrNoBaseline) {
		t.Fatalf("no baseline for %d peers: %v", cfg.Peers, err)
	}
	require.NoError(t, err)

	cfg.Env = map[string]string{"MESHNODE_EXTRA_BYTES_PER_CONN": fmt.Sprint(256 << 10)}
	now, rec := runStarFigures(t, "costlier", cfg)
	report := regress.Compare(base, now, gate)
	rec.Regression = report.Markdown()
	t.Logf("the costlier node against the baseline:\n%s", report.Text())
	require.True(t, report.Failed(), "the gate let a node with 256 KiB more per connection pass")
	for _, row := range report.Rows {
		if row.Figure == figBytesPerConn {
			assert.Equal(t, regress.Worse, row.Verdict, "memory per connection")
		}
		if row.Figure == figGoroutinesPerConn {
			assert.Equal(t, regress.OK, row.Verdict, "goroutines per connection did not change")
		}
	}
}

// writeReport saves the comparison as regression.md (the CI job summary) and
// regression.txt, next to the other results.
func writeReport(t *testing.T, r regress.Report) {
	writeComparison(t, "regression", "meshtest regression check", r.Markdown(), r.Text())
}

// writeComparison saves a comparison as <name>.md, under a heading, and
// <name>.txt, in the artifact directory and -results.
func writeComparison(t *testing.T, name, heading, markdown, text string) {
	dirs := []string{t.ArtifactDir()}
	if flags.Results != "" {
		dirs = append(dirs, flags.Results)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("results: %v", err)
			continue
		}
		md := "## " + heading + "\n\n" + markdown
		if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(md), 0o644); err != nil {
			t.Errorf("write %s.md: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(strings.TrimSpace(text)+"\n"), 0o644); err != nil {
			t.Errorf("write %s.txt: %v", name, err)
		}
	}
}
