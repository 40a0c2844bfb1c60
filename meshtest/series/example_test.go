package series_test

import (
	"fmt"
	"os"
	"time"

	"github.com/meshtest/meshtest/meshtest/series"
)

// A star of a bootstrap and two peers, sampled twice: the numbers a test
// asserts on, and the proof that the star held.
func Example() {
	rec := &series.Table{Interval: time.Second}
	for round := range 2 {
		at := time.Duration(round) * time.Second
		rec.Samples = append(rec.Samples,
			series.Sample{Round: round, Elapsed: at, Node: "bootstrap", Role: "bootstrap",
				Values: map[string]float64{"connections": 2, "goroutines": 74}},
			series.Sample{Round: round, Elapsed: at, Node: "peer-1", Role: "peer",
				Values: map[string]float64{"connections": 1, "goroutines": 60 + float64(round)}},
			series.Sample{Round: round, Elapsed: at, Node: "peer-2", Role: "peer",
				Values: map[string]float64{"connections": 1, "goroutines": 62 + float64(round)}},
		)
	}

	boot, peer := rec.Role("bootstrap"), rec.Role("peer")
	fmt.Println("bootstrap goroutines:", boot.Mean("goroutines"))
	fmt.Println("peer goroutines:", peer.Mean("goroutines"))
	spread := peer.Spread("goroutines") // of the peers' time means: 60.5 and 62.5
	fmt.Printf("peers alike: p95/p50 = %.3f\n", spread.P95/spread.P50)

	star := func(node, role string) float64 {
		if role == "bootstrap" {
			return 2
		}
		return 1
	}
	fmt.Println("violations:", rec.Check("connections", star))

	_ = rec.WriteCSV(os.Stdout)
	// Output:
	// bootstrap goroutines: 74
	// peer goroutines: 61.5
	// peers alike: p95/p50 = 1.015
	// violations: []
	// round,elapsed_s,node,role,connections,goroutines
	// 0,0,bootstrap,bootstrap,2,74
	// 0,0,peer-1,peer,1,60
	// 0,0,peer-2,peer,1,62
	// 1,1,bootstrap,bootstrap,2,74
	// 1,1,peer-1,peer,1,61
	// 1,1,peer-2,peer,1,63
}

// Fit finds the cost of one more connection across the runs of a sweep.
func ExampleFit() {
	peers := []float64{10, 50, 100, 250}
	bootMem := []float64{9.7e6, 14.1e6, 19.6e6, 36.1e6}
	line, err := series.Fit(peers, bootMem)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.0f bytes per peer, %.1f MB idle, R² = %.4f\n", line.Slope, line.Intercept/1e6, line.R2)
	// Output:
	// 110000 bytes per peer, 8.6 MB idle, R² = 1.0000
}
