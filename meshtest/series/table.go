package series

import (
	"cmp"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"
)

// Sample is one node observed once, or, when Event is set, a fault the
// run injected.
type Sample struct {
	Round   int           // sampling round, 0-based; all nodes of a round share it
	Elapsed time.Duration // since the recording started, at the start of the round
	Node    string        // "bootstrap", "peer-7"
	Role    string        // group the node belongs to: "bootstrap", "peer", or any name
	// Values maps a figure name to its value: "mem_bytes", "cpu_cores",
	// "goroutines", "connections". A figure the node did not report in
	// this round is absent (or NaN), never zero.
	Values map[string]float64
	// Event marks a row that records a fault rather than a measurement:
	// "kill", "partition", "heal", … Such a row has no Values; Node and
	// Role are the fault's target, or "" for the whole mesh; Round is the
	// round the fault fell in and Elapsed when it happened. Every figure,
	// statistic and check of the table passes over event rows: a killed
	// node's event is not a sample it missed.
	Event string
}

// IsEvent reports whether s marks an event rather than a measurement.
func (s Sample) IsEvent() bool { return s.Event != "" }

// Table is every sample taken during an experiment.
type Table struct {
	Samples  []Sample
	Interval time.Duration // time between the starts of two rounds
}

// Roles returns the roles that were measured in r, sorted.
func (r *Table) Roles() []string {
	seen := map[string]bool{}
	for s := range r.measured() {
		seen[s.Role] = true
	}
	return sortedKeys(seen, cmp.Compare[string])
}

// Nodes returns the measured nodes of role, in natural order ("peer-2"
// before "peer-10") so that tables and legends read the way nodes were
// numbered.
func (r *Table) Nodes(role string) []string {
	seen := map[string]bool{}
	for s := range r.measured() {
		if s.Role == role {
			seen[s.Node] = true
		}
	}
	return sortedKeys(seen, compareNatural)
}

// Figures returns the figure names that occur in any sample, sorted.
func (r *Table) Figures() []string {
	seen := map[string]bool{}
	for s := range r.measured() {
		for f := range s.Values {
			seen[f] = true
		}
	}
	return sortedKeys(seen, cmp.Compare[string])
}

// Point is the state of one role in one round: the summary, across the
// role's nodes, of one figure.
type Point struct {
	Round   int
	Elapsed time.Duration // start of the round
	Stats                 // across the nodes of the role; N is the number of nodes that reported
}

// RoleOverTime returns, for every round in which a node of role reported
// figure, the summary of figure across the role's nodes, in round order.
// For a role of one node (the bootstrap) Mean, P50 and Max are that node's
// value. Rounds in which no node of the role reported are left out rather
// than drawn as zero.
func (r *Table) RoleOverTime(role, figure string) []Point {
	type round struct {
		elapsed time.Duration
		values  []float64
	}
	rounds := map[int]*round{}
	for s := range r.measured() {
		if s.Role != role {
			continue
		}
		v, ok := s.Values[figure]
		if !ok || math.IsNaN(v) {
			continue
		}
		rd := rounds[s.Round]
		if rd == nil {
			rd = &round{elapsed: s.Elapsed}
			rounds[s.Round] = rd
		}
		// The round started when its first node was sampled.
		rd.elapsed = min(rd.elapsed, s.Elapsed)
		rd.values = append(rd.values, v)
	}

	points := make([]Point, 0, len(rounds))
	for n, rd := range rounds {
		points = append(points, Point{Round: n, Elapsed: rd.elapsed, Stats: Describe(rd.values)})
	}
	slices.SortFunc(points, func(a, b Point) int { return cmp.Compare(a.Round, b.Round) })
	return points
}

// Violation is a sample whose figure differs from what was expected.
type Violation struct {
	Round   int
	Elapsed time.Duration
	Node    string
	Role    string
	Figure  string
	Got     float64 // NaN when the node did not report the figure
	Want    float64
}

// String describes the violation in one line, e.g.
// "round 12 (12s): bootstrap (bootstrap) connections = 98, want 100".
func (v Violation) String() string {
	got := fmt.Sprint(v.Got)
	if math.IsNaN(v.Got) {
		got = "missing"
	}
	return fmt.Sprintf("round %d (%v): %s (%s) %s = %s, want %v",
		v.Round, v.Elapsed, v.Node, v.Role, v.Figure, got, v.Want)
}

// Check compares figure in every sample with want(node, role) and returns
// every sample that differs, ordered by round and node; none means the
// invariant held throughout. It proves facts such as "the bootstrap held
// exactly n connections in every sample", where a mean would hide a
// connection lost for a few seconds.
//
// Values are compared exactly, since the figures Check is meant for are
// counts. A sample that lacks the figure is a violation (a node that stopped
// answering has not kept its connections); an event row is no sample and
// is not checked. want may return NaN to leave a node unchecked.
func (r *Table) Check(figure string, want func(node, role string) float64) []Violation {
	var vs []Violation
	for s := range r.measured() {
		w := want(s.Node, s.Role)
		if math.IsNaN(w) {
			continue
		}
		got, ok := s.Values[figure]
		if !ok {
			got = math.NaN()
		}
		if got != w { // also true for a NaN got
			vs = append(vs, Violation{
				Round: s.Round, Elapsed: s.Elapsed, Node: s.Node, Role: s.Role,
				Figure: figure, Got: got, Want: w,
			})
		}
	}
	slices.SortStableFunc(vs, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Round, b.Round), compareNatural(a.Node, b.Node))
	})
	return vs
}

// Events returns the event rows of r in the order they happened.
func (r *Table) Events() []Sample {
	var evs []Sample
	for _, s := range r.Samples {
		if s.IsEvent() {
			evs = append(evs, s)
		}
	}
	slices.SortStableFunc(evs, func(a, b Sample) int { return cmp.Compare(a.Elapsed, b.Elapsed) })
	return evs
}

// measured yields the samples of r that are measurements, passing over
// event rows.
func (r *Table) measured() iter.Seq[Sample] {
	return func(yield func(Sample) bool) {
		for _, s := range r.Samples {
			if !s.IsEvent() && !yield(s) {
				return
			}
		}
	}
}

// sortedSamples returns the samples ordered by round, then node, without
// reordering r.Samples. A round's events follow its measurements, in the
// order they happened.
func (r *Table) sortedSamples() []Sample {
	ss := slices.Clone(r.Samples)
	slices.SortStableFunc(ss, func(a, b Sample) int {
		c := cmp.Or(cmp.Compare(a.Round, b.Round), compareBool(a.IsEvent(), b.IsEvent()))
		if c == 0 && a.IsEvent() {
			c = cmp.Compare(a.Elapsed, b.Elapsed)
		}
		return cmp.Or(c, compareNatural(a.Node, b.Node))
	})
	return ss
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func sortedKeys(m map[string]bool, compare func(a, b string) int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

// compareNatural compares strings with runs of digits compared as numbers,
// so "peer-2" sorts before "peer-10". Strings that differ only in leading
// zeros fall back to byte order, so the order is total.
func compareNatural(a, b string) int {
	return cmp.Or(naturalOrder(a, b), cmp.Compare(a, b))
}

func naturalOrder(a, b string) int {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			// Compare by value: drop leading zeros, then the longer run is larger.
			ta, tb := trimZeros(na), trimZeros(nb)
			if c := cmp.Or(cmp.Compare(len(ta), len(tb)), cmp.Compare(ta, tb)); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
