package workload

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestQuartilesOf(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want Quartiles
	}{
		{"none", nil, Quartiles{}},
		{"only NaN", []float64{math.NaN()}, Quartiles{}},
		{"one", []float64{3}, Quartiles{N: 1, Min: 3, Q1: 3, Median: 3, Q3: 3, Max: 3}},
		{"five, unsorted", []float64{5, 1, 4, 2, 3}, Quartiles{N: 5, Min: 1, Q1: 2, Median: 3, Q3: 4, Max: 5}},
		{"four interpolate", []float64{1, 2, 3, 4}, Quartiles{N: 4, Min: 1, Q1: 1.75, Median: 2.5, Q3: 3.25, Max: 4}},
		{"NaN skipped", []float64{math.NaN(), 1, 3, math.NaN()}, Quartiles{N: 2, Min: 1, Q1: 1.5, Median: 2, Q3: 2.5, Max: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, QuartilesOf(tt.xs))
		})
	}
}

// fiveRuns upload and download 1 MB (8e6 bits) in 1, 2, 4, 5 and 8 s: 8, 4,
// 2, 1.6 and 1 Mbit/s. The first run opens the connection, in 30 ms.
func fiveRuns() []PerfRun {
	var runs []PerfRun
	for i, s := range []int{1, 2, 4, 5, 8} {
		d := time.Duration(s) * time.Second
		run := PerfRun{UploadBytes: 1e6, DownloadBytes: 1e6, Upload: d, Download: d / 2, Total: 3 * d / 2}
		if i == 0 {
			run.Connection = ms(30)
		}
		runs = append(runs, run)
	}
	return runs
}

func TestPerf(t *testing.T) {
	r := Perf(fiveRuns())
	assert.Equal(t, 5, r.Runs)
	assert.Zero(t, r.Failed)
	assert.Empty(t, r.Errors)
	assert.Equal(t, Quartiles{N: 5, Min: 1e6, Q1: 1.6e6, Median: 2e6, Q3: 4e6, Max: 8e6}, r.UploadBitsPerSecond)
	assert.Equal(t, Quartiles{N: 5, Min: 2e6, Q1: 3.2e6, Median: 4e6, Q3: 8e6, Max: 16e6}, r.DownloadBitsPerSecond)
	assert.Equal(t, Quartiles{N: 1, Min: 0.03, Q1: 0.03, Median: 0.03, Q3: 0.03, Max: 0.03}, r.ConnectionSeconds)
}

// Failed runs count as failed, keep their connection time, and add nothing
// to throughput; their errors are listed once each, at most five.
func TestPerfFailed(t *testing.T) {
	runs := fiveRuns()
	runs = append(runs,
		PerfRun{UploadBytes: 1e6, Upload: time.Millisecond, Connection: ms(50), Err: "stream reset"},
		PerfRun{Err: "stream reset"},
		PerfRun{DownloadBytes: 1e6, Download: time.Nanosecond, Err: "dial: timeout"},
	)
	for _, e := range []string{"e1", "e2", "e3", "e4"} {
		runs = append(runs, PerfRun{Err: e})
	}
	r := Perf(runs)
	assert.Equal(t, 12, r.Runs)
	assert.Equal(t, 7, r.Failed)
	assert.Equal(t, []string{"stream reset", "dial: timeout", "e1", "e2", "e3"}, r.Errors)
	assert.Equal(t, 5, r.UploadBitsPerSecond.N)
	assert.InDelta(t, 8e6, r.UploadBitsPerSecond.Max, 0)
	assert.Equal(t, 5, r.DownloadBitsPerSecond.N)
	assert.InDelta(t, 16e6, r.DownloadBitsPerSecond.Max, 0)
	assert.Equal(t, Quartiles{N: 2, Min: 0.03, Q1: 0.035, Median: 0.04, Q3: 0.045, Max: 0.05}, r.ConnectionSeconds)
}

// A run that only downloads has no upload throughput, not a zero one.
func TestPerfOneWay(t *testing.T) {
	r := Perf([]PerfRun{{DownloadBytes: 1e6, Download: time.Second}})
	assert.Zero(t, r.UploadBitsPerSecond.N)
	assert.Equal(t, 1, r.DownloadBitsPerSecond.N)
}

func TestRoundTrips(t *testing.T) {
	runs := fiveRuns()
	runs[2].Connection = ms(20)
	runs[4].Connection = ms(60) // median of 20, 30, 60 ms is 30 ms
	tests := []struct {
		name string
		r    PerfResult
		rtt  time.Duration
		want float64
	}{
		{"three round trips of 10 ms", Perf(runs), ms(10), 3},
		{"1.5 of 20 ms", Perf(runs), ms(20), 1.5},
		{"no rtt", Perf(runs), 0, math.NaN()},
		{"no connection timed", Perf([]PerfRun{{UploadBytes: 1, Upload: 1}}), ms(10), math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.RoundTrips(tt.rtt)
			if math.IsNaN(tt.want) {
				assert.True(t, math.IsNaN(got), "got %v, want NaN", got)
				return
			}
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}
