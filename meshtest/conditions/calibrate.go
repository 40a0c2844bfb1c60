package conditions

import (
	"fmt"
	"math"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// Tolerances of a calibration, as the issue sets them.
const (
	// RTTTolerance is the share of the configured RTT a measured median may
	// be off by; RTTFloor is the least tolerance, for small latencies. This
	// machine's unshaped bridge adds about 0.05 ms, well inside the floor.
	RTTTolerance = 0.05
	RTTFloor     = time.Millisecond
	// LossTolerance is how far, as a fraction, a measured round-trip loss
	// may be from the configured one: one percentage point.
	LossTolerance = 0.01
	// ThroughputTolerance is the share of the expected rate a measured link
	// rate may be off by. The rate is measured as HTB counts it, on the
	// wire (payload and UDP, IP and Ethernet headers), by a paced UDP flood
	// sent above the rate: TCP would measure its own congestion control,
	// which on a long path (50 Mbit/s at 330 ms RTT) stays far under any
	// rate for seconds.
	ThroughputTolerance = 0.10
)

// minLossProbes is the fewest probes for which a loss check is decided:
// below 100, one lost probe is more than a percentage point, the resolution
// the check asks for. minReplies is the fewest replies a median RTT is taken
// from: with fewer, one late reply moves it.
const (
	minLossProbes = 100
	minReplies    = 10
)

// Expected is what a calibration should measure between two nodes.
type Expected struct {
	From string `json:"from"`
	To   string `json:"to"`
	// RTT is the configured round-trip time: the latencies of From→To and
	// To→From added, on top of the bridge's own.
	RTT time.Duration `json:"rtt_ns"`
	// RoundTripLoss is the probability a probe or its reply is lost.
	RoundTripLoss float64 `json:"round_trip_loss,omitempty"`
	// Throughput is what From→To carries alone, in bit/s on the wire; 0 for
	// unlimited.
	Throughput int64 `json:"throughput,omitempty"`
	// ForwardLoss is the loss of From→To alone: a flood arrives at
	// Throughput × (1 − ForwardLoss), the loss being applied after the rate.
	ForwardLoss float64 `json:"forward_loss,omitempty"`
}

// Expect returns what a calibration between from and to should measure.
func (c Conditions) Expect(from, to Node) Expected {
	return c.resolve([]Node{from, to}).expect(0, 1, from.Name, to.Name)
}

func (n *network) expect(i, j int, from, to string) Expected {
	ab, ba := n.path(i, j), n.path(j, i)
	return Expected{From: from, To: to, RTT: RTT(ab, ba), RoundTripLoss: RoundTripLoss(ab, ba), Throughput: ab.Throughput, ForwardLoss: ab.Loss}
}

// Measured is what a calibration measured between two nodes.
type Measured struct {
	From string `json:"from"`
	To   string `json:"to"`
	// RTT is the median round-trip time of the probes that came back.
	RTT time.Duration `json:"rtt_ns"`
	// RoundTripLoss is the share of probes that did not come back.
	RoundTripLoss float64 `json:"round_trip_loss"`
	// Probes is how many probes were sent.
	Probes int `json:"probes"`
	// Throughput is the rate From→To arrived at, in bit/s on the wire, of a
	// paced UDP flood sent above the path's rate with nothing else
	// running; 0 if not measured.
	Throughput float64 `json:"throughput,omitempty"`
}

// Outcome is the verdict on one figure.
type Outcome string

const (
	// Pass: the figure is within its tolerance.
	Pass Outcome = "pass"
	// Fail: it is not.
	Fail Outcome = "fail"
	// Undecided: the measurement cannot tell (too few probes, nothing
	// measured, nothing configured); never read it as a pass.
	Undecided Outcome = "undecided"
)

// Figures a calibration checks.
const (
	FigureRTT        = "rtt"
	FigureLoss       = "loss"
	FigureThroughput = "throughput"
	FigurePair       = "pair" // the measurement is not of the expected pair
)

// Result is the verdict on one figure of one pair. Want, Got and Tolerance
// are in the figure's unit: seconds for rtt, a fraction for loss, bit/s for
// throughput.
type Result struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Figure    string  `json:"figure"`
	Outcome   Outcome `json:"outcome"`
	Want      float64 `json:"want"`
	Got       float64 `json:"got"`
	Tolerance float64 `json:"tolerance"`
	// Note says why an undecided figure is undecided, or how a decided one
	// was compared.
	Note string `json:"note,omitempty"`
}

// String reads like "peer-001→bootstrap rtt: got 105.1ms, want 100ms ±5ms: fail".
func (r Result) String() string {
	s := fmt.Sprintf("%s→%s %s: ", r.From, r.To, r.Figure)
	switch r.Figure {
	case FigureRTT:
		d := func(x float64) time.Duration { return time.Duration(math.Round(x * 1e9)) }
		s += fmt.Sprintf("got %v, want %v ±%v: ", d(r.Got), d(r.Want), d(r.Tolerance))
	case FigureLoss:
		s += fmt.Sprintf("got %.2f%%, want %.2f%% ±%.2f pp: ", r.Got*100, r.Want*100, r.Tolerance*100)
	case FigureThroughput:
		s += fmt.Sprintf("got %.2f Mbit/s, want %.2f Mbit/s ±%.2f: ", r.Got/1e6, r.Want/1e6, r.Tolerance/1e6)
	}
	s += string(r.Outcome)
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// MinProbes is how many probes a loss check needs to be decided when the
// expected round-trip loss is p: enough that the binomial 3σ of the
// measured loss, 3·√(p(1−p)/n), is at most LossTolerance, and at least 100.
// For example 100 at 0 %, 891 at 1 %, 1,756 at 1.99 % (1 % each way), 4,275
// at 5 %.
func MinProbes(p float64) int {
	// The small epsilon keeps 9·p(1−p)/tol² from rounding up past a whole
	// number it equals (891.0000000000001 at 1 %).
	n := int(math.Ceil(9*p*(1-p)/(LossTolerance*LossTolerance) - 1e-9))
	return max(n, minLossProbes)
}

// Check compares a measurement with what the conditions configure, one
// Result per figure in the order rtt, loss, throughput:
//
//   - rtt passes within RTTTolerance (5 %) of the configured RTT or
//     RTTFloor (1 ms), whichever is larger; it is undecided on a cut path or
//     when fewer than 10 probes came back.
//   - loss passes within LossTolerance (1 percentage point); it is
//     undecided unless at least MinProbes(want) probes were sent.
//   - throughput compares the rate a paced UDP flood arrived at, on the
//     wire, with the configured rate less the path's forward loss, and
//     passes within ThroughputTolerance (10 %); it is undecided when not
//     measured or when the path has no rate.
//
// If got is not of the pair want describes, Check returns one failed
// FigurePair result instead.
func Check(want Expected, got Measured) []Result {
	base := Result{From: want.From, To: want.To}
	if got.From != want.From || got.To != want.To {
		r := base
		r.Figure, r.Outcome = FigurePair, Fail
		r.Note = fmt.Sprintf("measured %s→%s against the expectation for %s→%s", got.From, got.To, want.From, want.To)
		return []Result{r}
	}
	return []Result{checkRTT(base, want, got), checkLoss(base, want, got), checkThroughput(base, want, got)}
}

func checkRTT(r Result, want Expected, got Measured) Result {
	tol := max(time.Duration(math.Round(float64(want.RTT)*RTTTolerance)), RTTFloor)
	r.Figure, r.Want, r.Got, r.Tolerance = FigureRTT, want.RTT.Seconds(), got.RTT.Seconds(), tol.Seconds()
	replies := int(math.Round(float64(got.Probes) * (1 - got.RoundTripLoss)))
	switch {
	case want.RoundTripLoss >= 1:
		r.Outcome, r.Note = Undecided, "the path is cut: no probe can come back"
	case replies < minReplies:
		r.Outcome, r.Note = Undecided, fmt.Sprintf("%d probes came back; a median needs at least %d", replies, minReplies)
	case (got.RTT - want.RTT).Abs() <= tol:
		r.Outcome = Pass
	default:
		r.Outcome = Fail
	}
	return r
}

func checkLoss(r Result, want Expected, got Measured) Result {
	r.Figure, r.Want, r.Got, r.Tolerance = FigureLoss, want.RoundTripLoss, got.RoundTripLoss, LossTolerance
	need := MinProbes(want.RoundTripLoss)
	switch {
	case got.Probes < need:
		r.Outcome = Undecided
		r.Note = fmt.Sprintf("%d probes sent; at %s loss, telling it within 1 pp takes %d", got.Probes, shape.FormatLoss(want.RoundTripLoss), need)
	case math.Abs(got.RoundTripLoss-want.RoundTripLoss) <= LossTolerance:
		r.Outcome = Pass
	default:
		r.Outcome = Fail
	}
	return r
}

func checkThroughput(r Result, want Expected, got Measured) Result {
	rate := float64(want.Throughput) * (1 - want.ForwardLoss)
	tol := rate * ThroughputTolerance
	r.Figure, r.Want, r.Got, r.Tolerance = FigureThroughput, rate, got.Throughput, tol
	note := "a UDP flood's arrivals on the wire against the rate " + shape.FormatRate(want.Throughput)
	if want.ForwardLoss > 0 {
		note += fmt.Sprintf(" less %.2f%% loss", 100*want.ForwardLoss)
	}
	switch {
	case want.Throughput == 0:
		r.Outcome, r.Note = Undecided, "no rate on this path: nothing to compare with"
	case got.Throughput == 0:
		r.Outcome, r.Note = Undecided, "not measured"
	case math.Abs(got.Throughput-rate) <= tol:
		r.Outcome, r.Note = Pass, note
	default:
		r.Outcome, r.Note = Fail, note
	}
	return r
}

// Pair is a pair of nodes to measure and what the measurement should find.
type Pair struct {
	From, To Node
	Want     Expected
}

// Pick chooses the pairs of nodes a calibration measures: for every
// distinct expectation (RTT, round-trip loss and throughput) among the
// topology's edges, taken both ways, up to perClass pairs. Edges name nodes
// by Index, as topology.Graph's do. Classes come in the order their first
// edge does, and within a class the edges in their order, the second
// direction of an edge only if the first is in another class: its RTT is the
// same measurement. The same edges, nodes and conditions give the same
// pairs.
func (c Conditions) Pick(edges [][2]int, nodes []Node, perClass int) ([]Pair, error) {
	if perClass < 1 {
		return nil, fmt.Errorf("pick pairs: perClass %d; measure at least 1 pair per class", perClass)
	}
	if err := c.ValidateFor(nodes); err != nil {
		return nil, fmt.Errorf("pick pairs: %w", err)
	}
	pos := make(map[int]int, len(nodes))
	for i, n := range nodes {
		pos[n.Index] = i
	}
	net := c.resolve(nodes)
	type key struct {
		rtt        time.Duration
		loss       float64
		throughput int64
	}
	var (
		order  []key
		picked = make(map[key][]Pair)
		taken  = make(map[key]map[[2]int]bool) // unordered pairs already in a class
	)
	for k, e := range edges {
		a, okA := pos[e[0]]
		b, okB := pos[e[1]]
		if !okA || !okB || a == b {
			return nil, fmt.Errorf("pick pairs: edge %d (%d→%d) does not join two of the nodes given", k, e[0], e[1])
		}
		for _, d := range [][2]int{{a, b}, {b, a}} {
			from, to := nodes[d[0]], nodes[d[1]]
			want := net.expect(d[0], d[1], from.Name, to.Name)
			cl := key{want.RTT, want.RoundTripLoss, want.Throughput}
			if _, ok := picked[cl]; !ok {
				order = append(order, cl)
				picked[cl] = nil
				taken[cl] = make(map[[2]int]bool)
			}
			u := [2]int{min(a, b), max(a, b)}
			if len(picked[cl]) >= perClass || taken[cl][u] {
				continue
			}
			taken[cl][u] = true
			picked[cl] = append(picked[cl], Pair{From: from, To: to, Want: want})
		}
	}
	var out []Pair
	for _, cl := range order {
		out = append(out, picked[cl]...)
	}
	return out, nil
}
