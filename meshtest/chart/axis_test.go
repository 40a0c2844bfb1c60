package chart

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewAxis(t *testing.T) {
	tests := []struct {
		name     string
		lo, hi   float64
		target   int
		unit     Unit
		headroom bool
		labels   []string
		first    float64 // value of the first tick, in data units
		last     float64
		unitName string
	}{
		{"memory in MB", 8.4e6, 16.3e6, 5, Bytes, true, []string{"0", "5", "10", "15", "20"}, 0, 20e6, "MB"},
		{"seconds", 0, 120, 8, Count, false, []string{"0", "20", "40", "60", "80", "100", "120"}, 0, 120, ""},
		{"constant 100 gets headroom", 100, 100, 5, Count, true, []string{"0", "20", "40", "60", "80", "100", "120"}, 0, 120, ""},
		{"single zero", 0, 0, 5, Count, true, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2"}, 0, 1.2, ""},
		{"no data", 1, 0, 5, Count, false, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}, 0, 1, ""},
		{"negative only", -7, -5, 5, Count, true, []string{"-8", "-6", "-4", "-2", "0"}, -8, 0, ""},
		{"kB", 0, 900, 4, Bytes, false, []string{"0", "200", "400", "600", "800", "1000"}, 0, 1000, "B"},
		{"rate", 0, 2.5e9, 5, BytesPerSecond, false, []string{"0", "0.5", "1.0", "1.5", "2.0", "2.5"}, 0, 2.5e9, "GB/s"},
		{"cores", 0, 0.37, 5, Count, true, []string{"0", "0.1", "0.2", "0.3", "0.4"}, 0, 0.4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAxis(tt.lo, tt.hi, tt.target, tt.unit, tt.headroom)
			var labels []string
			for _, tk := range a.ticks {
				labels = append(labels, tk.Label)
			}
			assert.Equal(t, tt.labels, labels)
			assert.InDelta(t, tt.first, a.lo, 1e-9)
			assert.InDelta(t, tt.last, a.hi, 1e-9*max(1, tt.last))
			assert.Equal(t, tt.unitName, a.unitName)
		})
	}
}

func TestNiceStep(t *testing.T) {
	tests := []struct{ rough, want float64 }{
		{0.7, 0.5}, {1, 1}, {1.1, 1}, {2, 2}, {3, 2}, {7, 5}, {12, 10}, {15, 20}, {0.013, 0.01},
		{4.5e6, 5e6}, {0, 1}, {-3, 1},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, niceStep(tt.rough), tt.want*1e-12, "rough %v", tt.rough)
	}
}

func TestAxisName(t *testing.T) {
	assert.Equal(t, "memory (MB)", axisName("memory", "MB"))
	assert.Equal(t, "connections", axisName("connections", ""))
	assert.Equal(t, "MB", axisName("", "MB"))
}

func TestFitLabel(t *testing.T) {
	tests := []struct {
		name string
		fit  FitLine
		y    axis
		want string
	}{
		{"bytes", FitLine{Slope: 0.11e6, Intercept: 8.6e6, R2: 0.99871}, axis{div: 1e6, unitName: "MB"}, "y = 0.11·x + 8.6 MB, R² = 0.999"},
		{"count, negative intercept", FitLine{Slope: 7.04, Intercept: -60.4, R2: 0.9}, axis{div: 1}, "y = 7.04·x - 60.4, R² = 0.900"},
		{"tiny slope", FitLine{Slope: 1.234e-7, Intercept: 0, R2: 0.5}, axis{div: 1}, "y = 1.23e-07·x + 0, R² = 0.500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fitLabel(tt.fit, tt.y))
		})
	}
}
