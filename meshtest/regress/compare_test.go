package regress

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// cost is a gated higher-is-worse figure in B/conn, the common case.
func cost(name string, value, cv float64) Figure {
	return Figure{Name: name, Unit: "B/conn", Value: value, CV: cv, N: 5, HigherIsWorse: true, Gate: true}
}

func star(figs ...Figure) *Set {
	return &Set{Params: map[string]string{"peers": "10", "duration_s": "15"}, Figures: figs}
}

func TestCompare(t *testing.T) {
	const f = "bootstrap_bytes_per_conn"
	throughput := func(v float64) Figure {
		return Figure{Name: "msgs_per_s", Unit: "msg/s", Value: v, N: 1, Gate: true}
	}
	ungated := func(v float64) Figure {
		return Figure{Name: "bring_up_s", Unit: "s", Value: v, N: 1, HigherIsWorse: true}
	}
	tests := []struct {
		name         string
		base, now    *Set
		opts         Options
		verdicts     map[string]string
		allowed      float64 // of f, when checked
		failed       bool
		wantMismatch []string
	}{
		{
			name: "within tolerance", base: star(cost(f, 100, 0)), now: star(cost(f, 109, 0)),
			verdicts: map[string]string{f: OK}, allowed: 0.10,
		},
		{
			name: "beyond tolerance", base: star(cost(f, 100, 0)), now: star(cost(f, 111, 0)),
			verdicts: map[string]string{f: Worse}, allowed: 0.10, failed: true,
		},
		{
			name: "better beyond tolerance", base: star(cost(f, 100, 0)), now: star(cost(f, 85, 0)),
			verdicts: map[string]string{f: Better},
		},
		{
			// 3 × 5 % = 15 %: a 14 % rise is within what the baseline's own
			// runs disagreed by.
			name: "baseline noise widens the band", base: star(cost(f, 100, 0.05)), now: star(cost(f, 114, 0)),
			verdicts: map[string]string{f: OK}, allowed: 0.15,
		},
		{
			name: "noise of this run widens the band", base: star(cost(f, 100, 0.01)), now: star(cost(f, 117, 0.06)),
			verdicts: map[string]string{f: OK}, allowed: 0.18,
		},
		{
			name: "beyond the widened band", base: star(cost(f, 100, 0.05)), now: star(cost(f, 116, 0.02)),
			verdicts: map[string]string{f: Worse}, allowed: 0.15, failed: true,
		},
		{
			name: "options narrow the band", base: star(cost(f, 100, 0.01)), now: star(cost(f, 106, 0)),
			opts:     Options{Tolerance: 0.05, K: 2},
			verdicts: map[string]string{f: Worse}, allowed: 0.05, failed: true,
		},
		{
			name: "lower is worse: a drop fails", base: star(throughput(1000)), now: star(throughput(850)),
			verdicts: map[string]string{"msgs_per_s": Worse}, failed: true,
		},
		{
			name: "lower is worse: a rise is better", base: star(throughput(1000)), now: star(throughput(1200)),
			verdicts: map[string]string{"msgs_per_s": Better},
		},
		{
			name: "missing figure fails", base: star(cost(f, 100, 0), cost("peer_mem_bytes", 1e7, 0)), now: star(cost(f, 100, 0)),
			verdicts: map[string]string{f: OK, "peer_mem_bytes": Missing}, failed: true,
		},
		{
			name: "figure no run produced is missing", base: star(cost(f, 100, 0)), now: star(FromRuns(f, []float64{math.NaN()}, "B/conn")),
			verdicts: map[string]string{f: Missing}, failed: true,
		},
		{
			name: "new figure does not fail", base: star(cost(f, 100, 0)), now: star(cost(f, 100, 0), cost("dht_bytes", 5, 0)),
			verdicts: map[string]string{f: OK, "dht_bytes": New},
		},
		{
			name: "param mismatch fails", base: star(cost(f, 100, 0)),
			now:      &Set{Params: map[string]string{"peers": "20", "duration_s": "15", "image": "x"}, Figures: []Figure{cost(f, 100, 0)}},
			verdicts: map[string]string{f: OK}, failed: true,
			wantMismatch: []string{"image: baseline unset, now x", "peers: baseline 10, now 20"},
		},
		{
			name: "run-describing params may differ",
			base: &Set{Params: map[string]string{"peers": "10", "git_revision": "a", "host": "ci-1", "created": "monday"}, Figures: []Figure{cost(f, 100, 0)}},
			now:  &Set{Params: map[string]string{"peers": "10", "git_revision": "b", "host": "ci-2", "image": "pr"}, Figures: []Figure{cost(f, 100, 0)}},
			opts: Options{IgnoreParams: []string{"image"}}, verdicts: map[string]string{f: OK},
		},
		{
			name: "unit mismatch fails", base: star(cost(f, 14100, 0)),
			now:      star(Figure{Name: f, Unit: "kB/conn", Value: 14.1, Gate: true, HigherIsWorse: true}),
			verdicts: map[string]string{f: Better}, failed: true,
			wantMismatch: []string{`bootstrap_bytes_per_conn: unit baseline "B/conn", now "kB/conn"`},
		},
		{
			name: "ungated figure worse does not fail", base: star(cost(f, 100, 0), ungated(4)), now: star(cost(f, 100, 0), ungated(9)),
			verdicts: map[string]string{f: OK, "bring_up_s": Worse},
		},
		{
			name: "ungated figure missing does not fail", base: star(cost(f, 100, 0), ungated(4)), now: star(cost(f, 100, 0)),
			verdicts: map[string]string{f: OK, "bring_up_s": Missing},
		},
		{
			name: "from zero any rise is worse", base: star(cost(f, 0, 0)), now: star(cost(f, 1, 0)),
			verdicts: map[string]string{f: Worse}, failed: true,
		},
		{
			name: "zero stays zero", base: star(cost(f, 0, 0)), now: star(cost(f, 0, 0)),
			verdicts: map[string]string{f: OK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Compare(tt.base, tt.now, tt.opts)

			got := map[string]string{}
			for _, row := range r.Rows {
				got[row.Figure] = row.Verdict
				if row.Figure == f && tt.allowed != 0 {
					assert.InDelta(t, tt.allowed, row.Allowed, 1e-12, "allowed")
				}
			}
			assert.Equal(t, tt.verdicts, got, "verdicts")
			assert.Equal(t, tt.failed, r.Failed(), "Failed()")
			assert.Equal(t, tt.wantMismatch, r.Mismatch, "Mismatch")
		})
	}
}

func TestCompareRows(t *testing.T) {
	base := star(cost("b", 200, 0), cost("a", 100, 0), cost("gone", 1, 0))
	now := star(cost("z", 1, 0), cost("a", 150, 0), cost("b", 200, 0), cost("new", 2, 0))
	r := Compare(base, now, Options{})

	var names []string
	for _, row := range r.Rows {
		names = append(names, row.Figure)
	}
	// Baseline figures by name, then new ones by name, whatever order
	// the sets hold them in: the table should not reshuffle between runs.
	assert.Equal(t, []string{"a", "b", "gone", "new", "z"}, names)

	a := r.Rows[0]
	assert.Equal(t, 100.0, a.Base)
	assert.Equal(t, 150.0, a.Now)
	assert.InDelta(t, 0.5, a.Change, 1e-12)
	assert.Equal(t, "B/conn", a.Unit)

	gone, added := r.Rows[2], r.Rows[3]
	assert.True(t, math.IsNaN(gone.Now) && math.IsNaN(gone.Change) && math.IsNaN(gone.Allowed), "missing row: %+v", gone)
	assert.True(t, math.IsNaN(added.Base) && math.IsNaN(added.Change) && math.IsNaN(added.Allowed), "new row: %+v", added)
}
