package regress

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Verdicts of a [Row].
const (
	Worse   = "worse"   // moved the bad way by more than allowed
	Better  = "better"  // moved the good way by more than allowed
	OK      = "ok"      // within the allowed band
	Missing = "missing" // in the baseline, not measured now: fails if gated
	New     = "new"     // measured now, not in the baseline: never fails
)

// Options set how far a figure may move before it counts. The zero value
// is the default.
type Options struct {
	// Tolerance is the relative change always allowed: 0.10 lets a figure
	// move 10 % either way. It is the floor of the band for figures that
	// are steadier than the machine they run on: a baseline recorded with
	// a CV of 0.2 % would otherwise fail on the next kernel update. ≤ 0
	// means 0.10.
	Tolerance float64
	// K is how many coefficients of variation a figure may move: the band
	// widens to K × noise for noisy figures. ≤ 0 means 3, the usual
	// three-sigma bound: runs that spread normally cross it in the bad
	// direction by chance about once in 700 comparisons (more often when
	// the CV comes from only a few runs and underestimates the spread).
	K float64
	// IgnoreParams are Params keys that may differ between the sets
	// besides "git_revision", "created" and "host", which always may.
	IgnoreParams []string
}

// alwaysIgnored are Params keys that describe a run rather than the
// experiment; two runs of one experiment differ in them by definition.
var alwaysIgnored = []string{"git_revision", "created", "host"}

func (o Options) withDefaults() Options {
	if !(o.Tolerance > 0) { // also catches NaN
		o.Tolerance = 0.10
	}
	if !(o.K > 0) {
		o.K = 3
	}
	return o
}

// Row is one figure's comparison. Values that do not exist are NaN: Now for
// a missing figure, Base for a new one, and Change and Allowed for both.
type Row struct {
	Figure  string
	Unit    string
	Base    float64
	Now     float64
	Change  float64 // (Now − Base) / |Base|: +0.05 is 5 % more
	Allowed float64 // relative change allowed either way
	Verdict string  // Worse, Better, OK, Missing or New
	Gate    bool    // whether the row can fail the report, from the baseline
}

// failed reports whether the row fails the report.
func (r Row) failed() bool {
	return r.Gate && (r.Verdict == Worse || r.Verdict == Missing)
}

// Report is the outcome of [Compare].
type Report struct {
	// Rows hold the baseline's figures in name order, then new figures
	// in name order.
	Rows []Row
	// Mismatch lists why the sets are not runs of one experiment:
	// differing Params ("peers: baseline 10, now 20") and gated figures
	// measured in other units. Any entry fails the report.
	Mismatch []string
}

// Failed reports whether the pull request should be held back: the sets
// describe different experiments, or a gated figure got worse or was not
// measured. A figure that is missing fails because a gate that passes when
// its measurement silently disappears is no gate.
func (r Report) Failed() bool {
	return len(r.Mismatch) > 0 || slices.ContainsFunc(r.Rows, Row.failed)
}

// Compare holds now against the baseline base, figure by figure.
//
// A figure may move by allowed = max(Tolerance, K × noise) of its baseline
// value in its bad direction, where noise is the larger of the two sets'
// CVs for it. Both count because the change is the difference of two
// measurements and either can wander: a baseline of five steady runs says
// nothing of how far a single run on a busy CI machine strays. The CVs are
// spread between runs, not the standard error of a mean, because a pull
// request's job usually runs once and one run can land anywhere in that
// spread. The maximum, rather than a root sum of squares, keeps the band
// explainable in one sentence ("three times the noisier side").
// One consequence: a change that makes a figure jittery also widens its
// own band, so compare the CVs by eye when a figure turns noisy.
//
// Figures with Gate false in base are compared and shown but never fail.
// Params that differ (other than the ones Options ignores) fail the report
// through Mismatch: a 10-peer run against a 100-peer baseline tells nothing
// about the node. Figure names are assumed unique within each set, which
// [Read] and [Set.Write] enforce.
func Compare(base, now *Set, opts Options) Report {
	opts = opts.withDefaults()
	r := Report{Mismatch: paramMismatch(base.Params, now.Params, opts.IgnoreParams)}

	nowByName := map[string]Figure{}
	for _, f := range now.Figures {
		nowByName[f.Name] = f
	}
	inBase := map[string]bool{}
	for _, b := range byName(base.Figures) {
		inBase[b.Name] = true
		row := Row{Figure: b.Name, Unit: b.Unit, Base: b.Value, Now: math.NaN(),
			Change: math.NaN(), Allowed: math.NaN(), Verdict: Missing, Gate: b.Gate}
		n, ok := nowByName[b.Name]
		if !ok || math.IsNaN(n.Value) { // NaN: no run produced it (see FromRuns)
			r.Rows = append(r.Rows, row)
			continue
		}
		if n.Unit != b.Unit && b.Gate {
			r.Mismatch = append(r.Mismatch, fmt.Sprintf("%s: unit baseline %q, now %q", b.Name, b.Unit, n.Unit))
		}
		row.Now = n.Value
		row.Change = change(b.Value, n.Value)
		row.Allowed = max(opts.Tolerance, opts.K*max(b.CV, n.CV))
		row.Verdict = verdict(row.Change, row.Allowed, b.HigherIsWorse)
		r.Rows = append(r.Rows, row)
	}
	for _, n := range byName(now.Figures) {
		if inBase[n.Name] {
			continue
		}
		r.Rows = append(r.Rows, Row{Figure: n.Name, Unit: n.Unit, Base: math.NaN(), Now: n.Value,
			Change: math.NaN(), Allowed: math.NaN(), Verdict: New, Gate: n.Gate})
	}
	return r
}

// change is the relative change from base to now. It divides by |base| so
// that the sign always says which way the figure moved; from a base of 0,
// any change is infinite.
func change(base, now float64) float64 {
	if base == 0 {
		switch {
		case now > 0:
			return math.Inf(1)
		case now < 0:
			return math.Inf(-1)
		}
		return 0
	}
	return (now - base) / math.Abs(base)
}

func verdict(change, allowed float64, higherIsWorse bool) string {
	if !higherIsWorse {
		change = -change
	}
	switch {
	case change > allowed:
		return Worse
	case change < -allowed:
		return Better
	}
	return OK
}

// paramMismatch lists, in key order, the Params that differ between base
// and now. A key only one side has differs too: "peers" unset is not
// "peers=10".
func paramMismatch(base, now map[string]string, ignore []string) []string {
	var out []string
	keys := slices.Sorted(maps.Keys(base))
	keys = slices.AppendSeq(keys, maps.Keys(now))
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if slices.Contains(alwaysIgnored, k) || slices.Contains(ignore, k) {
			continue
		}
		b, inBase := base[k]
		n, inNow := now[k]
		if inBase == inNow && b == n {
			continue
		}
		out = append(out, fmt.Sprintf("%s: baseline %s, now %s", k, paramValue(b, inBase), paramValue(n, inNow)))
	}
	return out
}

func paramValue(v string, ok bool) string {
	switch {
	case !ok:
		return "unset"
	case v == "":
		return `""`
	}
	return v
}

func byName(figs []Figure) []Figure {
	figs = slices.Clone(figs)
	slices.SortStableFunc(figs, func(a, b Figure) int { return strings.Compare(a.Name, b.Name) })
	return figs
}
