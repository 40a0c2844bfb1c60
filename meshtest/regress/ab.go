package regress

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/meshtest/meshtest/meshtest/series"
)

// ABFigure is one figure measured on both sides of an A/B comparison, one
// value per run. Base and head are meant to be measured on the same machine,
// interleaved (base, head, base, head, …), so that drift of the machine
// lands on both sides instead of looking like a change.
type ABFigure struct {
	Name, Unit    string
	Base, Head    []float64 // one value per run; NaN (a run that did not produce the figure) is skipped
	HigherIsWorse bool
	Gate          bool // false: shown, never fails
}

// ABOptions set how [CompareAB] decides. The zero value is the default.
type ABOptions struct {
	// Alpha is the significance level: a change counts only if a change
	// at least as large would arise by chance with probability below it.
	// Outside (0, 1) means 0.05, benchstat's default.
	Alpha float64
	// Threshold is the smallest relative change that matters: a
	// significant change below it is [ABSmall], not a regression. ≤ 0
	// means 0.05 (5 %).
	Threshold float64
	// Resamples is the number of bootstrap resamples behind the interval
	// of the ratio. ≤ 0 means 10000.
	Resamples int
	// Seed seeds the bootstrap (a math/rand/v2 PCG), so that the same runs
	// give the same report. 0 means 1.
	Seed uint64
}

func (o ABOptions) withDefaults() ABOptions {
	if !(o.Alpha > 0 && o.Alpha < 1) { // also catches NaN
		o.Alpha = 0.05
	}
	if !(o.Threshold > 0) {
		o.Threshold = 0.05
	}
	if o.Resamples <= 0 {
		o.Resamples = 10000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Verdicts of an [ABRow]. Only ABRegression can fail a report. A change that
// is not significant is ABNoChange whatever its size, and says nothing
// either way: read it together with MinDetectable.
const (
	ABRegression  = "regression"                    // significant, and worse by at least the threshold
	ABImprovement = "improvement"                   // significant, and better by at least the threshold
	ABSmall       = "significant, within threshold" // significant, but smaller than the threshold
	ABNoChange    = "no significant change"         // p ≥ alpha
	ABTooFew      = "too few runs"                  // fewer than 2 values on a side: no test at all
)

// ABRow is one figure's A/B comparison. Values that cannot be computed
// are NaN.
type ABRow struct {
	Figure, Unit string
	NBase, NHead int     // values used, NaN skipped
	Base, Head   float64 // medians
	Ratio        float64 // Head / Base medians; NaN if the base median is 0
	// Lo and Hi bound the 1−alpha (95 % by default) bootstrap percentile
	// interval of the ratio of medians.
	Lo, Hi float64
	P      float64 // two-sided Mann–Whitney U p-value
	// MinDetectable is the smallest relative change (0.031 for 3.1 %) this
	// comparison could have detected, at this noise and these run counts;
	// +Inf when these run counts cannot give p < alpha at all. See
	// [CompareAB].
	MinDetectable float64
	Verdict       string
	Gate          bool
	HigherIsWorse bool
}

// Failed reports whether the row fails the report: a gated, significant
// regression beyond the threshold.
func (r ABRow) Failed() bool {
	return r.Gate && r.Verdict == ABRegression
}

// ABReport is the outcome of [CompareAB].
type ABReport struct {
	Rows    []ABRow   // in the order of the figures given
	Options ABOptions // as used, defaults filled in
	// BaseName and HeadName name the two sides ("main", "pr-123") in
	// [ABReport.Text] and [ABReport.Markdown]; the caller sets them.
	BaseName, HeadName string
}

// Failed reports whether any gated figure regressed significantly.
func (r ABReport) Failed() bool {
	return slices.ContainsFunc(r.Rows, ABRow.Failed)
}

// CompareAB compares head against base figure by figure, as benchstat does:
// medians, a Mann–Whitney U test and a bootstrap interval, so that a
// regression is a change both larger than Threshold and unlikely to be
// noise.
//
// The test ranks the runs and asks how likely an arrangement of the ranks
// at least as lopsided is when base and head are the same; it assumes
// nothing of the shape of the noise, which for timings on a shared machine
// is rarely normal. Its price is a floor on p: with n runs on each side
// the most lopsided arrangement has p = 2/C(2n, n), 0.1 for 3 runs, 0.029
// for 4 and 0.0079 for 5. So with fewer than 4 runs per side nothing can
// be significant at 0.05, however large the change, and such a row says
// [ABNoChange] with MinDetectable +Inf rather than pass.
//
// MinDetectable answers "would this comparison have caught a regression?"
// from the normal approximation of the test: a shift of the head by
// delta (relative) is detected with 80 % power at two-sided level Alpha when
//
//	delta = (z(1−Alpha/2) + z(0.8)) · cv · √(1/nBase + 1/nHead) / √(3/π)
//
// where cv is the pooled coefficient of variation of the two sides (their
// CVs squared, weighted by their degrees of freedom) and 3/π is the
// asymptotic efficiency of the U test relative to the t-test on normal
// data: it needs π/3 times the runs, so it sees √(π/3) times coarser. For
// 5 runs a side at Alpha 0.05 that is 1.81 · cv. When the floor on p is not
// below Alpha, MinDetectable is +Inf.
func CompareAB(figs []ABFigure, opts ABOptions) ABReport {
	opts = opts.withDefaults()
	r := ABReport{Options: opts}
	for _, f := range figs {
		r.Rows = append(r.Rows, compareFigure(f, opts))
	}
	return r
}

func compareFigure(f ABFigure, opts ABOptions) ABRow {
	base, head := dropNaN(f.Base), dropNaN(f.Head)
	row := ABRow{Figure: f.Name, Unit: f.Unit, NBase: len(base), NHead: len(head),
		Base: median(base), Head: median(head), Ratio: math.NaN(), Lo: math.NaN(), Hi: math.NaN(),
		P: math.NaN(), MinDetectable: math.Inf(1), Verdict: ABTooFew,
		Gate: f.Gate, HigherIsWorse: f.HigherIsWorse}
	if row.Base != 0 {
		row.Ratio = row.Head / row.Base // NaN if either side is empty
	}
	// Two runs a side are the fewest for which a test exists at all (p ≥
	// 1/3); below, there is no spread to compare a change against.
	if len(base) < 2 || len(head) < 2 {
		return row
	}

	if row.Base != 0 {
		// A fresh generator per figure, so that a figure's interval does
		// not depend on which figures come before it.
		rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed))
		row.Lo, row.Hi = bootstrapRatio(base, head, opts.Resamples, opts.Alpha, rng)
	}
	row.P = mannWhitneyP(base, head)
	row.MinDetectable = minDetectable(series.Describe(base), series.Describe(head), opts.Alpha)

	row.Verdict = ABNoChange
	if row.P < opts.Alpha {
		c := change(row.Base, row.Head) // ±Inf from a median of 0
		worse := c < 0
		if f.HigherIsWorse {
			worse = c > 0
		}
		switch {
		case math.Abs(c) < opts.Threshold:
			row.Verdict = ABSmall
		case worse:
			row.Verdict = ABRegression
		default:
			row.Verdict = ABImprovement
		}
	}
	return row
}

func dropNaN(xs []float64) []float64 {
	return slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
}

// median is NaN for no values, where series.Percentile says 0: an empty
// side has no median, and 0 would read as a measurement.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return series.Percentile(xs, 50)
}

// bootstrapRatio returns the alpha/2 and 1−alpha/2 percentiles of the ratio
// of medians, head over base, over resamples of both sides drawn with
// replacement. Percentiles of the resampled ratio, rather than a normal
// interval around it, because a ratio of medians of five runs is neither
// normal nor symmetric.
func bootstrapRatio(base, head []float64, resamples int, alpha float64, rng *rand.Rand) (lo, hi float64) {
	ratios := make([]float64, resamples)
	b, h := make([]float64, len(base)), make([]float64, len(head))
	for i := range ratios {
		for j := range b {
			b[j] = base[rng.IntN(len(base))]
		}
		for j := range h {
			h[j] = head[rng.IntN(len(head))]
		}
		ratios[i] = series.Percentile(h, 50) / series.Percentile(b, 50)
	}
	return series.Percentile(ratios, 100*alpha/2), series.Percentile(ratios, 100*(1-alpha/2))
}

// minDetectable is the relative shift the U test would detect with 80 %
// power; see CompareAB for the formula.
func minDetectable(b, h series.Stats, alpha float64) float64 {
	if minP(b.N, h.N) >= alpha {
		return math.Inf(1)
	}
	nb, nh := float64(b.N), float64(h.N)
	cvb, cvh := b.CV(), h.CV()
	cv := math.Sqrt(((nb-1)*cvb*cvb + (nh-1)*cvh*cvh) / (nb + nh - 2))
	return (z(1-alpha/2) + z(0.8)) * cv * math.Sqrt(1/nb+1/nh) / math.Sqrt(3/math.Pi)
}

// minP is the smallest two-sided p the exact U test can give for n and m
// runs: both most lopsided arrangements out of C(n+m, n) equally likely ones.
func minP(n, m int) float64 {
	c := 1.0
	for i := 1; i <= n; i++ {
		c = c * float64(m+i) / float64(i)
	}
	return min(1, 2/c)
}

// z is the standard normal quantile function.
func z(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// exactLimit is the most runs per side for which the p-value comes from the
// exact distribution of the rank sum. Beyond, the normal approximation is
// within a fraction of a percent, and the exact count grows as n⁴. It is
// benchstat's limit for samples with ties.
const exactLimit = 25

// mannWhitneyP is the two-sided p-value of the Mann–Whitney U test of x
// against y: exact for up to exactLimit values a side, the normal
// approximation beyond.
func mannWhitneyP(x, y []float64) float64 {
	r := rankSum(x, y)
	if len(x) <= exactLimit && len(y) <= exactLimit {
		return r.exactP()
	}
	return r.normalP()
}

// ranked is the combined sample of a U test. Ranks are doubled so that
// mid-ranks of ties (2.5, 3.5) stay integers.
type ranked struct {
	ranks2 []int   // doubled mid-ranks of all values, in sorted order
	sum2   int     // doubled rank sum of x
	nx, ny int     // sizes of x and y
	ties   float64 // Σ (t³ − t) over groups of t tied values
}

func rankSum(x, y []float64) ranked {
	type value struct {
		v   float64
		inX bool
	}
	vs := make([]value, 0, len(x)+len(y))
	for _, v := range x {
		vs = append(vs, value{v, true})
	}
	for _, v := range y {
		vs = append(vs, value{v, false})
	}
	slices.SortFunc(vs, func(a, b value) int { return cmp.Compare(a.v, b.v) })

	r := ranked{ranks2: make([]int, len(vs)), nx: len(x), ny: len(y)}
	for i := 0; i < len(vs); {
		j := i + 1
		for j < len(vs) && vs[j].v == vs[i].v {
			j++
		}
		// Values i..j-1 tie for ranks i+1..j: each gets their mean, doubled.
		for k := i; k < j; k++ {
			r.ranks2[k] = i + 1 + j
			if vs[k].inX {
				r.sum2 += i + 1 + j
			}
		}
		t := float64(j - i)
		r.ties += t*t*t - t
		i = j
	}
	return r
}

// exactP counts, over all C(nx+ny, nx) equally likely ways the null
// hypothesis could have split the ranks, how many give x a rank sum as low
// or as high as it has, by dynamic programming over subsets of each size
// and sum. It uses the ranks as they are, ties included, which is what
// benchstat does too: the normal approximation would call {1, 1, 1} against
// {2, 2, 2} significant (p = 0.047), though 3 runs a side cannot be.
func (r ranked) exactP() float64 {
	maxSum := 0
	for _, v := range r.ranks2 {
		maxSum += v
	}
	// ways[k*(maxSum+1)+s]: subsets of k of the ranks seen with doubled sum s.
	width := maxSum + 1
	ways := make([]float64, (r.nx+1)*width)
	ways[0] = 1
	for i, v := range r.ranks2 {
		for k := min(i+1, r.nx); k >= 1; k-- {
			for s := maxSum; s >= v; s-- {
				ways[k*width+s] += ways[(k-1)*width+s-v]
			}
		}
	}
	var total, lower, upper float64
	for s, w := range ways[r.nx*width:] {
		total += w
		if s <= r.sum2 {
			lower += w
		}
		if s >= r.sum2 {
			upper += w
		}
	}
	return min(1, 2*min(lower, upper)/total)
}

// normalP is the normal approximation of the U test with the tie and
// continuity corrections, as R's wilcox.test and benchstat compute it.
func (r ranked) normalP() float64 {
	nx, ny := float64(r.nx), float64(r.ny)
	n := nx + ny
	u := float64(r.sum2)/2 - nx*(nx+1)/2
	sigma := math.Sqrt(nx * ny / 12 * ((n + 1) - r.ties/(n*(n-1))))
	if sigma == 0 { // every value equal: nothing tells the sides apart
		return 1
	}
	d := max(math.Abs(u-nx*ny/2)-0.5, 0)
	return math.Erfc(d / sigma / math.Sqrt2)
}

// Text renders the report for a terminal or a test log: an aligned table,
// one line per figure, then the one-line verdict, last where a log reader
// looks.
func (r ABReport) Text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\tbase\thead\tratio\t%s\tp\truns\tsmallest detectable\tverdict\n", r.intervalHeader())
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Figure,
			formatValue(row.Base, row.Unit), formatValue(row.Head, row.Unit), formatRatio(row.Ratio),
			formatInterval(row.Lo, row.Hi), formatP(row.P), formatRuns(row), formatDetectable(row.MinDetectable),
			abVerdictCell(row))
	}
	tw.Flush()
	b.WriteString(r.summaryLine(false))
	b.WriteByte('\n')
	return b.String()
}

// Markdown renders the report for a GitHub job summary: the one-line
// verdict, then the table with the numbers right-aligned and failing
// verdicts in bold.
func (r ABReport) Markdown() string {
	var b strings.Builder
	b.WriteString(r.summaryLine(true))
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "| figure | base | head | ratio | %s | p | runs | smallest detectable | verdict |\n", r.intervalHeader())
	b.WriteString("|:--|--:|--:|--:|--:|--:|--:|--:|:--|\n")
	for _, row := range r.Rows {
		v := abVerdictCell(row)
		if row.Failed() {
			v = "**" + v + "**"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(row.Figure),
			mdEscape(formatValue(row.Base, row.Unit)), mdEscape(formatValue(row.Head, row.Unit)),
			formatRatio(row.Ratio), formatInterval(row.Lo, row.Hi), formatP(row.P), formatRuns(row),
			formatDetectable(row.MinDetectable), v)
	}
	return b.String()
}

// summaryLine is the report in one line. It never says "pass": when nothing
// regressed significantly it says so, and counts the figures whose change
// was not significant, since those may have regressed by less than the
// test could see. Gated figures with too few runs are named, so that a
// figure that stopped being measured does not pass unnoticed.
func (r ABReport) summaryLine(emoji bool) string {
	var worse, better, tooFew []string
	gated, noChange := 0, 0
	for _, row := range r.Rows {
		if !row.Gate {
			continue
		}
		gated++
		moved := fmt.Sprintf("%s (%s, p=%s)", row.Figure, formatChange(change(row.Base, row.Head)), formatP(row.P))
		switch row.Verdict {
		case ABRegression:
			worse = append(worse, moved)
		case ABImprovement:
			better = append(better, moved)
		case ABTooFew:
			tooFew = append(tooFew, row.Figure)
		case ABNoChange:
			noChange++
		}
	}

	var b strings.Builder
	switch {
	case emoji && len(worse) > 0:
		b.WriteString("❌ ")
	case emoji:
		b.WriteString("✅ ")
	}
	if r.BaseName != "" || r.HeadName != "" {
		fmt.Fprintf(&b, "%s against %s: ", cmp.Or(r.HeadName, "head"), cmp.Or(r.BaseName, "base"))
	}
	if len(worse) > 0 {
		b.WriteString("regression: " + strings.Join(worse, ", "))
	} else {
		b.WriteString("no significant regression")
	}
	if len(better) > 0 {
		b.WriteString("; improvement: " + strings.Join(better, ", "))
	}
	if noChange > 0 {
		fmt.Fprintf(&b, "; %d of %d gated figures without a significant change", noChange, gated)
	}
	if len(tooFew) > 0 {
		b.WriteString("; too few runs: " + strings.Join(tooFew, ", "))
	}
	return b.String()
}

func (r ABReport) intervalHeader() string {
	return fmt.Sprintf("%g %% interval", 100*(1-r.Options.withDefaults().Alpha))
}

func abVerdictCell(row ABRow) string {
	if !row.Gate {
		return row.Verdict + " (not gated)"
	}
	return row.Verdict
}

// formatRatio writes a ratio with three decimals: a 2 % change must show.
func formatRatio(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

func formatInterval(lo, hi float64) string {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return "—"
	}
	return formatRatio(lo) + " – " + formatRatio(hi)
}

// formatP writes p as benchstat does, to three decimals; below that the
// exact value no longer matters.
func formatP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p < 0.001:
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func formatRuns(row ABRow) string {
	return fmt.Sprintf("%d/%d", row.NBase, row.NHead)
}

func formatDetectable(d float64) string {
	if math.IsInf(d, 1) || math.IsNaN(d) {
		return "none at these runs"
	}
	return formatAllowed(d)
}
