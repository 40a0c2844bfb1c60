package series

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// star is a small star recording: a bootstrap and three peers over three
// rounds, with the faults the functions under test must see: peer-2 loses
// its connection in round 1, the bootstrap holds 2 instead of 3 connections
// in round 2, peer-10 does not report memory in round 1, and only the
// bootstrap reports cpu_cores. Peers are named so that byte order and
// natural order differ.
func star() *Table {
	type v = map[string]float64
	const ms = time.Millisecond
	sample := func(round int, elapsed time.Duration, node, role string, values v) Sample {
		return Sample{Round: round, Elapsed: elapsed, Node: node, Role: role, Values: values}
	}
	return &Table{Interval: time.Second, Samples: []Sample{
		sample(0, 0, "bootstrap", "bootstrap", v{"connections": 3, "mem_bytes": 100, "cpu_cores": 0.125}),
		sample(0, 0, "peer-1", "peer", v{"connections": 1, "mem_bytes": 10}),
		sample(0, 0, "peer-2", "peer", v{"connections": 1, "mem_bytes": 20}),
		sample(0, 0, "peer-10", "peer", v{"connections": 1, "mem_bytes": 30}),
		sample(1, 1001500*time.Microsecond, "bootstrap", "bootstrap", v{"connections": 3, "mem_bytes": 110, "cpu_cores": 0.25}),
		sample(1, 1001500*time.Microsecond, "peer-1", "peer", v{"connections": 1, "mem_bytes": 12}),
		sample(1, 1001500*time.Microsecond, "peer-2", "peer", v{"connections": 0, "mem_bytes": 22}),
		sample(1, 1001500*time.Microsecond, "peer-10", "peer", v{"connections": 1}),
		sample(2, 2000*ms, "bootstrap", "bootstrap", v{"connections": 2, "mem_bytes": 120, "cpu_cores": 0.5}),
		sample(2, 2000*ms, "peer-1", "peer", v{"connections": 1, "mem_bytes": 14}),
		sample(2, 2000*ms, "peer-2", "peer", v{"connections": 1, "mem_bytes": 24}),
		sample(2, 2000*ms, "peer-10", "peer", v{"connections": 1, "mem_bytes": 36}),
	}}
}

func TestTableNames(t *testing.T) {
	r := star()
	assert.Equal(t, []string{"bootstrap", "peer"}, r.Roles())
	assert.Equal(t, []string{"peer-1", "peer-2", "peer-10"}, r.Nodes("peer"))
	assert.Equal(t, []string{"bootstrap"}, r.Nodes("bootstrap"))
	assert.Empty(t, r.Nodes("relay"))
	assert.Equal(t, []string{"connections", "cpu_cores", "mem_bytes"}, r.Figures())
	assert.Empty(t, (&Table{}).Roles())
}

func TestCompareNatural(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"peer-2", "peer-10", -1},
		{"peer-10", "peer-2", 1},
		{"peer-2", "peer-2", 0},
		{"bootstrap", "peer-1", -1},
		{"peer-1", "peer-1a", -1},
		{"peer-01", "peer-1", -1}, // equal as numbers; byte order breaks the tie
		{"a9b", "a10a", -1},
		{"", "a", -1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, compareNatural(tt.a, tt.b), "%q vs %q", tt.a, tt.b)
	}
}

func TestRoleOverTime(t *testing.T) {
	const round1 = 1001500 * time.Microsecond
	tests := []struct {
		name         string
		role, figure string
		want         []Point
	}{
		{
			name: "bootstrap is its own summary", role: "bootstrap", figure: "mem_bytes",
			want: []Point{
				{0, 0, Stats{N: 1, Mean: 100, Min: 100, P50: 100, P95: 100, Max: 100}},
				{1, round1, Stats{N: 1, Mean: 110, Min: 110, P50: 110, P95: 110, Max: 110}},
				{2, 2 * time.Second, Stats{N: 1, Mean: 120, Min: 120, P50: 120, P95: 120, Max: 120}},
			},
		},
		{
			// Round 0: 10 20 30 → P95 at rank 1.9 = 29. Round 1: peer-10 is
			// missing, 12 22 → P95 at rank 0.95 = 21.5. Round 2: 14 24 36 →
			// mean 74/3 (deviations -32/3 -2/3 34/3), P95 at rank 1.9 = 24 + 0.9·12.
			name: "peers across nodes", role: "peer", figure: "mem_bytes",
			want: []Point{
				{0, 0, Stats{N: 3, Mean: 20, Min: 10, P50: 20, P95: 29, Max: 30, Stddev: 10}},
				{1, round1, Stats{N: 2, Mean: 17, Min: 12, P50: 17, P95: 21.5, Max: 22, Stddev: math.Sqrt(50)}},
				{2, 2 * time.Second, Stats{N: 3, Mean: 74.0 / 3, Min: 14, P50: 24, P95: 34.8, Max: 36, Stddev: math.Sqrt((32.0*32 + 2*2 + 34*34) / 9 / 2)}},
			},
		},
		{name: "figure the role never reports", role: "peer", figure: "cpu_cores", want: []Point{}},
		{name: "unknown role", role: "relay", figure: "mem_bytes", want: []Point{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := star().RoleOverTime(tt.role, tt.figure)
			if !assert.Len(t, got, len(tt.want)) {
				return
			}
			for i, w := range tt.want {
				g := got[i]
				assert.Equal(t, w.Round, g.Round)
				assert.Equal(t, w.Elapsed, g.Elapsed)
				assert.Equal(t, w.N, g.N)
				assert.InDeltaSlice(t,
					[]float64{w.Mean, w.Min, w.P50, w.P95, w.Max, w.Stddev},
					[]float64{g.Mean, g.Min, g.P50, g.P95, g.Max, g.Stddev}, 1e-9, "round %d", w.Round)
			}
		})
	}
}

func TestRoleOverTimeUsesRoundStart(t *testing.T) {
	// Samples arrive in any order; the round's time is its earliest sample.
	r := &Table{Samples: []Sample{
		{Round: 1, Elapsed: 1100 * time.Millisecond, Node: "b", Role: "peer", Values: map[string]float64{"x": 2}},
		{Round: 0, Elapsed: 0, Node: "a", Role: "peer", Values: map[string]float64{"x": 1}},
		{Round: 1, Elapsed: 1000 * time.Millisecond, Node: "a", Role: "peer", Values: map[string]float64{"x": 4}},
	}}
	got := r.RoleOverTime("peer", "x")
	assert.Equal(t, []int{0, 1}, []int{got[0].Round, got[1].Round})
	assert.Equal(t, time.Second, got[1].Elapsed)
	assert.Equal(t, 3.0, got[1].Mean)
}

func TestCheck(t *testing.T) {
	nan := math.NaN()
	const round1 = 1001500 * time.Microsecond
	starInvariant := func(node, role string) float64 {
		if role == "bootstrap" {
			return 3
		}
		return 1
	}
	tests := []struct {
		name   string
		figure string
		want   func(node, role string) float64
		expect []Violation
	}{
		{
			name: "star connections", figure: "connections", want: starInvariant,
			expect: []Violation{
				{1, round1, "peer-2", "peer", "connections", 0, 1},
				{2, 2 * time.Second, "bootstrap", "bootstrap", "connections", 2, 3},
			},
		},
		{
			name: "NaN leaves peers unchecked", figure: "connections",
			want: func(node, role string) float64 {
				if role == "bootstrap" {
					return 3
				}
				return nan
			},
			expect: []Violation{{2, 2 * time.Second, "bootstrap", "bootstrap", "connections", 2, 3}},
		},
		{
			name: "missing value is a violation", figure: "mem_bytes",
			want: func(node, role string) float64 {
				if node == "peer-10" {
					return 0
				}
				return nan
			},
			expect: []Violation{
				{0, 0, "peer-10", "peer", "mem_bytes", 30, 0},
				{1, round1, "peer-10", "peer", "mem_bytes", nan, 0},
				{2, 2 * time.Second, "peer-10", "peer", "mem_bytes", 36, 0},
			},
		},
		{
			name: "invariant holds", figure: "connections",
			want: func(node, role string) float64 {
				if node == "peer-1" || node == "peer-10" {
					return 1
				}
				return nan
			},
			expect: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := star().Check(tt.figure, tt.want)
			// Compare through String: Violation holds NaN, which Equal
			// would never find equal to itself.
			assert.Equal(t, violationStrings(tt.expect), violationStrings(got))
		})
	}
}

func violationStrings(vs []Violation) []string {
	var ss []string
	for _, v := range vs {
		ss = append(ss, v.String())
	}
	return ss
}

func TestViolationString(t *testing.T) {
	tests := []struct {
		v    Violation
		want string
	}{
		{
			Violation{Round: 12, Elapsed: 12 * time.Second, Node: "bootstrap", Role: "bootstrap", Figure: "connections", Got: 98, Want: 100},
			"round 12 (12s): bootstrap (bootstrap) connections = 98, want 100",
		},
		{
			Violation{Round: 3, Elapsed: 3100 * time.Millisecond, Node: "peer-7", Role: "peer", Figure: "connections", Got: math.NaN(), Want: 1},
			"round 3 (3.1s): peer-7 (peer) connections = missing, want 1",
		},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.v.String())
	}
}
