package topology

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStar(t *testing.T) {
	g := Star(5)
	require.NoError(t, g.Validate())
	require.Equal(t, 6, g.N)
	require.Len(t, g.Edges, 5)
	require.Equal(t, []int{5, 1, 1, 1, 1, 1}, g.Degrees())
	require.Empty(t, g.Dials(0), "the bootstrap dials no one")
	require.Equal(t, []int{0}, g.Dials(3))
	require.Equal(t, []int{1, 2, 3, 4, 5}, g.Neighbors(0))
	require.Equal(t, []int{0}, g.Neighbors(4))
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    Graph
		want string
	}{
		{"empty", Graph{Name: "x"}, "need at least 1"},
		{"outside", Graph{Name: "x", N: 2, Edges: []Edge{{0, 2}}}, "outside nodes 0..1"},
		{"loop", Graph{Name: "x", N: 2, Edges: []Edge{{1, 1}}}, "dials itself"},
		{"twice", Graph{Name: "x", N: 2, Edges: []Edge{{0, 1}, {1, 0}}}, "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.g.Validate(), tc.want)
		})
	}
}

func TestDegreeStats(t *testing.T) {
	assert.Equal(t, DegreeStats{Min: 1, Max: 5, Mean: 10.0 / 6}, Star(5).DegreeStats())
	assert.Equal(t, DegreeStats{}, Graph{}.DegreeStats(), "no nodes")
	assert.Equal(t, "degree 1..5, mean 1.67", Star(5).DegreeStats().String())
}

func TestComponents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     Graph
		want  int
		roots []int
	}{
		{"none", Graph{}, 0, nil},
		{"one node", Graph{N: 1}, 1, []int{0}},
		{"star", Star(4), 1, []int{0}},
		{"isolated", Graph{N: 3, Edges: []Edge{{1, 0}}}, 2, []int{0, 2}},
		{"two pairs", Graph{N: 4, Edges: []Edge{{3, 1}, {2, 0}}}, 2, []int{0, 1}},
		{"joined late", Graph{N: 4, Edges: []Edge{{3, 2}, {1, 0}, {3, 1}}}, 1, []int{0}},
		{"outside ignored", Graph{N: 2, Edges: []Edge{{1, 0}, {5, 0}}}, 1, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.g.Components())
			assert.Equal(t, tc.want == 1, tc.g.Connected())
			assert.Equal(t, tc.roots, tc.g.componentRoots())
		})
	}
}

func TestHopsAndDiameter(t *testing.T) {
	line, err := Line(5)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 1, 0, 1, 2}, line.Hops(2))
	assert.Equal(t, 4, line.Diameter())
	ring, err := Ring(6)
	require.NoError(t, err)
	assert.Equal(t, 3, ring.Diameter())
	assert.Equal(t, 2, Star(9).Diameter(), "a star's peers are two hops apart")
	assert.Equal(t, 1, Star(9).Hops(0)[3])
	two := Graph{N: 4, Edges: []Edge{{From: 0, To: 1}, {From: 2, To: 3}}}
	assert.Equal(t, []int{0, 1, -1, -1}, two.Hops(0))
	assert.Equal(t, -1, two.Diameter())
}
