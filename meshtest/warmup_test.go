package meshtest

import "testing"

// TestSettled: the figures must hold within 2 % over the last 5 samples,
// for every role, before a window opens.
func TestSettled(t *testing.T) {
	flat := func(vals ...float64) []map[string]float64 {
		var h []map[string]float64
		for _, v := range vals {
			h = append(h, map[string]float64{"peer": v, "bootstrap": 2 * v})
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    []map[string]float64
		want bool
	}{
		{"too few samples", flat(100, 100, 100, 100), false},
		{"rising", flat(90, 93, 96, 99, 102), false},
		{"steady within 2 %", flat(50, 80, 100, 101, 99, 100.5, 100), true},
		{"a late jump", flat(100, 100, 100, 100, 103), false},
		{"a role missing in a sample", append(flat(100, 100, 100, 100), map[string]float64{"peer": 100}), false},
		{"nothing read", []map[string]float64{{}, {}, {}, {}, {}}, false},
	} {
		if got := settled(tc.h); got != tc.want {
			t.Errorf("%s: settled = %v, want %v", tc.name, got, tc.want)
		}
	}
}
