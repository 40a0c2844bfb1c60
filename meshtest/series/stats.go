package series

import (
	"math"
	"slices"
)

// Stats describes a set of values. The zero Stats (N == 0) describes an
// empty set: every field is zero rather than NaN, so it can be printed and
// encoded as JSON; check N before trusting the other fields.
type Stats struct {
	N      int     `json:"n"`    // number of values summarized (NaN values are not counted)
	Mean   float64 `json:"mean"` // arithmetic mean
	Min    float64 `json:"min"`
	P50    float64 `json:"p50"` // median
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
	Stddev float64 `json:"stddev"` // sample standard deviation (divides by N-1); 0 when N < 2
}

// Describe returns the summary of xs. NaN values are skipped, because a
// figure a node failed to report is recorded as NaN rather than as a
// made-up number. Percentiles use [Percentile]. xs is not modified.
func Describe(xs []float64) Stats {
	sorted := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			sorted = append(sorted, x)
		}
	}
	if len(sorted) == 0 {
		return Stats{}
	}
	slices.Sort(sorted)

	var sum float64
	for _, x := range sorted {
		sum += x
	}
	n := float64(len(sorted))
	mean := sum / n

	var stddev float64
	if len(sorted) > 1 {
		var ss float64
		for _, x := range sorted {
			ss += (x - mean) * (x - mean)
		}
		stddev = math.Sqrt(ss / (n - 1))
	}

	return Stats{
		N:      len(sorted),
		Mean:   mean,
		Min:    sorted[0],
		P50:    percentileSorted(sorted, 50),
		P95:    percentileSorted(sorted, 95),
		Max:    sorted[len(sorted)-1],
		Stddev: stddev,
	}
}

// CV returns the coefficient of variation, Stddev/|Mean|: a unit-free
// measure of how far values stray from their mean, so peers' memory and
// peers' goroutines can be held to the same bound. It is 0 when all values
// are equal (including an empty summary) and +Inf when the mean is 0 but
// the values are not all equal.
func (s Stats) CV() float64 {
	if s.Stddev == 0 {
		return 0
	}
	if s.Mean == 0 {
		return math.Inf(1)
	}
	return s.Stddev / math.Abs(s.Mean)
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of xs, skipping NaN
// values. It interpolates linearly between the closest ranks: the value at
// rank h = (N-1)·p/100 of the sorted values, where a fractional h lies
// between its neighbours in proportion (the method of NumPy's default,
// Excel's PERCENTILE.INC and R's type 7). So P50 of {1, 2, 3, 4} is 2.5 and
// P95 of {1, …, 10} is 9.55. It returns 0 for an empty input and clamps p
// to [0, 100].
func Percentile(xs []float64, p float64) float64 {
	sorted := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			sorted = append(sorted, x)
		}
	}
	if len(sorted) == 0 {
		return 0
	}
	slices.Sort(sorted)
	return percentileSorted(sorted, p)
}

// percentileSorted is Percentile on sorted, NaN-free, non-empty values.
func percentileSorted(sorted []float64, p float64) float64 {
	p = min(max(p, 0), 100)
	h := float64(len(sorted)-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := h - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}
