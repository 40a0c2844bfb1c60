package workload

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/meshtest/meshtest/meshtest/series"
)

// Message is one published message.
type Message struct {
	ID   string    // MessageID.String()
	From string    // publishing node's name
	At   time.Time // publish time (the header's)
}

// Delivery is a node's first receipt of a message.
type Delivery struct {
	Node       string
	ID         string
	At         time.Time // first delivery
	Duplicates int       // copies received after the first; -1 when the node cannot tell (software that reports no duplicates)
}

// GossipInput is what the nodes reported of a gossip workload.
type GossipInput struct {
	Messages []Message // a repeated ID is the same message: the first one counts
	// Subscribers is every subscribed node by name; a message is expected at
	// every subscriber but its publisher.
	Subscribers []string
	// Deliveries of messages not in Messages are ignored (counted in
	// Unknown); so are deliveries at the publisher and at nodes that are not
	// Subscribers. A (node, message) pair given more than once counts once,
	// by its earliest delivery and that delivery's Duplicates: records
	// scraped twice must not double the figures.
	Deliveries []Delivery
	// MeshDegree is the gossip mesh degree each node is expected to hold:
	// min(D, the node's topology degree), by node name; used for the
	// duplicates floor. Nil: no floor.
	MeshDegree map[string]int
}

// Reach is how fast messages reached a fraction of their expected receivers.
type Reach struct {
	Fraction float64 `json:"fraction"` // 0.5, 0.9, 0.99, 1
	Reached  int     `json:"reached"`  // messages that reached at least this fraction of their expected receivers
	// Over the messages that reached it, the time from publish to the
	// delivery that made the fraction, seconds.
	P50 float64 `json:"p50_s"`
	P90 float64 `json:"p90_s"`
	P99 float64 `json:"p99_s"`
	Max float64 `json:"max_s"`
}

// GossipResult is what a gossip workload did.
type GossipResult struct {
	Messages      int     `json:"messages"`
	Subscribers   int     `json:"subscribers"`
	Expected      int     `json:"expected_deliveries"` // sum over messages of (subscribers but the publisher)
	Delivered     int     `json:"delivered"`           // distinct (node, message) first deliveries of known messages at expected receivers
	DeliveryRatio float64 `json:"delivery_ratio"`      // Delivered / Expected (0 when Expected is 0)
	Unknown       int     `json:"unknown_deliveries"`  // distinct (node, message) deliveries of messages not in Messages (published by something else, or before the window)
	Reach         []Reach `json:"reach"`               // for 0.5, 0.9, 0.99, 1, in that order
	// Delay is over every counted delivery: publish to first delivery, seconds.
	Delay series.Stats `json:"delay_s"`
	// Duplicates is per delivered message, over the counted deliveries that
	// report them (Duplicates >= 0).
	Duplicates series.Stats `json:"duplicates"`
	// DuplicatesFloor is (d̄−2)/2 with d̄ the mean MeshDegree over the
	// subscribers that have one. A gossip mesh of degree d over N nodes has
	// N·d/2 edges, of which N−1 carry first deliveries; each of the other
	// N(d−2)/2 carries at least one copy that is a duplicate, so each node
	// sees at least about (d−2)/2 duplicates per message (more when both ends
	// forward at once; fewer with IDONTWANT or when a node's mesh is
	// smaller). It is 0 when MeshDegree is nil, and never below 0: a mesh of
	// degree under 2 is a tree, which carries no duplicates.
	DuplicatesFloor float64 `json:"duplicates_floor"`
	// PerNode holds, by subscriber name, deliveries and mean duplicates per
	// delivered message (for a chart of duplicates by degree).
	PerNode map[string]NodeGossip `json:"per_node"`
}

// NodeGossip is what one subscriber received.
type NodeGossip struct {
	Delivered  int     `json:"delivered"`
	Expected   int     `json:"expected"`
	Duplicates float64 `json:"duplicates_per_message"` // mean over deliveries that report them; -1 when none does
	MeshDegree int     `json:"mesh_degree,omitempty"`
}

// reachFractions are the fractions of GossipResult.Reach, in order.
func reachFractions() []float64 { return []float64{0.5, 0.9, 0.99, 1} }

// Gossip computes what a gossip workload did. The result depends only on
// the input's contents, not on the order of its slices.
func Gossip(in GossipInput) GossipResult {
	c := count(in)
	r := GossipResult{
		Messages:    len(c.messages),
		Subscribers: len(c.subscribers),
		Unknown:     c.unknown,
		PerNode:     make(map[string]NodeGossip, len(c.subscribers)),
	}

	type tally struct{ delivered, published, dupSum, dupN int }
	nodes := make(map[string]*tally, len(c.subscribers))
	for _, s := range c.subscribers {
		nodes[s] = &tally{}
	}
	var delays, dups []float64
	for _, m := range c.messages {
		r.Expected += m.expected
		if t, ok := nodes[m.From]; ok {
			t.published++
		}
		for _, d := range m.deliveries {
			t := nodes[d.node]
			t.delivered++
			delays = append(delays, d.delay)
			if d.duplicates >= 0 {
				t.dupSum += d.duplicates
				t.dupN++
				dups = append(dups, float64(d.duplicates))
			}
		}
	}
	r.Delivered = len(delays)
	if r.Expected > 0 {
		r.DeliveryRatio = float64(r.Delivered) / float64(r.Expected)
	}
	r.Delay = series.Describe(delays)
	r.Duplicates = series.Describe(dups)

	for _, f := range reachFractions() {
		var times []float64
		for _, m := range c.messages {
			if k := receiversFor(f, m.expected); k <= len(m.deliveries) {
				times = append(times, m.deliveries[k-1].delay)
			}
		}
		r.Reach = append(r.Reach, Reach{
			Fraction: f,
			Reached:  len(times),
			P50:      series.Percentile(times, 50),
			P90:      series.Percentile(times, 90),
			P99:      series.Percentile(times, 99),
			Max:      series.Percentile(times, 100),
		})
	}

	var degSum, degN int
	for _, s := range c.subscribers {
		t := nodes[s]
		n := NodeGossip{Delivered: t.delivered, Expected: len(c.messages) - t.published, Duplicates: -1}
		if t.dupN > 0 {
			n.Duplicates = float64(t.dupSum) / float64(t.dupN)
		}
		if d, ok := in.MeshDegree[s]; ok {
			n.MeshDegree = d
			degSum += d
			degN++
		}
		r.PerNode[s] = n
	}
	if degN > 0 {
		r.DuplicatesFloor = max(0, (float64(degSum)/float64(degN)-2)/2)
	}
	return r
}

// ReachAt returns the Reach for fraction f, one of 0.5, 0.9, 0.99 and 1.
func (r GossipResult) ReachAt(f float64) (Reach, bool) {
	i := slices.IndexFunc(r.Reach, func(x Reach) bool { return x.Fraction == f })
	if i < 0 {
		return Reach{}, false
	}
	return r.Reach[i], true
}

// DeliveryCDF returns the delay in seconds of every delivery Gossip counts,
// sorted ascending: the fixture draws the chart of delivery over time from
// it.
func DeliveryCDF(in GossipInput) (delays []float64) {
	for _, m := range count(in).messages {
		for _, d := range m.deliveries {
			delays = append(delays, d.delay)
		}
	}
	slices.Sort(delays)
	return delays
}

// receiversFor is how many of expected receivers make fraction f:
// ceil(f·expected), at least 1. The product is lowered by 1e-9 first so that
// floating-point error in it never asks for one receiver more. A message
// with no expected receivers asks for one, so it reaches no fraction.
func receiversFor(f float64, expected int) int {
	return max(1, int(math.Ceil(f*float64(expected)-1e-9)))
}

// counted is what a GossipInput counts for, decided in one place so that
// Gossip and DeliveryCDF agree.
type counted struct {
	messages    []countedMessage // distinct IDs, in input order
	subscribers []string         // distinct, sorted
	unknown     int              // distinct (node, message) pairs of unknown messages
}

type countedMessage struct {
	Message
	expected   int               // subscribers but the publisher
	deliveries []countedDelivery // at expected receivers, by delay then node
}

type countedDelivery struct {
	node       string
	delay      float64 // seconds, ≥ 0
	duplicates int
}

func count(in GossipInput) counted {
	subs := make(map[string]bool, len(in.Subscribers))
	for _, s := range in.Subscribers {
		subs[s] = true
	}
	c := counted{subscribers: slices.Sorted(maps.Keys(subs))}

	index := make(map[string]int, len(in.Messages))
	for _, m := range in.Messages {
		if _, seen := index[m.ID]; seen {
			continue
		}
		index[m.ID] = len(c.messages)
		expected := len(subs)
		if subs[m.From] {
			expected--
		}
		c.messages = append(c.messages, countedMessage{Message: m, expected: expected})
	}

	type pair struct{ node, id string }
	first := make(map[pair]Delivery, len(in.Deliveries))
	for _, d := range in.Deliveries {
		k := pair{d.Node, d.ID}
		// Ties on time keep the larger count, so the choice is the same
		// whatever the input order.
		if prev, ok := first[k]; ok && (prev.At.Before(d.At) || prev.At.Equal(d.At) && prev.Duplicates >= d.Duplicates) {
			continue
		}
		first[k] = d
	}
	for _, d := range first {
		i, known := index[d.ID]
		if !known {
			c.unknown++
			continue
		}
		m := &c.messages[i]
		if d.Node == m.From || !subs[d.Node] {
			continue
		}
		// A delivery before its publish time counts as delay 0: the clocks
		// of the publisher and the receiver may be a hair apart.
		delay := max(0, d.At.Sub(m.At).Seconds())
		m.deliveries = append(m.deliveries, countedDelivery{node: d.Node, delay: delay, duplicates: d.Duplicates})
	}
	for i := range c.messages {
		slices.SortFunc(c.messages[i].deliveries, func(a, b countedDelivery) int {
			return cmp.Or(cmp.Compare(a.delay, b.delay), cmp.Compare(a.node, b.node))
		})
	}
	return c
}
