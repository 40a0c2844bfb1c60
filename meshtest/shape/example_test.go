package shape_test

import (
	"fmt"

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
