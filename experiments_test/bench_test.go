package experiments_test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

var (
	sweep = flag.String("sweep", "10,25,50,100", "peer counts BenchmarkStar sweeps, comma-separated")
	grow  = flag.Bool("grow", false, "BenchmarkStar grows one mesh through the sweep instead of starting a fresh mesh per size")
)

// Headline figures of a star: what people compare between runs and
// versions of a node. Per-connection figures subtract an average peer (which
// holds one connection) from the bootstrap (which holds n).
const (
	figBytesPerConn      = "bootstrap_bytes_per_conn"
	figGoroutinesPerConn = "bootstrap_goroutines_per_conn"
	figCPUPerConn        = "bootstrap_cpu_per_conn" // CPU-seconds per second per connection
	figPeerMem           = "peer_mem_bytes"
	figBringUp           = "bring_up_s"
)

func headline(rec *meshtest.Recording) map[string]float64 {
	return map[string]float64{
		figBytesPerConn:      rec.PerConnection(meshtest.FigMemBytes),
		figGoroutinesPerConn: rec.PerConnection(meshtest.FigGoroutines),
		figCPUPerConn:        rec.PerConnection(meshtest.FigCPUCores),
		figPeerMem:           rec.Role("peer").Mean(meshtest.FigMemBytes),
		figBringUp:           rec.BringUp.Seconds(),
	}
}

// sweepRuns keeps every run of BenchmarkStar in this process, by peer count,
// so that repeated runs (-count) can report how noisy each figure was.
var sweepRuns = struct {
	sync.Mutex
	byN map[int][]map[string]float64
	raw map[int][]rawPoint
}{byN: map[int][]map[string]float64{}, raw: map[int][]rawPoint{}}

// rawPoint is a run's absolute bootstrap cost, for the fit against n.
type rawPoint struct{ mem, goroutines float64 }

// BenchmarkStar measures a star at each size of -sweep, a fresh mesh per
// size, and reports per-connection figures benchstat can compare
// (`benchstat -col /peers old.txt new.txt`). It also fits the bootstrap's
// memory and goroutines against n over the sweep and writes the fit as a
// chart and JSON.
func BenchmarkStar(b *testing.B) {
	ns, err := parseSweep(*sweep)
	if err != nil {
		b.Fatalf("-sweep: %v", err)
	}
	cfg, err := flags.Config("bench-star")
	if err != nil {
		b.Fatalf("flags: %v", err)
	}
	meshtest.RequireDocker(b)
	begin := time.Now()
	var mesh *meshtest.Mesh // with -grow: one mesh, grown at each size
	if *grow {
		c := cfg
		c.Peers = ns[0]
		mesh = meshtest.New(b, c)
	}
	for _, n := range ns {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			c := cfg
			c.Peers = n
			for i := 0; i < b.N; i++ {
				m := mesh
				if m == nil {
					m = meshtest.New(b, c)
				} else if len(m.Nodes) < n+1 {
					m.Grow(b, topology.Star(n))
				}
				rec := m.Record(b, flags.Duration)
				rec.WriteArtifacts(b)
				if mesh == nil {
					m.Close()
				}
				h := headline(rec)
				sweepRuns.Lock()
				sweepRuns.byN[n] = append(sweepRuns.byN[n], h)
				sweepRuns.raw[n] = append(sweepRuns.raw[n], rawPoint{
					rec.Role("bootstrap").Mean(meshtest.FigMemBytes),
					rec.Role("bootstrap").Mean(meshtest.FigGoroutines),
				})
				sweepRuns.Unlock()
				b.ReportMetric(h[figBytesPerConn], "B/conn")
				b.ReportMetric(h[figGoroutinesPerConn], "goroutines/conn")
				b.ReportMetric(h[figCPUPerConn], "cpu-s/conn/s")
				b.ReportMetric(h[figPeerMem], "B/peer")
				// With -grow, the time to start this size's new peers only.
				b.ReportMetric(h[figBringUp], "s/bringup")
			}
		})
	}
	mode := "a fresh mesh per size"
	if *grow {
		mode = "one mesh grown through the sizes"
	}
	b.Logf("sweep of %v took %.0f s (%s)", ns, time.Since(begin).Seconds(), mode)
	writeSweep(b, cfg)
}

func parseSweep(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > meshtest.MaxNodes-1 {
			return nil, fmt.Errorf("%q: want peer counts between 1 and %d, e.g. -sweep=10,25,50,100", f, meshtest.MaxNodes-1)
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return slices.Compact(ns), nil
}

func writeSweep(b *testing.B, cfg meshtest.Config) {
	sweepRuns.Lock()
	defer sweepRuns.Unlock()
	s := meshtest.NewSweepSummary("BenchmarkStar", cfg)
	s.Sweep.Mode = "a fresh mesh per size"
	if *grow {
		s.Sweep.Mode = "one mesh grown through the sizes"
	}
	var xs, mem, gor []float64
	for n, runs := range sweepRuns.byN {
		figs := map[string]summary.SweepFigure{}
		for _, fu := range figureUnits {
			var vs []float64
			for _, r := range runs {
				vs = append(vs, r[fu.name])
			}
			sum := series.Describe(vs)
			figs[fu.name] = summary.SweepFigure{Mean: sum.Mean, CV: sum.CV(), Runs: sum.N}
			if fu.gated && sum.N > 1 {
				s.Sweep.Noise = max(s.Sweep.Noise, sum.CV())
			}
		}
		s.Sweep.Sizes[fmt.Sprintf("peers=%d", n)] = figs
		for _, p := range sweepRuns.raw[n] {
			xs, mem, gor = append(xs, float64(n)), append(mem, p.mem), append(gor, p.goroutines)
		}
	}
	files := map[string][]byte{}
	for _, f := range []struct {
		name, label string
		ys          []float64
		unit        chart.Unit
	}{{"bootstrap_mem_bytes", "bootstrap memory", mem, chart.Bytes}, {"bootstrap_goroutines", "bootstrap goroutines", gor, chart.Count}} {
		line, err := series.Fit(xs, f.ys)
		if err != nil {
			b.Logf("fit %s against n: %v (a sweep needs two sizes)", f.name, err)
			continue
		}
		s.Sweep.Fits[f.name] = line
		b.Logf("%s = %s", f.name, line)
		c := chart.ScatterFit{Title: f.label + " against peers, star", XLabel: "peers (n)", YLabel: f.label, YUnit: f.unit,
			PointsName: "runs", Fit: &chart.FitLine{Slope: line.Slope, Intercept: line.Intercept, R2: line.R2}}
		for i := range xs {
			c.Points = append(c.Points, chart.Point{X: xs[i], Y: f.ys[i]})
		}
		rendered, err := chart.Files("sweep-"+f.name, c)
		if err != nil {
			b.Errorf("chart %s: %v", f.name, err)
		}
		maps.Copy(files, rendered)
	}
	dirs := []string{b.ArtifactDir()}
	if flags.Results != "" {
		dirs = append(dirs, filepath.Join(flags.Results, "BenchmarkStar"))
	}
	for _, dir := range dirs {
		os.MkdirAll(dir, 0o755)
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				b.Errorf("write %s: %v", name, err)
			}
		}
		s.Charts = slices.Sorted(maps.Keys(files))
		if err := s.Write(filepath.Join(dir, "summary.json")); err != nil {
			b.Errorf("write summary.json: %v", err)
		}
	}
	b.Logf("sweep fit and figures in %s", dirs[len(dirs)-1])
}
