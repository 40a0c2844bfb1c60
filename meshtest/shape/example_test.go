package shape_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// A shape is written as people type it on a command line, validated, and
// applied by a helper in the node's network namespace (shape.Apply, or
// cmd/meshshaper).
func ExampleParseLink() {
	in, err := shape.ParseLink("latency=50ms,jitter=5ms,loss=1%,rate=10mbit")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := shape.Shape{Ingress: in, Egress: shape.Link{Rate: 10_000_000}}
	fmt.Println(s.Validate() == nil, in.Latency, in.Loss, in.Rate)

	_, err = shape.ParseLink("latency=5ms,jitter=10ms")
	fmt.Println(err)
	// Output:
	// true 50ms 0.01 10000000
	// parse link "latency=5ms,jitter=10ms": link.jitter: 10ms exceeds latency 5ms, so delays would go negative; lower jitter to at most the latency
}

// Rules are what the harness sends a node's helper: here, the node hears
// 172.18.0.3 25 ms late, is cut off from 172.18.0.4, and sends to 172.18.0.3
// at 5 Mbit/s; every other peer, the harness and Prometheus pass untouched.
// Validate names each problem by its JSON field.
func ExampleRules_Validate() {
	peer, cut := netip.MustParseAddr("172.18.0.3"), netip.MustParseAddr("172.18.0.4")
	r := shape.Rules{
		To: []shape.RateRule{{Dst: []netip.Addr{peer}, Rate: 5_000_000}},
		From: []shape.PathRule{
			{Src: []netip.Addr{peer}, Latency: 25 * time.Millisecond},
			{Src: []netip.Addr{cut}, Loss: 1},
		},
	}
	fmt.Println(r.Validate())

	r.From[1].Loss = 2
	r.From = append(r.From, shape.PathRule{Src: []netip.Addr{netip.MustParseAddr("fd00::3")}})
	fmt.Println(r.Validate())
	// Output:
	// <nil>
	// from[1].loss: 2 is not a probability in 0..1; write 0.01 or 1% for one percent
	// from[2].src[0]: fd00::3 is IPv6; only IPv4 paths are shaped, so give the node's IPv4 address
}
