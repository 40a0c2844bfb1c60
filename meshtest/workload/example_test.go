package workload_test

import (
	"fmt"
	"time"

	"github.com/meshtest/meshtest/meshtest/workload"
)

// Two messages over a line of three nodes, a – b – c: the one from a reaches
// b, then c through b; the one from c never reaches a. A line is a tree, so
// no node should see a duplicate, and the floor says so.
func ExampleGossip() {
	t0 := time.Unix(1_700_000_000, 0)
	m1, m2 := workload.NewMessageID().String(), workload.NewMessageID().String()
	in := workload.GossipInput{
		Messages: []workload.Message{
			{ID: m1, From: "a", At: t0},
			{ID: m2, From: "c", At: t0.Add(time.Second)},
		},
		Subscribers: []string{"a", "b", "c"},
		Deliveries: []workload.Delivery{
			{Node: "b", ID: m1, At: t0.Add(20 * time.Millisecond)},
			{Node: "c", ID: m1, At: t0.Add(45 * time.Millisecond)},
			{Node: "b", ID: m2, At: t0.Add(time.Second + 30*time.Millisecond)},
		},
		MeshDegree: map[string]int{"a": 1, "b": 2, "c": 1},
	}
	r := workload.Gossip(in)
	fmt.Printf("delivered %d of %d (%.0f%%)\n", r.Delivered, r.Expected, 100*r.DeliveryRatio)
	for _, x := range r.Reach {
		fmt.Printf("reach %v: %d messages, slowest %.3f s\n", x.Fraction, x.Reached, x.Max)
	}
	fmt.Printf("delay p50 %.3f s, duplicates mean %.2f (floor %.2f)\n", r.Delay.P50, r.Duplicates.Mean, r.DuplicatesFloor)
	fmt.Println("c:", r.PerNode["c"].Delivered, "of", r.PerNode["c"].Expected)
	// Output:
	// delivered 3 of 4 (75%)
	// reach 0.5: 2 messages, slowest 0.030 s
	// reach 0.9: 1 messages, slowest 0.045 s
	// reach 0.99: 1 messages, slowest 0.045 s
	// reach 1: 1 messages, slowest 0.045 s
	// delay p50 0.030 s, duplicates mean 0.00 (floor 0.00)
	// c: 1 of 1
}
