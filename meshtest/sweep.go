package meshtest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// Metric is one headline figure of a run: what a benchmark reports, a
// sweep fits and a regression gate compares.
type Metric struct {
	Name  string // "bootstrap_bytes_per_conn": its key in summaries and baselines
	Unit  string // as b.ReportMetric takes it: "B/conn"
	Gated bool   // whether a regression gate may fail on it
	Of    func(*Recording) float64
}

// StarMetrics are the headline figures of a star, the ones BenchmarkStar
// reports and TestRegression gates. Per-connection figures are
// Recording.PerConnection. CPU per connection of an idle node is a few
// milliseconds a second, mostly timer wake-ups: too noisy to gate, shown
// for people. Bring-up is the engine's speed, not the node's: not gated.
func StarMetrics() []Metric {
	return []Metric{
		{"bootstrap_bytes_per_conn", "B/conn", true, func(r *Recording) float64 { return r.PerConnection(FigMemBytes) }},
		{"bootstrap_goroutines_per_conn", "goroutines/conn", true, func(r *Recording) float64 { return r.PerConnection(FigGoroutines) }},
		{"bootstrap_cpu_per_conn", "cpu-s/conn/s", false, func(r *Recording) float64 { return r.PerConnection(FigCPUCores) }},
		{"peer_mem_bytes", "B/peer", true, func(r *Recording) float64 { return r.Role("peer").Mean(FigMemBytes) }},
		// With Sweep.Grow, the time to start that size's new peers only.
		{"bring_up_s", "s/bringup", false, func(r *Recording) float64 { return r.BringUp.Seconds() }},
	}
}

// Sweep measures a star at several sizes and fits the bootstrap's cost
// against n: the loop, the reporting and the fit of an n-sweep, for any
// benchmark. Keep one Sweep per benchmark function in a package variable:
// with -count, `go test` calls the benchmark once per count, and the Sweep
// gathers every run, so the summary reports each figure's noise.
//
//	var starSweep = meshtest.Sweep{Sizes: []int{10, 25, 50}, Duration: 15 * time.Second}
//
//	func BenchmarkStar(b *testing.B) { starSweep.Run(b, meshtest.Config{Name: "star"}) }
type Sweep struct {
	Sizes    []int         // peer counts
	Duration time.Duration // sampling window at each size; default 15 s
	// Grow grows one mesh through the sizes instead of starting a fresh
	// one per size: fewer containers, but older peers at the larger sizes.
	Grow bool
	// Metrics are reported at each size (b.ReportMetric); default
	// StarMetrics().
	Metrics []Metric
	// Fit names figures whose bootstrap mean is fitted against n over every
	// run, as "bootstrap_<figure>"; default memory and goroutines.
	Fit []string

	mu   sync.Mutex
	runs map[int][]sweepRun
	info backend.Info
}

type sweepRun struct {
	metrics map[string]float64
	fit     map[string]float64 // figure -> the bootstrap's mean
}

// Run runs every size as a sub-benchmark named peers=N (so `benchstat -col
// /peers` groups them), reports the metrics of each, then writes the sweep's
// summary.json and fit charts (sweep-bootstrap_<figure>.png|svg) to
// b.ArtifactDir() and to cfg.ResultsDir/<benchmark name>/.
func (s *Sweep) Run(b *testing.B, cfg Config) {
	b.Helper()
	if len(s.Sizes) == 0 {
		b.Fatalf("meshtest: Sweep.Sizes is empty: give it the peer counts to measure, e.g. []int{10, 25, 50, 100}")
	}
	sizes := slices.Sorted(slices.Values(s.Sizes))
	d := s.Duration
	if d == 0 {
		d = 15 * time.Second
	}
	begin := time.Now()
	var grown *Mesh
	if s.Grow {
		c := cfg
		c.Peers = sizes[0]
		grown = New(b, c)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			c := cfg
			c.Peers = n
			for i := 0; i < b.N; i++ {
				m := grown
				if m == nil {
					m = New(b, c)
				} else if len(m.Nodes) < n+1 {
					m.Grow(b, topology.Star(n))
				}
				rec := m.Record(b, d)
				rec.WriteArtifacts(b)
				if grown == nil {
					m.Close()
				}
				s.add(n, rec)
				for _, mt := range s.metrics() {
					b.ReportMetric(mt.Of(rec), mt.Unit)
				}
			}
		})
	}
	b.Logf("meshtest: sweep of %v took %.0f s (%s)", sizes, time.Since(begin).Seconds(), s.mode())
	s.write(b, cfg)
}

func (s *Sweep) metrics() []Metric {
	if s.Metrics == nil {
		return StarMetrics()
	}
	return s.Metrics
}

func (s *Sweep) fitFigures() []string {
	if s.Fit == nil {
		return []string{FigMemBytes, FigGoroutines}
	}
	return s.Fit
}

func (s *Sweep) mode() string {
	if s.Grow {
		return "one mesh grown through the sizes"
	}
	return "a fresh mesh per size"
}

func (s *Sweep) add(n int, rec *Recording) {
	run := sweepRun{metrics: map[string]float64{}, fit: map[string]float64{}}
	for _, mt := range s.metrics() {
		run.metrics[mt.Name] = mt.Of(rec)
	}
	for _, f := range s.fitFigures() {
		run.fit[f] = rec.Role("bootstrap").Mean(f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == nil {
		s.runs = map[int][]sweepRun{}
	}
	s.runs[n] = append(s.runs[n], run)
	s.info = rec.Mesh.environment().engine
}

// Summary is the sweep so far: every metric's mean and noise at each size,
// and the fits against n.
func (s *Sweep) Summary(experiment string, cfg Config) (*summary.File, map[string]chart.ScatterFit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := newSweepSummary(experiment, cfg)
	sum.Backend = s.info
	sum.Sweep.Mode = s.mode()
	xs := map[string][]float64{}
	ys := map[string][]float64{}
	for _, n := range slices.Sorted(maps.Keys(s.runs)) {
		runs := s.runs[n]
		figs := map[string]summary.SweepFigure{}
		for _, mt := range s.metrics() {
			var vs []float64
			for _, r := range runs {
				vs = append(vs, r.metrics[mt.Name])
			}
			st := series.Describe(vs)
			figs[mt.Name] = summary.SweepFigure{Mean: st.Mean, CV: st.CV(), Runs: st.N}
			if mt.Gated && st.N > 1 {
				sum.Sweep.Noise = max(sum.Sweep.Noise, st.CV())
			}
		}
		sum.Sweep.Sizes[fmt.Sprintf("peers=%d", n)] = figs
		for _, r := range runs {
			for f, v := range r.fit {
				xs[f], ys[f] = append(xs[f], float64(n)), append(ys[f], v)
			}
		}
	}
	charts := map[string]chart.ScatterFit{}
	for _, f := range s.fitFigures() {
		line, err := series.Fit(xs[f], ys[f])
		if err != nil {
			continue // fewer than two sizes: nothing to fit
		}
		name := "bootstrap_" + f
		sum.Sweep.Fits[name] = line
		unit := chart.Count
		if f == FigMemBytes || f == FigMemRSS || f == FigHeapInuse || f == FigRSS {
			unit = chart.Bytes
		}
		c := chart.ScatterFit{Title: "bootstrap " + f + " against peers", XLabel: "peers (n)", YLabel: "bootstrap " + f, YUnit: unit,
			PointsName: "runs", Fit: &chart.FitLine{Slope: line.Slope, Intercept: line.Intercept, R2: line.R2}}
		for i := range xs[f] {
			c.Points = append(c.Points, chart.Point{X: xs[f][i], Y: ys[f][i]})
		}
		charts[name] = c
	}
	return sum, charts
}

func (s *Sweep) write(b *testing.B, cfg Config) {
	sum, charts := s.Summary(b.Name(), cfg)
	files := map[string][]byte{}
	for _, name := range slices.Sorted(maps.Keys(charts)) {
		b.Logf("meshtest: %s = %s", name, sum.Sweep.Fits[name])
		rendered, err := chart.Files("sweep-"+name, charts[name])
		if err != nil {
			b.Errorf("meshtest: chart %s: %v", name, err)
		}
		maps.Copy(files, rendered)
	}
	sum.Charts = slices.Sorted(maps.Keys(files))
	data, err := sum.Marshal()
	if err != nil {
		b.Errorf("meshtest: %v", err)
		return
	}
	files["summary.json"] = data
	dirs := artifactDirs(b, cfg.ResultsDir)
	for _, dir := range dirs {
		if err := writeFiles(dir, files); err != nil {
			b.Errorf("meshtest: write sweep to %s: %v", dir, err)
		}
	}
	b.Logf("meshtest: sweep fit and figures in %s", joinDirs(dirs))
}
