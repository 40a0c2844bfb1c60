package conditions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func outcomes(rs []Result) map[string]Outcome {
	out := map[string]Outcome{}
	for _, r := range rs {
		out[r.Figure] = r.Outcome
	}
	return out
}

func TestCheckRTT(t *testing.T) {
	tests := []struct {
		want, got time.Duration
		outcome   Outcome
	}{
		{ms(100), ms(100), Pass},
		{ms(100), ms(104.9), Pass},
		{ms(100), ms(105), Pass}, // the edge is in
		{ms(100), ms(105.1), Fail},
		{ms(100), ms(95.1), Pass},
		{ms(100), ms(94.9), Fail},
		{ms(440), ms(461), Pass}, // 5 % of 440 ms is 22 ms
		{ms(440), ms(463), Fail},
		// The 1 ms floor at small latencies.
		{ms(10), ms(10.9), Pass},
		{ms(10), ms(11.1), Fail},
		{ms(10), ms(9.1), Pass},
		{ms(10), ms(8.9), Fail},
		{ms(20), ms(20.95), Pass}, // 5 % of 20 ms is 1 ms, the floor
		{ms(20), ms(21.05), Fail},
		// No conditions: the bridge's own 0.05 ms is inside the floor.
		{0, ms(0.05), Pass},
		{0, ms(1.2), Fail},
	}
	for _, tt := range tests {
		want := Expected{From: "a", To: "b", RTT: tt.want}
		got := Measured{From: "a", To: "b", RTT: tt.got, Probes: 100}
		r := Check(want, got)[0]
		assert.Equal(t, FigureRTT, r.Figure)
		assert.Equal(t, tt.outcome, r.Outcome, "want %v, got %v: %v", tt.want, tt.got, r)
	}
}

func TestCheckRTTUndecided(t *testing.T) {
	r := Check(Expected{From: "a", To: "b", RTT: ms(100)}, Measured{From: "a", To: "b", RTT: ms(100), Probes: 9})[0]
	assert.Equal(t, Undecided, r.Outcome)
	assert.Contains(t, r.Note, "9 probes came back; a median needs at least 10")
	// 20 probes at half loss: 10 replies, enough.
	r = Check(Expected{From: "a", To: "b", RTT: ms(100), RoundTripLoss: 0.5}, Measured{From: "a", To: "b", RTT: ms(100), Probes: 20, RoundTripLoss: 0.5})[0]
	assert.Equal(t, Pass, r.Outcome)
	r = Check(Expected{From: "a", To: "b", RTT: ms(100), RoundTripLoss: 1}, Measured{From: "a", To: "b", Probes: 5000, RoundTripLoss: 1})[0]
	assert.Equal(t, Undecided, r.Outcome)
	assert.Contains(t, r.Note, "cut")
}

func TestMinProbes(t *testing.T) {
	for _, tt := range []struct {
		p    float64
		want int
	}{{0, 100}, {0.0001, 100}, {0.001, 100}, {0.01, 891}, {1 - 0.99*0.99, 1756}, {0.05, 4275}, {0.5, 22500}, {1, 100}} {
		assert.Equal(t, tt.want, MinProbes(tt.p), "p=%v", tt.p)
	}
}

func TestCheckLoss(t *testing.T) {
	tests := []struct {
		name    string
		want    float64
		got     float64
		probes  int
		outcome Outcome
	}{
		{"exact", 0.01, 0.01, 1000, Pass},
		{"within 1 pp", 0.0199, 0.0298, 2000, Pass},
		{"beyond 1 pp", 0.0199, 0.0301, 2000, Fail},
		{"below, within", 0.05, 0.0401, 5000, Pass},
		{"below, beyond", 0.05, 0.0399, 5000, Fail},
		{"just enough probes", 0.01, 0.012, 891, Pass},
		{"one probe short", 0.01, 0.012, 890, Undecided},
		{"too few to tell even a gross error", 0.05, 0.2, 1000, Undecided},
		{"no loss configured, 100 probes", 0, 0, 100, Pass},
		{"no loss configured, 1 of 100 lost", 0, 0.01, 100, Pass},
		{"no loss configured, 2 of 100 lost", 0, 0.02, 100, Fail},
		{"no loss configured, 99 probes", 0, 0, 99, Undecided},
		{"cut", 1, 1, 100, Pass},
		{"cut, yet answered", 1, 0.5, 100, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Check(Expected{From: "a", To: "b", RTT: ms(50), RoundTripLoss: tt.want}, Measured{From: "a", To: "b", RTT: ms(50), RoundTripLoss: tt.got, Probes: tt.probes})
			r := rs[1]
			assert.Equal(t, FigureLoss, r.Figure)
			assert.Equal(t, tt.outcome, r.Outcome, "%v", r)
		})
	}
}

func TestCheckThroughput(t *testing.T) {
	tests := []struct {
		name    string
		want    Expected
		got     float64
		outcome Outcome
		note    string
	}{
		{"3 % under the rate", Expected{Throughput: 10e6}, 9.7e6, Pass, "arrivals on the wire against the rate 10mbit"},
		{"the edge below", Expected{Throughput: 10e6}, 9.0e6, Pass, ""},
		{"beyond, below", Expected{Throughput: 10e6}, 8.99e6, Fail, ""},
		{"beyond, above", Expected{Throughput: 10e6}, 11.01e6, Fail, ""},
		{"not measured", Expected{Throughput: 10e6}, 0, Undecided, "not measured"},
		{"no rate configured", Expected{}, 940e6, Undecided, "no rate on this path"},
		{"a lossy path, its loss taken off", Expected{Throughput: 10e6, RoundTripLoss: 0.2, ForwardLoss: 0.1}, 8.6e6, Pass, "less 10.00% loss"},
		{"a lossy path, less than its loss explains", Expected{Throughput: 10e6, ForwardLoss: 0.1}, 8.0e6, Fail, "less 10.00% loss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.From, tt.want.To = "a", "b"
			r := Check(tt.want, Measured{From: "a", To: "b", Throughput: tt.got})[2]
			assert.Equal(t, FigureThroughput, r.Figure)
			assert.Equal(t, tt.outcome, r.Outcome, "%v", r)
			assert.Contains(t, r.Note, tt.note)
		})
	}
}

func TestCheckPair(t *testing.T) {
	rs := Check(Expected{From: "a", To: "b"}, Measured{From: "b", To: "a", Probes: 1000})
	require.Len(t, rs, 1)
	assert.Equal(t, Fail, rs[0].Outcome)
	assert.Equal(t, "a→b pair: fail (measured b→a against the expectation for a→b)", rs[0].String())
}

func TestResultString(t *testing.T) {
	rs := Check(
		Expected{From: "peer-001", To: "bootstrap", RTT: ms(100), RoundTripLoss: 0.0199, Throughput: 10e6},
		Measured{From: "peer-001", To: "bootstrap", RTT: ms(105.1), RoundTripLoss: 0.021, Probes: 1000, Throughput: 9.4e6},
	)
	require.Len(t, rs, 3)
	assert.Equal(t, "peer-001→bootstrap rtt: got 105.1ms, want 100ms ±5ms: fail", rs[0].String())
	assert.Equal(t, "peer-001→bootstrap loss: got 2.10%, want 1.99% ±1.00 pp: undecided (1000 probes sent; at 1.99% loss, telling it within 1 pp takes 1756)", rs[1].String())
	assert.Equal(t, "peer-001→bootstrap throughput: got 9.40 Mbit/s, want 10.00 Mbit/s ±1.00: pass (a UDP flood's arrivals on the wire against the rate 10mbit)", rs[2].String())
	assert.Equal(t, map[string]Outcome{"rtt": Fail, "loss": Undecided, "throughput": Pass}, outcomes(rs))
}

func TestExpect(t *testing.T) {
	nodes := mesh(2)
	c := Conditions{
		Link:  link("latency=10ms,rate=10mbit"),
		Nodes: []NodeRule{{Select: "bootstrap", Up: link("latency=50ms,loss=1%"), Down: link("latency=50ms,rate=5mbit")}},
	}
	assert.Equal(t, Expected{From: "peer-001", To: "bootstrap", RTT: ms(120), RoundTripLoss: 0.01, Throughput: 5e6}, c.Expect(nodes[1], nodes[0]))
	assert.Equal(t, Expected{From: "bootstrap", To: "peer-001", RTT: ms(120), RoundTripLoss: 0.01, Throughput: 10e6, ForwardLoss: 0.01}, c.Expect(nodes[0], nodes[1]))
}

func TestPick(t *testing.T) {
	nodes := mesh(9)
	star := [][2]int{{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0}, {8, 0}}
	c := Conditions{
		Nodes: []NodeRule{{Select: "bootstrap", Up: link("latency=50ms"), Down: link("latency=50ms,rate=10mbit")}},
		Links: []LinkRule{{From: "peer-00[5-8]", To: "bootstrap", Link: link("latency=10ms"), Both: true}},
	}
	pairs, err := c.Pick(star, nodes, 2)
	require.NoError(t, err)
	type pick struct {
		from, to string
		rtt      time.Duration
		rate     int64
	}
	var got []pick
	for _, p := range pairs {
		assert.Equal(t, c.Expect(p.From, p.To), p.Want)
		got = append(got, pick{p.From.Name, p.To.Name, p.Want.RTT, p.Want.Throughput})
	}
	// Four classes: RTT 100 or 120 ms, each direction with or without the
	// bootstrap's 10 Mbit/s downlink; two pairs each, in the order of the
	// edges.
	assert.Equal(t, []pick{
		{"peer-001", "bootstrap", ms(100), 10e6},
		{"peer-002", "bootstrap", ms(100), 10e6},
		{"bootstrap", "peer-001", ms(100), 0},
		{"bootstrap", "peer-002", ms(100), 0},
		{"peer-005", "bootstrap", ms(120), 10e6},
		{"peer-006", "bootstrap", ms(120), 10e6},
		{"bootstrap", "peer-005", ms(120), 0},
		{"bootstrap", "peer-006", ms(120), 0},
	}, got)

	again, err := c.Pick(star, nodes, 2)
	require.NoError(t, err)
	assert.Equal(t, pairs, again)
}

// Where both directions of an edge are one class, the reverse is the same
// measurement: Pick takes another edge instead.
func TestPickSymmetric(t *testing.T) {
	nodes := mesh(4)
	line := [][2]int{{1, 0}, {2, 1}, {3, 2}}
	pairs, err := Conditions{Link: link("latency=25ms")}.Pick(line, nodes, 2)
	require.NoError(t, err)
	require.Len(t, pairs, 2)
	assert.Equal(t, "peer-001", pairs[0].From.Name)
	assert.Equal(t, "bootstrap", pairs[0].To.Name)
	assert.Equal(t, "peer-002", pairs[1].From.Name)
	assert.Equal(t, "peer-001", pairs[1].To.Name)
	assert.Equal(t, ms(50), pairs[1].Want.RTT)
}

func TestPickErrors(t *testing.T) {
	nodes := mesh(3)
	_, err := Conditions{}.Pick([][2]int{{1, 0}}, nodes, 0)
	assert.ErrorContains(t, err, "perClass 0")
	_, err = Conditions{}.Pick([][2]int{{1, 0}, {7, 0}}, nodes, 1)
	assert.ErrorContains(t, err, "edge 1 (7→0) does not join two of the nodes given")
	_, err = Conditions{}.Pick([][2]int{{1, 1}}, nodes, 1)
	assert.ErrorContains(t, err, "edge 0 (1→1)")
	_, err = Conditions{Nodes: []NodeRule{{Select: "nobody"}}}.Pick([][2]int{{1, 0}}, nodes, 1)
	assert.ErrorContains(t, err, `pick pairs: nodes[0].select: "nobody" picks no node`)
}
