package topology

import (
	"testing"

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
