package series

import (
	"math"
	"slices"
)

// RoleStats answers questions about the nodes of one role over the whole
// recording, each as a single number a test can assert on.
//
// The methods that return one number return NaN when no node of the role
// reported the figure. That is deliberate: NaN fails every comparison, so a
// misspelt figure or a role that never reported cannot let an assertion such
// as assert.Less(t, peer.Max("mem_bytes"), limit) pass by accident.
type RoleStats struct {
	Name    string // the role
	samples []Sample
}

// Role returns the statistics of the nodes of role, over their
// measurements (not the events that name them). A role that does not occur
// gives a RoleStats with no samples.
func (r *Table) Role(role string) RoleStats {
	rs := RoleStats{Name: role}
	for s := range r.measured() {
		if s.Role == role {
			rs.samples = append(rs.samples, s)
		}
	}
	return rs
}

// Nodes returns the nodes of the role in natural order.
func (rs RoleStats) Nodes() []string {
	seen := map[string]bool{}
	for _, s := range rs.samples {
		seen[s.Node] = true
	}
	return sortedKeys(seen, compareNatural)
}

// values returns every reported value of figure, across nodes and rounds.
func (rs RoleStats) values(figure string) []float64 {
	var xs []float64
	for _, s := range rs.samples {
		if v, ok := s.Values[figure]; ok && !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	return xs
}

// Stats returns the summary of figure over every sample of the role: all
// nodes, all rounds.
func (rs RoleStats) Stats(figure string) Stats { return Describe(rs.values(figure)) }

// Mean returns the mean of figure over every sample of the role (all nodes,
// all rounds), or NaN if there is none.
func (rs RoleStats) Mean(figure string) float64 {
	return orNaN(rs.Stats(figure), func(s Stats) float64 { return s.Mean })
}

// Min returns the smallest value of figure in any sample of the role, or NaN
// if there is none.
func (rs RoleStats) Min(figure string) float64 {
	return orNaN(rs.Stats(figure), func(s Stats) float64 { return s.Min })
}

// Max returns the largest value of figure in any sample of the role, or NaN
// if there is none.
func (rs RoleStats) Max(figure string) float64 {
	return orNaN(rs.Stats(figure), func(s Stats) float64 { return s.Max })
}

// NodeMeans returns each node's mean of figure over time. Nodes that never
// reported the figure are absent.
func (rs RoleStats) NodeMeans(figure string) map[string]float64 {
	perNode := map[string][]float64{}
	for _, s := range rs.samples {
		if v, ok := s.Values[figure]; ok && !math.IsNaN(v) {
			perNode[s.Node] = append(perNode[s.Node], v)
		}
	}
	means := make(map[string]float64, len(perNode))
	for node, xs := range perNode {
		means[node] = Describe(xs).Mean
	}
	return means
}

// Spread returns the summary of the nodes' time means of figure: how alike
// the nodes of the role are, with the noise of single rounds averaged out.
// Spread("mem_bytes").P95 / .P50 near 1 (or a small CV) says no peer carries
// much more than the typical one.
func (rs RoleStats) Spread(figure string) Stats {
	means := rs.NodeMeans(figure)
	xs := make([]float64, 0, len(means))
	for _, m := range means {
		xs = append(xs, m)
	}
	return Describe(xs)
}

// Last returns the mean of figure across the role's nodes in the last round
// in which any of them reported it: the state the experiment ended in, such
// as the bootstrap's final connection count. It returns NaN if no node of the
// role reported figure.
func (rs RoleStats) Last(figure string) float64 {
	last := -1
	var xs []float64
	for _, s := range rs.samples {
		v, ok := s.Values[figure]
		if !ok || math.IsNaN(v) || s.Round < last {
			continue
		}
		if s.Round > last {
			last, xs = s.Round, xs[:0]
		}
		xs = append(xs, v)
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	return Describe(xs).Mean
}

// Rounds returns the number of distinct rounds in which the role was
// sampled.
func (rs RoleStats) Rounds() int {
	var rounds []int
	for _, s := range rs.samples {
		rounds = append(rounds, s.Round)
	}
	slices.Sort(rounds)
	return len(slices.Compact(rounds))
}

func orNaN(s Stats, field func(Stats) float64) float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return field(s)
}
