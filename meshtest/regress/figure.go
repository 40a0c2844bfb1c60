package regress

import (
	"math"

	"github.com/meshtest/meshtest/meshtest/series"
)

// Figure is one headline number of an experiment, such as
// "bootstrap_bytes_per_conn" in "B/conn": the mean over N repeated runs and
// how much those runs disagreed.
type Figure struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"` // as in b.ReportMetric: "B/conn", "goroutines/conn", "s"
	Value float64 `json:"value"`
	// CV is the coefficient of variation (sample stddev / |mean|) measured
	// over repeated runs, 0 if unknown (one run). It widens the band a
	// figure may move in before it counts as a regression.
	CV float64 `json:"cv"`
	N  int     `json:"n"` // runs Value is the mean of
	// HigherIsWorse says which way is a regression. Every cost figure is
	// higher-is-worse; a throughput would not be.
	HigherIsWorse bool `json:"higher_is_worse"`
	// Gate says whether the figure can fail a comparison. Figures that
	// depend on the machine more than on the node, such as "bring_up_s"
	// (Docker's container start time), are recorded and shown but not
	// gated. A Figure literal must set it; [FromRuns] sets it to true.
	Gate bool `json:"gate"`
}

// FromRuns returns the figure name measured once per run in values: their
// mean, their coefficient of variation (sample stddev / |mean|, 0 for a
// single run) and their count. NaN values are skipped, as in
// [series.Describe], because a run that failed to produce the figure
// is not a measurement of zero; with no values left, Value is NaN and
// [Set.Write] refuses the figure.
//
// The figure is a gated cost (HigherIsWorse and Gate true), which is what
// every headline figure is; change the fields of the result for the
// exceptions:
//
//	up := regress.FromRuns("bring_up_s", bringUps, "s")
//	up.Gate = false // Docker's start time on this machine, not the node's cost
func FromRuns(name string, values []float64, unit string) Figure {
	s := series.Describe(values)
	f := Figure{Name: name, Unit: unit, Value: s.Mean, CV: s.CV(), N: s.N, HigherIsWorse: true, Gate: true}
	if s.N == 0 {
		f.Value = math.NaN()
	}
	return f
}
