package series

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFit(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		ys   []float64
		want Line
	}{
		{
			name: "exact line",
			xs:   []float64{10, 50, 100, 250},
			ys:   []float64{8.6e6 + 0.11e6*10, 8.6e6 + 0.11e6*50, 8.6e6 + 0.11e6*100, 8.6e6 + 0.11e6*250},
			want: Line{Slope: 0.11e6, Intercept: 8.6e6, R2: 1, N: 4},
		},
		{
			// x̄ = 2, ȳ = 2.5; dx = -1 0 1, dy = -0.5 -1 1.5; Sxx = 2, Sxy = 2
			// → slope 1, intercept 0.5. Predictions 1.5 2.5 3.5: residuals
			// 0.5 -1 0.5 → SSres 1.5; SStot 0.25+1+2.25 = 3.5.
			name: "noisy known case",
			xs:   []float64{1, 2, 3},
			ys:   []float64{2, 1.5, 4},
			want: Line{Slope: 1, Intercept: 0.5, R2: 1 - 1.5/3.5, N: 3},
		},
		{
			name: "two points",
			xs:   []float64{0, 2},
			ys:   []float64{1, 0},
			want: Line{Slope: -0.5, Intercept: 1, R2: 1, N: 2},
		},
		{
			name: "flat y is an exact fit",
			xs:   []float64{1, 2, 3},
			ys:   []float64{100, 100, 100},
			want: Line{Slope: 0, Intercept: 100, R2: 1, N: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fit(tt.xs, tt.ys)
			require.NoError(t, err)
			assert.Equal(t, tt.want.N, got.N)
			assert.InEpsilon(t, 1+tt.want.Slope, 1+got.Slope, 1e-9, "slope")
			assert.InEpsilon(t, 1+tt.want.Intercept, 1+got.Intercept, 1e-9, "intercept")
			assert.InDelta(t, tt.want.R2, got.R2, 1e-12, "R²")
		})
	}
}

func TestFitErrors(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		want   string
	}{
		{"no points", nil, nil, "need at least 2"},
		{"one point", []float64{1}, []float64{2}, "need at least 2"},
		{"length mismatch", []float64{1, 2}, []float64{1}, "2 x values but 1 y values"},
		{"equal x", []float64{100, 100, 100}, []float64{1, 2, 3}, "slope is undefined"},
		{"NaN", []float64{1, 2, 3}, []float64{1, math.NaN(), 3}, "point 1"},
		{"Inf", []float64{1, math.Inf(1)}, []float64{1, 2}, "point 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fit(tt.xs, tt.ys)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLine(t *testing.T) {
	l := Line{Slope: 0.15, Intercept: -8.6, R2: 0.99812, N: 4}
	assert.Equal(t, "y = 0.15·x - 8.6 (R² = 0.998, n = 4)", l.String())
	assert.InDelta(t, 6.4, l.At(100), 1e-12)
}
