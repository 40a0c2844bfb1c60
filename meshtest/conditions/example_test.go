package conditions_test

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
)

// nodes is a star's bootstrap and three peers as the fixture names them.
func nodes() []conditions.Node {
	ns := []conditions.Node{{Index: 0, Name: "bootstrap", Role: "bootstrap", Addr: netip.MustParseAddr("172.18.0.2")}}
	for i := 1; i <= 3; i++ {
		ns = append(ns, conditions.Node{Index: i, Name: fmt.Sprintf("peer-%03d", i), Role: "peer", Addr: netip.AddrFrom4([4]byte{172, 18, 0, byte(2 + i)})})
	}
	return ns
}

// Conditions are written as a file (or built as a value), and compile into
// the rules each node's shaper applies: delay and loss at the receiver,
// rates at the sender.
func Example() {
	c, err := conditions.Parse(strings.NewReader(`{
		"link": "latency=10ms",
		"nodes": [{"select": "bootstrap", "up": "latency=50ms", "down": "latency=50ms,rate=10mbit"}],
		"links": [{"from": "peer-001", "to": "bootstrap", "link": "loss=1%", "both": true}]
	}`), "star.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	ns := nodes()
	fmt.Println("peer-001→bootstrap:", c.Path(ns[1], ns[0]))
	fmt.Println("peer-002→bootstrap:", c.Path(ns[2], ns[0]))
	fmt.Println("peer-002→peer-003: ", c.Path(ns[2], ns[3]))

	rules, err := c.Compile(ns, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rules["bootstrap"].From {
		fmt.Println("at bootstrap, from", r.Src, "wait", r.Latency, "lose", r.Loss)
	}
	fmt.Println("bootstrap ingress rate:", rules["bootstrap"].IngressRate)
	// Output:
	// peer-001→bootstrap: latency=50ms,loss=1%,throughput=10mbit
	// peer-002→bootstrap: latency=60ms,throughput=10mbit
	// peer-002→peer-003:  latency=10ms
	// at bootstrap, from [172.18.0.3] wait 50ms lose 0.01
	// at bootstrap, from [172.18.0.4 172.18.0.5] wait 60ms lose 0
	// bootstrap ingress rate: 10000000
}

// A calibration measures a few pairs of each kind and checks each figure;
// one it cannot tell is undecided, not passed.
func ExampleCheck() {
	c := conditions.Conditions{Link: shape.Link{Latency: 50 * time.Millisecond}}
	ns := nodes()
	edges := [][2]int{{1, 0}, {2, 0}, {3, 0}}
	pairs, err := c.Pick(edges, ns, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range pairs {
		got := conditions.Measured{From: p.From.Name, To: p.To.Name, RTT: 100300 * time.Microsecond, Probes: 500}
		for _, r := range conditions.Check(p.Want, got) {
			fmt.Println(r)
		}
	}
	// Output:
	// peer-001→bootstrap rtt: got 100.3ms, want 100ms ±5ms: pass
	// peer-001→bootstrap loss: got 0.00%, want 0.00% ±1.00 pp: pass
	// peer-001→bootstrap throughput: got 0.00 Mbit/s, want 0.00 Mbit/s ±0.00: undecided (no rate on this path: nothing to compare with)
}
