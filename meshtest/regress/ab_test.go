package regress

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMannWhitneyP(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		// The most lopsided of C(10, 5) = 252 arrangements, either way.
		{"5 below 5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 2.0 / 252},
		{"5 above 5", []float64{10, 9, 8, 7, 6}, []float64{5, 4, 3, 2, 1}, 2.0 / 252},
		{"4 below 4", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 2.0 / 70},
		{"3 below 3: the floor", []float64{1, 2, 3}, []float64{100, 200, 300}, 0.1},
		{"identical", []float64{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}, 1},
		{"all equal", []float64{7, 7, 7}, []float64{7, 7, 7, 7}, 1},
		// U = 3 of 9; P(U ≤ 3) = (1+1+2+3)/20. R: wilcox.test(c(1,3,5), c(2,4,6)) gives p = 0.7.
		{"interleaved", []float64{1, 3, 5}, []float64{2, 4, 6}, 0.7},
		// Exact with ties: of the C(8, 4) = 70 splits of the mid-ranks
		// {1, 3, 3, 3, 6, 6, 6, 8}, 10 give a rank sum ≤ 13 (x's) and 10 one
		// ≥ 23, so p = 20/70, counted by enumerating all 70.
		{"ties", []float64{1, 2, 2, 3}, []float64{2, 3, 3, 4}, 20.0 / 70},
		// The normal approximation says 0.047 here (see TestNormalP); the
		// exact count keeps 3 runs a side at the floor of 0.1.
		{"ties at the floor", []float64{1, 1, 1}, []float64{2, 2, 2}, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, mannWhitneyP(tt.x, tt.y), 1e-12)
		})
	}
}

func TestNormalP(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		// R: wilcox.test(c(1,2,2,3), c(2,3,3,4)) falls back to the normal
		// approximation for the ties: W = 3, p-value = 0.172. By hand: μ = 8,
		// σ² = 16/12 · (9 − 48/56) = 10.857, z = (5 − 0.5)/3.2950 = 1.3657,
		// p = 2 · (1 − Φ(1.3657)) = 0.17203.
		{"ties, as R", []float64{1, 2, 2, 3}, []float64{2, 3, 3, 4}, 0.17203},
		// μ = 4.5, σ² = 9/12 · (7 − 48/30) = 4.05, z = (4.5 − 0.5)/2.0125 = 1.9876.
		{"three tied groups of 3", []float64{1, 1, 1}, []float64{2, 2, 2}, 0.04685},
		{"all equal", []float64{7, 7}, []float64{7, 7}, 1},
		{"centred", []float64{1, 4}, []float64{2, 3}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, rankSum(tt.x, tt.y).normalP(), 5e-5)
		})
	}
}

// Beyond exactLimit the approximation takes over; at the limit the two
// must already agree, or the switch would show as a jump in p.
func TestNormalPNearExact(t *testing.T) {
	var x, y []float64
	for i := range exactLimit {
		x = append(x, float64(3*i))
		y = append(y, float64(3*i+4)) // interleaved, shifted by a little more than one step
	}
	r := rankSum(x, y)
	exact, normal := r.exactP(), r.normalP()
	assert.InDelta(t, exact, normal, 0.005, "exact %.4f, normal %.4f", exact, normal)
	assert.Less(t, exact, 0.9)

	x, y = append(x, 1000), append(y, 1004)
	assert.Equal(t, rankSum(x, y).normalP(), mannWhitneyP(x, y), "more than exactLimit runs use the normal approximation")
}

func TestMinP(t *testing.T) {
	tests := []struct {
		n, m int
		want float64
	}{
		{2, 2, 1.0 / 3},
		{3, 3, 0.1},
		{3, 4, 2.0 / 35}, // still ≥ 0.05: one more run on one side is not enough
		{4, 4, 2.0 / 70},
		{5, 5, 2.0 / 252},
		{1, 1, 1},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, minP(tt.n, tt.m), 1e-12, "minP(%d, %d)", tt.n, tt.m)
	}
}

func TestCompareAB(t *testing.T) {
	base := []float64{100, 101, 99, 100.5, 99.5}
	up20 := []float64{120, 121, 119, 120.5, 119.5}
	steady := []float64{100, 100.2, 99.8, 100.1, 99.9}
	up2 := []float64{102, 102.2, 101.8, 102.1, 101.9}
	fig := func(base, head []float64, higherIsWorse, gate bool) ABFigure {
		return ABFigure{Name: "bytes_per_conn", Unit: "B/conn", Base: base, Head: head, HigherIsWorse: higherIsWorse, Gate: gate}
	}
	tests := []struct {
		name      string
		fig       ABFigure
		opts      ABOptions
		verdict   string
		failed    bool
		p         float64 // checked when not 0
		noneFound bool    // MinDetectable is +Inf
	}{
		{name: "20 % worse, 5 runs", fig: fig(base, up20, true, true), verdict: ABRegression, failed: true, p: 2.0 / 252},
		{name: "20 % rise of a lower-is-worse figure", fig: fig(base, up20, false, true), verdict: ABImprovement},
		{name: "20 % drop of a lower-is-worse figure", fig: fig(up20, base, false, true), verdict: ABRegression, failed: true},
		{name: "20 % drop of a cost", fig: fig(up20, base, true, true), verdict: ABImprovement},
		{name: "2 % shift, significant", fig: fig(steady, up2, true, true), verdict: ABSmall, p: 2.0 / 252},
		{
			name:    "overlapping noise",
			fig:     fig([]float64{100, 110, 90, 105, 95}, []float64{102, 108, 93, 99, 104}, true, true),
			verdict: ABNoChange,
		},
		{
			// A doubling that 3 runs a side cannot call significant.
			name:    "3 runs, huge change",
			fig:     fig([]float64{100, 101, 99}, []float64{200, 201, 199}, true, true),
			verdict: ABNoChange, p: 0.1, noneFound: true,
		},
		{name: "4 runs suffice", fig: fig(base[:4], up20[:4], true, true), verdict: ABRegression, failed: true, p: 2.0 / 70},
		{name: "ungated regression", fig: fig(base, up20, true, false), verdict: ABRegression},
		{name: "threshold above the change", fig: fig(base, up20, true, true), opts: ABOptions{Threshold: 0.25}, verdict: ABSmall},
		{
			name: "alpha below the floor", fig: fig(base, up20, true, true), opts: ABOptions{Alpha: 0.005},
			verdict: ABNoChange, noneFound: true,
		},
		{name: "one run", fig: fig(base[:1], up20, true, true), verdict: ABTooFew, noneFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CompareAB([]ABFigure{tt.fig}, tt.opts)
			row := r.Rows[0]
			assert.Equal(t, tt.verdict, row.Verdict, "verdict")
			assert.Equal(t, tt.failed, row.Failed(), "row Failed()")
			assert.Equal(t, tt.failed, r.Failed(), "report Failed()")
			if tt.p != 0 {
				assert.InDelta(t, tt.p, row.P, 1e-12, "p")
			}
			assert.Equal(t, tt.noneFound, math.IsInf(row.MinDetectable, 1), "MinDetectable %v", row.MinDetectable)
		})
	}
}

func TestCompareABRow(t *testing.T) {
	nan := math.NaN()
	r := CompareAB([]ABFigure{
		{Name: "a", Unit: "s", Base: []float64{10, nan, 11, 9}, Head: []float64{12, 11, 13, nan, nan}},
		{Name: "gone", Unit: "s", Base: []float64{10, 11}, Head: []float64{nan, nan}},
		{Name: "from zero", Base: []float64{0, 0, 0}, Head: []float64{1, 1, 1}},
	}, ABOptions{})

	a := r.Rows[0]
	assert.Equal(t, 3, a.NBase, "NaN runs are skipped")
	assert.Equal(t, 3, a.NHead)
	assert.Equal(t, 10.0, a.Base, "median")
	assert.Equal(t, 12.0, a.Head)
	assert.InDelta(t, 1.2, a.Ratio, 1e-12)

	gone := r.Rows[1]
	assert.Equal(t, ABTooFew, gone.Verdict)
	assert.True(t, math.IsNaN(gone.Head) && math.IsNaN(gone.Ratio) && math.IsNaN(gone.P), "%+v", gone)

	zero := r.Rows[2]
	assert.True(t, math.IsNaN(zero.Ratio) && math.IsNaN(zero.Lo) && math.IsNaN(zero.Hi), "%+v", zero)

	assert.Equal(t, ABOptions{Alpha: 0.05, Threshold: 0.05, Resamples: 10000, Seed: 1}, r.Options, "defaults")
}

func TestCompareABInterval(t *testing.T) {
	// Medians exactly 100 and 120, spread symmetric: the ratio is 1.2.
	fig := ABFigure{
		Name: "mem", Unit: "B", Gate: true, HigherIsWorse: true,
		Base: []float64{96, 104, 98, 102, 100, 99, 101, 97, 103, 100},
		Head: []float64{115, 125, 118, 122, 120, 119, 121, 116, 124, 120},
	}
	first := CompareAB([]ABFigure{fig}, ABOptions{}).Rows[0]
	assert.InDelta(t, 1.2, first.Ratio, 1e-12)
	assert.Less(t, first.Lo, 1.2)
	assert.Greater(t, first.Hi, 1.2)
	// A bootstrap interval of ratios of medians this tight would be wrong;
	// one wider than the spread of the runs would be too.
	assert.Greater(t, first.Hi-first.Lo, 0.005)
	assert.Less(t, first.Hi-first.Lo, 0.1)

	again := CompareAB([]ABFigure{{Name: "other", Base: []float64{1, 2}, Head: []float64{3, 4}}, fig}, ABOptions{}).Rows[1]
	assert.Equal(t, first.Lo, again.Lo, "same seed, same interval, whatever comes before")
	assert.Equal(t, first.Hi, again.Hi)

	reseeded := CompareAB([]ABFigure{fig}, ABOptions{Seed: 2}).Rows[0]
	assert.NotEqual(t, [2]float64{first.Lo, first.Hi}, [2]float64{reseeded.Lo, reseeded.Hi}, "the seed is used")
}

func TestMinDetectable(t *testing.T) {
	// For 5 runs a side at alpha 0.05: (1.95996 + 0.84162) · √(2/5) / √(3/π).
	const factor = 1.81321
	base := []float64{98, 99, 100, 101, 102}
	head := []float64{98, 99, 100, 101, 102} // the same CV
	cv := math.Sqrt(2.5) / 100
	row := CompareAB([]ABFigure{{Name: "x", Base: base, Head: head}}, ABOptions{}).Rows[0]
	assert.InDelta(t, factor*cv, row.MinDetectable, 1e-5)

	// Four times the runs, half the smallest detectable change.
	var base20, head20 []float64
	for range 4 {
		base20, head20 = append(base20, base...), append(head20, head...)
	}
	row20 := CompareAB([]ABFigure{{Name: "x", Base: base20, Head: head20}}, ABOptions{}).Rows[0]
	assert.InDelta(t, row.MinDetectable/2, row20.MinDetectable, 0.1*row.MinDetectable, "20 runs")
}

// abSample is one regression, one change lost in the noise and one ungated
// figure, compared between two named sides.
func abSample() ABReport {
	r := CompareAB([]ABFigure{
		{Name: "bytes_per_conn", Unit: "B/conn", Gate: true, HigherIsWorse: true,
			Base: []float64{14100, 14200, 14000, 14150, 14050}, Head: []float64{17300, 17500, 17400, 17350, 17450}},
		{Name: "goroutines_per_conn", Unit: "goroutines/conn", Gate: true, HigherIsWorse: true,
			Base: []float64{2.0, 2.2, 1.9, 2.1, 2.0}, Head: []float64{2.1, 2.0, 2.2, 1.9, 2.05}},
		{Name: "bring_up_s", Unit: "s", HigherIsWorse: true,
			Base: []float64{4.1, 4.2, 4.0, 4.3, 4.2}, Head: []float64{9.0, 9.1, 9.3, 8.9, 9.2}},
	}, ABOptions{})
	r.BaseName, r.HeadName = "main", "pr-7"
	return r
}

func TestABReportMarkdown(t *testing.T) {
	md := abSample().Markdown()
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")

	assert.True(t, strings.HasPrefix(lines[0], "❌ pr-7 against main: regression: bytes_per_conn (+23.4 %, p=0.008)"), lines[0])
	assert.Contains(t, lines[0], "1 of 2 gated figures without a significant change")
	assert.Equal(t, "| figure | base | head | ratio | 95 % interval | p | runs | smallest detectable | verdict |", lines[2])
	assert.Len(t, lines, 4+3, "verdict, blank, header, rule, one line per figure")
	assert.Contains(t, lines[4], "| **regression** |")
	assert.Contains(t, lines[5], "| no significant change |")
	assert.Contains(t, lines[6], "| regression (not gated) |")
	assert.Contains(t, lines[4], "| 5/5 |")
}

func TestABReportText(t *testing.T) {
	r := abSample()
	lines := strings.Split(strings.TrimSuffix(r.Text(), "\n"), "\n")

	assert.Len(t, lines, 1+len(r.Rows)+1, "header, one line per figure, verdict")
	assert.True(t, strings.HasPrefix(lines[0], "figure "), lines[0])
	for i, row := range r.Rows {
		assert.True(t, strings.HasPrefix(lines[1+i], row.Figure+" "), lines[1+i])
	}
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "pr-7 against main: regression: "), lines[len(lines)-1])

	r.Rows = r.Rows[1:2]
	r.BaseName, r.HeadName = "", ""
	assert.Equal(t, "no significant regression; 1 of 1 gated figures without a significant change",
		r.summaryLine(false), "no change is not called a pass")
}

func TestABReportNoneDetectable(t *testing.T) {
	r := CompareAB([]ABFigure{{Name: "x", Unit: "s", Gate: true, Base: []float64{1, 1.1, 0.9}, Head: []float64{2, 2.1, 1.9}}}, ABOptions{})
	assert.Contains(t, r.Text(), "none at these runs")
	assert.Contains(t, r.Markdown(), "| none at these runs |")
}
