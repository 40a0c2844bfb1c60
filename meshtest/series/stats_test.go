package series

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDescribe(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"only NaN", []float64{nan, nan}, Stats{}},
		{"single value", []float64{7}, Stats{N: 1, Mean: 7, Min: 7, P50: 7, P95: 7, Max: 7}},
		// Sorted: 1 2 4 8 10. Mean 5. Ranks for P95: 4·0.95 = 3.8 → 8 + 0.8·2.
		// Squares of deviations: 16+9+1+9+25 = 60, /4 = 15.
		{"odd N", []float64{8, 1, 10, 4, 2}, Stats{N: 5, Mean: 5, Min: 1, P50: 4, P95: 9.6, Max: 10, Stddev: math.Sqrt(15)}},
		// Sorted: 1 2 3 4. P50 at rank 1.5 → 2.5; P95 at rank 2.85 → 3.85.
		// Deviations² 2.25+0.25+0.25+2.25 = 5, /3.
		{"even N", []float64{4, 3, 2, 1}, Stats{N: 4, Mean: 2.5, Min: 1, P50: 2.5, P95: 3.85, Max: 4, Stddev: math.Sqrt(5.0 / 3)}},
		{"NaN skipped", []float64{nan, 2, nan, 4}, Stats{N: 2, Mean: 3, Min: 2, P50: 3, P95: 3.9, Max: 4, Stddev: math.Sqrt2}},
		{"all equal", []float64{100, 100, 100}, Stats{N: 3, Mean: 100, Min: 100, P50: 100, P95: 100, Max: 100}},
		{"negative", []float64{-3, -1}, Stats{N: 2, Mean: -2, Min: -3, P50: -2, P95: -1.1, Max: -1, Stddev: math.Sqrt2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(tt.in)
			assert.Equal(t, tt.want.N, got.N, "N")
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"Mean", got.Mean, tt.want.Mean},
				{"Min", got.Min, tt.want.Min},
				{"P50", got.P50, tt.want.P50},
				{"P95", got.P95, tt.want.P95},
				{"Max", got.Max, tt.want.Max},
				{"Stddev", got.Stddev, tt.want.Stddev},
			} {
				assert.InDelta(t, f.want, f.got, 1e-12, f.name)
			}
		})
	}
}

func TestDescribeDoesNotModifyInput(t *testing.T) {
	in := []float64{3, 1, 2}
	Describe(in)
	assert.Equal(t, []float64{3, 1, 2}, in)
}

func TestPercentile(t *testing.T) {
	ten := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	tests := []struct {
		name string
		in   []float64
		p    float64
		want float64
	}{
		{"p0 is min", ten, 0, 1},
		{"p100 is max", ten, 100, 10},
		{"p50 even N interpolates", ten, 50, 5.5},
		{"p95 of 1..10", ten, 95, 9.55},
		{"p90 of 1..10", ten, 90, 9.1},
		{"p25 odd N on a rank", []float64{1, 2, 3, 4, 5}, 25, 2},
		{"p below 0 clamps", ten, -5, 1},
		{"p above 100 clamps", ten, 250, 10},
		{"single value", []float64{42}, 95, 42},
		{"empty", nil, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, Percentile(tt.in, tt.p), 1e-12)
		})
	}
}

func TestCV(t *testing.T) {
	tests := []struct {
		name string
		s    Stats
		want float64
	}{
		{"empty", Stats{}, 0},
		{"constant", Describe([]float64{5, 5, 5}), 0},
		{"ordinary", Stats{N: 3, Mean: 10, Stddev: 2}, 0.2},
		{"negative mean uses magnitude", Stats{N: 3, Mean: -10, Stddev: 2}, 0.2},
		{"zero mean", Stats{N: 2, Mean: 0, Stddev: 1}, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.CV())
		})
	}
}

// TestStatsJSON: summary.json writes every key in snake_case, as the rest of
// the document does.
func TestStatsJSON(t *testing.T) {
	data, err := json.Marshal(Describe([]float64{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"n":3,"mean":2,"min":1,"p50":2,"p95":2.9,"max":3,"stddev":1}`
	if string(data) != want {
		t.Errorf("Stats as JSON:\n got %s\nwant %s", data, want)
	}
	data, err = json.Marshal(Line{Slope: 1, Intercept: 2, R2: 0.5, N: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"slope":1,"intercept":2,"r2":0.5,"n":3}`; string(data) != want {
		t.Errorf("Line as JSON:\n got %s\nwant %s", data, want)
	}
}
