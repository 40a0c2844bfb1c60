package regress_test

import (
	"fmt"

	"github.com/meshtest/meshtest/meshtest/regress"
)

// A pull request against main, five interleaved runs each on one machine.
// Bytes per connection rose 23 %, well beyond the noise: a regression.
// Goroutines per connection moved within their noise, so the comparison
// says no significant change and how large a change it could have seen.
// Bring-up time doubled, but it measures Docker and is not gated.
func ExampleCompareAB() {
	report := regress.CompareAB([]regress.ABFigure{
		{Name: "bootstrap_bytes_per_conn", Unit: "B/conn", Gate: true, HigherIsWorse: true,
			Base: []float64{14100, 14200, 14000, 14150, 14050},
			Head: []float64{17300, 17500, 17400, 17350, 17450}},
		{Name: "bootstrap_goroutines_per_conn", Unit: "goroutines/conn", Gate: true, HigherIsWorse: true,
			Base: []float64{2.0, 2.2, 1.9, 2.1, 2.0},
			Head: []float64{2.1, 2.0, 2.2, 1.9, 2.05}},
		{Name: "bring_up_s", Unit: "s", HigherIsWorse: true,
			Base: []float64{4.1, 4.2, 4.0, 4.3, 4.2},
			Head: []float64{9.0, 9.1, 9.3, 8.9, 9.2}},
	}, regress.ABOptions{})
	report.BaseName, report.HeadName = "main", "pr-7"
	fmt.Print(report.Text())
	fmt.Println("failed:", report.Failed())
	// Output:
	// figure                         base                  head                  ratio  95 % interval  p      runs  smallest detectable  verdict
	// bootstrap_bytes_per_conn       14.1 kB/conn          17.4 kB/conn          1.234  1.223 – 1.246  0.008  5/5   ±0.9 %               regression
	// bootstrap_goroutines_per_conn  2.00 goroutines/conn  2.05 goroutines/conn  1.025  0.909 – 1.100  0.976  5/5   ±10.0 %              no significant change
	// bring_up_s                     4.20 s                9.10 s                2.167  2.116 – 2.275  0.008  5/5   ±4.2 %               regression (not gated)
	// pr-7 against main: regression: bootstrap_bytes_per_conn (+23.4 %, p=0.008); 1 of 2 gated figures without a significant change
	// failed: true
}
