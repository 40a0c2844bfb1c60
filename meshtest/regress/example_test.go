package regress_test

import (
	"errors"
	"fmt"

	"github.com/meshtest/meshtest/meshtest/regress"
)

// A pull request's run held against the stored baseline: the bootstrap now
// spends 23 % more memory per connection than the 10 % band allows. Bring-up
// time doubled too, but it measures Docker on this machine and is not gated.
func Example() {
	base, err := regress.Read("testdata/star.json")
	if errors.Is(err, regress.ErrNoBaseline) {
		fmt.Println(err) // tells the user to run "make baseline"
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}

	// In the benchmark these are the headline figures of each -count run.
	up := regress.FromRuns("bring_up_s", []float64{8.8, 9.4}, "s")
	up.Gate = false // Docker's start time on this machine, not the node's cost
	now := &regress.Set{
		Params: map[string]string{"peers": "10", "duration_s": "15", "image": "meshtest-node:dev"},
		Figures: []regress.Figure{
			regress.FromRuns("bootstrap_bytes_per_conn", []float64{17300, 17500}, "B/conn"),
			regress.FromRuns("bootstrap_goroutines_per_conn", []float64{2.01, 2.01}, "goroutines/conn"),
			regress.FromRuns("bootstrap_cpu_seconds_per_conn_per_s", []float64{0.000118, 0.000125}, "cpu-s/conn/s"),
			regress.FromRuns("peer_mem_bytes", []float64{16.2e6, 16.4e6}, "B"),
			up,
		},
	}

	report := regress.Compare(base, now, regress.Options{})
	fmt.Print(report.Text())
	fmt.Println("failed:", report.Failed())
	// Output:
	// figure                                baseline              now                    change    allowed  verdict
	// bootstrap_bytes_per_conn              14.1 kB/conn          17.4 kB/conn           +23.4 %   ±10.0 %  worse
	// bootstrap_cpu_seconds_per_conn_per_s  0.00012 cpu-s/conn/s  0.000121 cpu-s/conn/s  +1.2 %    ±24.0 %  ok
	// bootstrap_goroutines_per_conn         2.01 goroutines/conn  2.01 goroutines/conn   +0.0 %    ±10.0 %  ok
	// bring_up_s                            4.20 s                9.10 s                 +116.7 %  ±45.0 %  worse (not gated)
	// peer_mem_bytes                        16.3 MB               16.3 MB                -0.1 %    ±10.0 %  ok
	// regression: bootstrap_bytes_per_conn (+23.4 %)
	// failed: true
}
