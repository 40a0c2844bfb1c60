package experiments_test

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meshtest/meshtest/meshtest"
)

var (
	sweepSizes = flag.String("sweep", "10,25,50,100", "peer counts BenchmarkStar sweeps, comma-separated")
	grow       = flag.Bool("grow", false, "BenchmarkStar grows one mesh through the sweep instead of starting a fresh mesh per size")
)

// Headline figures of a star, by name: what people compare between runs
// and versions of a node (meshtest.StarMetrics).
const (
	figBytesPerConn      = "bootstrap_bytes_per_conn"
	figGoroutinesPerConn = "bootstrap_goroutines_per_conn"
)

// starSweep gathers every run of BenchmarkStar in this process, so that
// repeated runs (-count) report how noisy each figure was.
var starSweep meshtest.Sweep

// BenchmarkStar measures a star at each size of -sweep, a fresh mesh per
// size (or one grown mesh with -grow), reports per-connection figures
// benchstat can compare (`benchstat -col /peers old.txt new.txt`), and fits
// the bootstrap's memory and goroutines against n over the sweep.
func BenchmarkStar(b *testing.B) {
	ns, err := parseSweep(*sweepSizes)
	if err != nil {
		b.Fatalf("-sweep: %v", err)
	}
	cfg, err := flags.Config("bench-star")
	if err != nil {
		b.Fatalf("flags: %v", err)
	}
	meshtest.RequireDocker(b)
	starSweep.Sizes, starSweep.Grow, starSweep.Duration = ns, *grow, flags.Duration
	starSweep.Run(b, cfg)
}

func parseSweep(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > meshtest.MaxNetworks*meshtest.DefaultNetworkSize {
			return nil, fmt.Errorf("%q: want peer counts between 1 and %d, e.g. -sweep=10,25,50,100", f, meshtest.MaxNetworks*meshtest.DefaultNetworkSize)
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return slices.Compact(ns), nil
}
