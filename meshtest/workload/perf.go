package workload

import (
	"math"
	"slices"
	"time"

	"github.com/meshtest/meshtest/meshtest/series"
)

// maxErrors bounds PerfResult.Errors: a run of 100 failures usually repeats
// one or two causes, and the summary should show them, not the run.
const maxErrors = 5

// PerfRun is one perf run, modeled on libp2p/test-plans perf: upload some
// bytes, download some bytes, time both.
type PerfRun struct {
	UploadBytes, DownloadBytes uint64
	Upload                     time.Duration // from the first byte sent to the upload's end
	Download                   time.Duration // the download's duration
	Total                      time.Duration // the whole run
	Connection                 time.Duration // connection establishment plus one round trip; 0 over an existing connection
	Err                        string
}

// Quartiles summarizes values the way libp2p/test-plans perf reports them:
// min, quartiles, max. The zero Quartiles (N == 0) describes no values.
type Quartiles struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Q1     float64 `json:"q1"`
	Median float64 `json:"median"`
	Q3     float64 `json:"q3"`
	Max    float64 `json:"max"`
}

// QuartilesOf returns the quartiles of xs by [series.Percentile], skipping
// NaN values; the zero Quartiles for none.
func QuartilesOf(xs []float64) Quartiles {
	var n int
	for _, x := range xs {
		if !math.IsNaN(x) {
			n++
		}
	}
	if n == 0 {
		return Quartiles{}
	}
	return Quartiles{
		N:      n,
		Min:    series.Percentile(xs, 0),
		Q1:     series.Percentile(xs, 25),
		Median: series.Percentile(xs, 50),
		Q3:     series.Percentile(xs, 75),
		Max:    series.Percentile(xs, 100),
	}
}

// PerfResult is what repeated perf runs did.
type PerfResult struct {
	Runs   int `json:"runs"`
	Failed int `json:"failed"` // runs with Err
	// UploadBitsPerSecond is 8·UploadBytes/Upload over runs with
	// UploadBytes > 0, Upload > 0 and no Err.
	UploadBitsPerSecond   Quartiles `json:"upload_bits_per_s"`
	DownloadBitsPerSecond Quartiles `json:"download_bits_per_s"` // likewise for downloads
	// ConnectionSeconds is over runs with Connection > 0, failed or not: a
	// run that failed after connecting still timed its connection.
	ConnectionSeconds Quartiles `json:"connection_s"`
	Errors            []string  `json:"errors,omitempty"` // distinct, in order of first occurrence, at most 5
}

// Perf summarizes repeated perf runs.
func Perf(runs []PerfRun) PerfResult {
	r := PerfResult{Runs: len(runs)}
	var up, down, conn []float64
	for _, run := range runs {
		if run.Connection > 0 {
			conn = append(conn, run.Connection.Seconds())
		}
		if run.Err != "" {
			r.Failed++
			if len(r.Errors) < maxErrors && !slices.Contains(r.Errors, run.Err) {
				r.Errors = append(r.Errors, run.Err)
			}
			continue
		}
		if run.UploadBytes > 0 && run.Upload > 0 {
			up = append(up, 8*float64(run.UploadBytes)/run.Upload.Seconds())
		}
		if run.DownloadBytes > 0 && run.Download > 0 {
			down = append(down, 8*float64(run.DownloadBytes)/run.Download.Seconds())
		}
	}
	r.UploadBitsPerSecond = QuartilesOf(up)
	r.DownloadBitsPerSecond = QuartilesOf(down)
	r.ConnectionSeconds = QuartilesOf(conn)
	return r
}

// RoundTrips is the connection time in round trips of rtt: median
// ConnectionSeconds / rtt; NaN without either. A TCP+TLS+yamux connection
// and QUIC's differ in round trips, not in seconds, so this is the figure to
// compare across link delays.
func (r PerfResult) RoundTrips(rtt time.Duration) float64 {
	if r.ConnectionSeconds.N == 0 || rtt <= 0 {
		return math.NaN()
	}
	return r.ConnectionSeconds.Median / rtt.Seconds()
}
