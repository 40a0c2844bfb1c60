package workload

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/series"
)

var t0 = time.Unix(1_700_000_000, 0)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// handBuilt is 3 messages over 5 subscribers, each published by a
// subscriber, so each is expected at 4 nodes. It holds one message missing
// at one node (m2 at e), one delivery before publish (m2 at c), one unknown
// message, one delivery at the publisher and one (node, message) pair
// given twice, the later copy first.
func handBuilt() GossipInput {
	const m1, m2, m3 = "m1", "m2", "m3"
	at1, at2, at3 := t0, t0.Add(time.Second), t0.Add(2*time.Second)
	return GossipInput{
		Messages: []Message{
			{ID: m1, From: "a", At: at1},
			{ID: m2, From: "b", At: at2},
			{ID: m3, From: "c", At: at3},
		},
		Subscribers: []string{"a", "b", "c", "d", "e"},
		Deliveries: []Delivery{
			{Node: "b", ID: m1, At: at1.Add(ms(100)), Duplicates: 2},
			{Node: "c", ID: m1, At: at1.Add(ms(200)), Duplicates: 3},
			{Node: "d", ID: m1, At: at1.Add(ms(300)), Duplicates: 1},
			{Node: "e", ID: m1, At: at1.Add(ms(400)), Duplicates: -1},

			{Node: "a", ID: m2, At: at2.Add(ms(150)), Duplicates: 0},
			{Node: "b", ID: m2, At: at2, Duplicates: 7},              // at its publisher: ignored
			{Node: "c", ID: m2, At: at2.Add(-ms(50)), Duplicates: 2}, // before publish: delay 0
			{Node: "d", ID: m2, At: at2.Add(ms(250)), Duplicates: 4},

			{Node: "d", ID: m3, At: at3.Add(ms(700)), Duplicates: 9}, // later copy of d's: ignored
			{Node: "a", ID: m3, At: at3.Add(ms(100)), Duplicates: 1},
			{Node: "b", ID: m3, At: at3.Add(ms(200)), Duplicates: 1},
			{Node: "d", ID: m3, At: at3.Add(ms(300)), Duplicates: 2},
			{Node: "e", ID: m3, At: at3.Add(ms(500)), Duplicates: 3},

			{Node: "e", ID: "ff", At: at3, Duplicates: 0}, // unknown
		},
		MeshDegree: map[string]int{"a": 2, "b": 3, "c": 4, "d": 3, "e": 3, "outsider": 40},
	}
}

func TestGossipHandBuilt(t *testing.T) {
	r := Gossip(handBuilt())

	assert.Equal(t, 3, r.Messages)
	assert.Equal(t, 5, r.Subscribers)
	assert.Equal(t, 12, r.Expected)
	assert.Equal(t, 11, r.Delivered)
	assert.InDelta(t, 11.0/12, r.DeliveryRatio, 1e-12)
	assert.Equal(t, 1, r.Unknown)

	// Delays, sorted: 0 .1 .1 .15 .2 .2 .25 .3 .3 .4 .5; they sum to 2.5.
	assert.Equal(t, 11, r.Delay.N)
	assert.InDelta(t, 2.5/11, r.Delay.Mean, 1e-12)
	assert.InDelta(t, 0, r.Delay.Min, 1e-12)
	assert.InDelta(t, 0.2, r.Delay.P50, 1e-12)
	assert.InDelta(t, 0.45, r.Delay.P95, 1e-12) // rank 9.5: between .4 and .5
	assert.InDelta(t, 0.5, r.Delay.Max, 1e-12)

	// Duplicates without e's -1 and d's ignored 9: 0 1 1 1 2 2 2 3 3 4.
	assert.Equal(t, 10, r.Duplicates.N)
	assert.InDelta(t, 1.9, r.Duplicates.Mean, 1e-12)
	assert.InDelta(t, 0, r.Duplicates.Min, 1e-12)
	assert.InDelta(t, 2, r.Duplicates.P50, 1e-12)
	assert.InDelta(t, 3.55, r.Duplicates.P95, 1e-12)
	assert.InDelta(t, 4, r.Duplicates.Max, 1e-12)

	// Mean mesh degree of the subscribers is 3 (the outsider is not one).
	assert.InDelta(t, 0.5, r.DuplicatesFloor, 1e-12)

	// E = 4: half is the 2nd delivery (.2, .15, .2); 0.9, 0.99 and all are
	// the 4th (.4 and .5), which m2 never had.
	want := []Reach{
		{Fraction: 0.5, Reached: 3, P50: 0.2, P90: 0.2, P99: 0.2, Max: 0.2},
		{Fraction: 0.9, Reached: 2, P50: 0.45, P90: 0.49, P99: 0.499, Max: 0.5},
		{Fraction: 0.99, Reached: 2, P50: 0.45, P90: 0.49, P99: 0.499, Max: 0.5},
		{Fraction: 1, Reached: 2, P50: 0.45, P90: 0.49, P99: 0.499, Max: 0.5},
	}
	require.Len(t, r.Reach, len(want))
	for i, w := range want {
		assertReach(t, w, r.Reach[i])
	}

	wantNodes := map[string]NodeGossip{
		"a": {Delivered: 2, Expected: 2, Duplicates: 0.5, MeshDegree: 2},
		"b": {Delivered: 2, Expected: 2, Duplicates: 1.5, MeshDegree: 3},
		"c": {Delivered: 2, Expected: 2, Duplicates: 2.5, MeshDegree: 4},
		"d": {Delivered: 3, Expected: 3, Duplicates: 7.0 / 3, MeshDegree: 3},
		"e": {Delivered: 2, Expected: 3, Duplicates: 3, MeshDegree: 3},
	}
	require.Len(t, r.PerNode, len(wantNodes))
	for name, w := range wantNodes {
		got := r.PerNode[name]
		assert.InDelta(t, w.Duplicates, got.Duplicates, 1e-12, "node %s", name)
		got.Duplicates = w.Duplicates
		assert.Equal(t, w, got, "node %s", name)
	}
}

func assertReach(t *testing.T, want, got Reach) {
	t.Helper()
	assert.Equal(t, want.Fraction, got.Fraction)
	assert.Equal(t, want.Reached, got.Reached, "reached %v", want.Fraction)
	assert.InDelta(t, want.P50, got.P50, 1e-12, "p50 at %v", want.Fraction)
	assert.InDelta(t, want.P90, got.P90, 1e-12, "p90 at %v", want.Fraction)
	assert.InDelta(t, want.P99, got.P99, 1e-12, "p99 at %v", want.Fraction)
	assert.InDelta(t, want.Max, got.Max, 1e-12, "max at %v", want.Fraction)
}

// The result must not depend on the order the fixture collected records in.
func TestGossipDeterministic(t *testing.T) {
	in := handBuilt()
	want, err := json.Marshal(Gossip(in))
	require.NoError(t, err)
	cdf := DeliveryCDF(in)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(in.Deliveries), func(i, j int) {
			in.Deliveries[i], in.Deliveries[j] = in.Deliveries[j], in.Deliveries[i]
		})
		rng.Shuffle(len(in.Subscribers), func(i, j int) {
			in.Subscribers[i], in.Subscribers[j] = in.Subscribers[j], in.Subscribers[i]
		})
		got, err := json.Marshal(Gossip(in))
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got))
		require.Equal(t, cdf, DeliveryCDF(in))
	}
}

// A pair given twice at the same time keeps one of them whatever the order.
func TestGossipTiedPair(t *testing.T) {
	msg := Message{ID: "m", From: "a", At: t0}
	x := Delivery{Node: "b", ID: "m", At: t0.Add(time.Second), Duplicates: 1}
	y := x
	y.Duplicates = 5
	for _, ds := range [][]Delivery{{x, y}, {y, x}} {
		r := Gossip(GossipInput{Messages: []Message{msg}, Subscribers: []string{"a", "b"}, Deliveries: ds})
		assert.Equal(t, 1, r.Delivered)
		assert.Equal(t, 1, r.Duplicates.N)
		assert.InDelta(t, 5, r.Duplicates.Mean, 0)
	}
}

func TestDeliveryCDF(t *testing.T) {
	assert.Equal(t, []float64{0, 0.1, 0.1, 0.15, 0.2, 0.2, 0.25, 0.3, 0.3, 0.4, 0.5}, DeliveryCDF(handBuilt()))
	assert.Empty(t, DeliveryCDF(GossipInput{}))
}

// oneMessage is a message from "pub" with the given delays (seconds) at
// receivers r0, r1, … of expected receivers in all.
func oneMessage(expected int, delays ...float64) GossipInput {
	in := GossipInput{Messages: []Message{{ID: "m", From: "pub", At: t0}}, Subscribers: []string{"pub"}}
	for i := range expected {
		node := string(rune('A' + i))
		in.Subscribers = append(in.Subscribers, node)
		if i < len(delays) {
			in.Deliveries = append(in.Deliveries, Delivery{Node: node, ID: "m",
				At: t0.Add(time.Duration(delays[i] * float64(time.Second)))})
		}
	}
	return in
}

// The time to fraction f of E receivers is the ceil(f·E)-th smallest delay.
func TestReachReceiversRule(t *testing.T) {
	tests := []struct {
		name      string
		in        GossipInput
		f         float64
		reached   bool
		wantDelay float64
	}{
		{"E=4 half is the 2nd", oneMessage(4, 4, 3, 2, 1), 0.5, true, 2},
		{"E=4 0.9 is the 4th", oneMessage(4, 4, 3, 2, 1), 0.9, true, 4},
		{"E=4 0.99 is the 4th", oneMessage(4, 4, 3, 2, 1), 0.99, true, 4},
		{"E=10 0.9 is the 9th", oneMessage(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, true, 9},
		{"E=10 0.99 is the 10th", oneMessage(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, true, 10},
		{"E=10 half is the 5th", oneMessage(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.5, true, 5},
		{"E=3 half is the 2nd", oneMessage(3, 1, 2, 3), 0.5, true, 2},
		{"E=1 half is the 1st", oneMessage(1, 7), 0.5, true, 7},
		{"E=4 3 delivered reach 0.5", oneMessage(4, 1, 2, 3), 0.5, true, 2},
		{"E=4 3 delivered miss 0.9", oneMessage(4, 1, 2, 3), 0.9, false, 0},
		{"E=4 1 delivered miss half", oneMessage(4, 1), 0.5, false, 0},
		{"E=0 reaches nothing", oneMessage(0), 0.5, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := Gossip(tt.in).ReachAt(tt.f)
			require.True(t, ok)
			if !tt.reached {
				assert.Equal(t, Reach{Fraction: tt.f}, r)
				return
			}
			assert.Equal(t, 1, r.Reached)
			assert.InDelta(t, tt.wantDelay, r.Max, 1e-9)
			assert.InDelta(t, tt.wantDelay, r.P50, 1e-9)
		})
	}
}

func TestReachAtUnknownFraction(t *testing.T) {
	_, ok := Gossip(oneMessage(2, 1, 2)).ReachAt(0.75)
	assert.False(t, ok)
}

func TestDuplicatesFloor(t *testing.T) {
	subs := []string{"a", "b", "c"}
	tests := []struct {
		name   string
		degree map[string]int
		want   float64
	}{
		{"no mesh degree", nil, 0},
		{"D=8 everywhere", map[string]int{"a": 8, "b": 8, "c": 8}, 3},
		{"mean of 6, 6, 9 is 7", map[string]int{"a": 6, "b": 6, "c": 9}, 2.5},
		{"only subscribers with a degree count", map[string]int{"a": 6, "z": 100}, 2},
		{"a line has no duplicates", map[string]int{"a": 1, "b": 2, "c": 1}, 0},
		{"none of the subscribers", map[string]int{"z": 8}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Gossip(GossipInput{Subscribers: subs, MeshDegree: tt.degree})
			assert.InDelta(t, tt.want, r.DuplicatesFloor, 1e-12)
		})
	}
}

// Nodes that cannot count duplicates report -1, which must not pull the
// mean below what the others saw.
func TestDuplicatesUnknownExcluded(t *testing.T) {
	in := oneMessage(3, 1, 2, 3)
	in.Deliveries[0].Duplicates = -1
	in.Deliveries[1].Duplicates = -1
	in.Deliveries[2].Duplicates = 4
	r := Gossip(in)
	assert.Equal(t, 3, r.Delivered)
	assert.Equal(t, series.Stats{N: 1, Mean: 4, Min: 4, P50: 4, P95: 4, Max: 4}, r.Duplicates)
	assert.InDelta(t, -1, r.PerNode["A"].Duplicates, 0)
	assert.InDelta(t, 4, r.PerNode["C"].Duplicates, 0)
	assert.InDelta(t, -1, r.PerNode["pub"].Duplicates, 0, "a node that delivered nothing")
}

func TestGossipEmpty(t *testing.T) {
	r := Gossip(GossipInput{})
	assert.Zero(t, r.Expected)
	assert.Zero(t, r.DeliveryRatio)
	assert.Equal(t, series.Stats{}, r.Delay)
	require.Len(t, r.Reach, 4)
	for _, x := range r.Reach {
		assert.Zero(t, x.Reached)
	}
	_, err := json.Marshal(r)
	require.NoError(t, err, "an empty result must still encode (no NaN)")
}

// Deliveries at a node outside Subscribers were not expected and count
// nowhere; a repeated message ID counts once.
func TestGossipIgnores(t *testing.T) {
	in := oneMessage(2, 1, 2)
	in.Messages = append(in.Messages, Message{ID: "m", From: "A", At: t0.Add(time.Hour)})
	in.Deliveries = append(in.Deliveries, Delivery{Node: "stranger", ID: "m", At: t0})
	r := Gossip(in)
	assert.Equal(t, 1, r.Messages)
	assert.Equal(t, 2, r.Expected)
	assert.Equal(t, 2, r.Delivered)
	assert.Zero(t, r.Unknown)
	assert.NotContains(t, r.PerNode, "stranger")
}
