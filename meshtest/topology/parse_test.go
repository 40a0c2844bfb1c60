package topology

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParse: each name builds its generator with the defaults filled in, and
// the Name it returns spells out every parameter.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		wantName string
		edges    int // at 11 nodes; 0 where random
		build    func() (Graph, error)
	}{
		{"star", "star", 10, func() (Graph, error) { return Star(10), nil }},
		{"line", "line", 10, func() (Graph, error) { return Line(11) }},
		{"ring", "ring", 11, func() (Graph, error) { return Ring(11) }},
		{"full", "full", 55, func() (Graph, error) { return Full(11) }},
		{"tree", "tree:k=2", 10, func() (Graph, error) { return Tree(11, 2) }},
		{"tree:k=3", "tree:k=3", 10, func() (Graph, error) { return Tree(11, 3) }},
		{" tree: k = 3 ", "tree:k=3", 10, func() (Graph, error) { return Tree(11, 3) }},
		{"random-regular", "random-regular:d=4,seed=7", 22, func() (Graph, error) { return RandomRegular(11, 4, 7) }},
		{"random-regular:d=6", "random-regular:d=6,seed=7", 33, func() (Graph, error) { return RandomRegular(11, 6, 7) }},
		{"random-regular:seed=3", "random-regular:d=4,seed=3", 22, func() (Graph, error) { return RandomRegular(11, 4, 3) }},
		{"erdos-renyi", "erdos-renyi:p=0.1,seed=7", 0, func() (Graph, error) { return ErdosRenyi(11, 0.1, 7) }},
		{"erdos-renyi:p=0.5", "erdos-renyi:p=0.5,seed=7", 0, func() (Graph, error) { return ErdosRenyi(11, 0.5, 7) }},
		{"barabasi-albert", "barabasi-albert:m=2,seed=7", 19, func() (Graph, error) { return BarabasiAlbert(11, 2, 7) }},
		{"barabasi-albert:m=3", "barabasi-albert:m=3,seed=7", 27, func() (Graph, error) { return BarabasiAlbert(11, 3, 7) }},
		{"watts-strogatz", "watts-strogatz:k=4,beta=0.2,seed=7", 22, func() (Graph, error) { return WattsStrogatz(11, 4, 0.2, 7) }},
		{"watts-strogatz:beta=0.5,k=6", "watts-strogatz:k=6,beta=0.5,seed=7", 33, func() (Graph, error) { return WattsStrogatz(11, 6, 0.5, 7) }},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			g, err := Parse(tc.spec, 11, 7)
			require.NoError(t, err)
			assert.Equal(t, tc.wantName, g.Name)
			assert.Equal(t, 11, g.N)
			if tc.edges > 0 {
				assert.Len(t, g.Edges, tc.edges)
			}
			want, err := tc.build()
			require.NoError(t, err)
			assert.Equal(t, want, g)
		})
	}
}

// TestParseNameRebuilds: a graph's Name is a spec for the same graph, whatever
// seed Parse is given, so a name in a summary is enough to rerun it.
func TestParseNameRebuilds(t *testing.T) {
	for _, name := range Names() {
		if name == "file:PATH" {
			name = "file:../../testdata/topologies/ring-10.edges"
		}
		t.Run(name, func(t *testing.T) {
			g, err := Parse(name, 30, 5)
			require.NoError(t, err)
			again, err := Parse(g.Name, 30, 6)
			require.NoError(t, err)
			assert.Equal(t, g, again)
		})
	}
}

// TestParseErrors: every bad spec fails with the spec named and the fix.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		nodes int
		want  string
	}{
		{"", 11, "empty topology: use one of star, line, ring, full, tree, random-regular, erdos-renyi, barabasi-albert, watts-strogatz, file:PATH"},
		{"hypercube", 11, `topology "hypercube": unknown topology "hypercube": use one of star, line, ring,`},
		{"Star", 11, `unknown topology "Star"`},
		{"star:k=2", 11, `topology "star:k=2": star takes no parameters; write just "star"`},
		{"full:seed=1", 11, `full takes no parameters`},
		{"star", 1, `topology "star": n=1: a star needs at least 2 nodes; add nodes`},
		{"line", 0, `topology "line": n=0: give the total node count, bootstrap included (peers+1)`},
		{"ring", 2, `a ring needs at least 3`},
		{"tree:", 11, `topology "tree:": parameter "" is not key=value; tree takes k (default 2)`},
		{"tree:k", 11, `parameter "k" is not key=value; tree takes k (default 2)`},
		{"tree:k=", 11, `parameter "k=" is not key=value`},
		{"tree:x=1", 11, `topology "tree:x=1": unknown parameter "x"; tree takes k (default 2)`},
		{"tree:k=1,k=2", 11, `parameter "k" given twice; give it once`},
		{"tree:k=two", 11, `k=two: want a whole number, e.g. k=2`},
		{"tree:k=0", 11, `k=0: each node needs at least 1 child`},
		{"tree:seed=1", 11, `unknown parameter "seed"; tree takes k (default 2)`},
		{"random-regular:d=4.5", 11, `d=4.5: want a whole number, e.g. d=4`},
		{"random-regular:d=11", 11, `topology "random-regular:d=11,seed=1": n=11: degree 11 needs at least 12 nodes (a node has at most n-1 neighbours); add nodes or lower d`},
		{"random-regular:d=3", 11, `n=11 × d=3 is odd`},
		{"random-regular:d=1", 11, `d=1: a connected regular graph needs d >= 2`},
		{"random-regular:degree=4", 11, `unknown parameter "degree"; random-regular takes d (default 4), seed`},
		{"random-regular:seed=-1", 11, `seed=-1: want a whole number 0..18446744073709551615`},
		{"erdos-renyi:p=1.5", 11, `p=1.5: p is the probability of each edge, so it lies in 0..1`},
		{"erdos-renyi:p=-0.1", 11, `p=-0.1: p is the probability`},
		{"erdos-renyi:p=NaN", 11, `p=NaN: p is the probability`},
		{"erdos-renyi:p=often", 11, `p=often: want a number in 0..1, e.g. p=0.1`},
		{"barabasi-albert:m=11", 11, `n=11: m=11 needs at least 12 nodes`},
		{"barabasi-albert:m=0", 11, `m=0: each new node attaches to m earlier ones; use m >= 1`},
		{"watts-strogatz:k=3", 11, `k=3: each node links k/2 neighbours on either side, so k must be even and at least 2; use k=4`},
		{"watts-strogatz:k=12", 11, `n=11: k=12 needs at least 13 nodes`},
		{"watts-strogatz:beta=2", 11, `beta=2: beta is the probability of rewiring an edge, so it lies in 0..1`},
		{"watts-strogatz:k=4;beta=0.2", 11, `k=4;beta=0.2: want a whole number`},
		{"file", 11, `topology "file": no edge list named; write file:PATH`},
		{"file:", 11, `no edge list named`},
		{"file:no-such.edges", 11, `topology "file:no-such.edges": open no-such.edges: no such file or directory (relative paths start from the working directory,`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Parse(tc.spec, tc.nodes, 1)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// validName is meshtest.Config's rule for names, which a slug must pass: it
// becomes part of container and network names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*$`)

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"star", "star"},
		{"tree:k=3", "tree-k3"},
		{"random-regular:d=4,seed=1", "random-regular-d4-seed1"},
		{"erdos-renyi:p=0.1,seed=2", "erdos-renyi-p0p1-seed2"},
		{"erdos-renyi:p=1e-05,seed=2", "erdos-renyi-p1e-05-seed2"},
		{"watts-strogatz:k=4,beta=0.2,seed=1", "watts-strogatz-k4-beta0p2-seed1"},
		{"file:testdata/topologies/ring-10.edges", "ring-10"},
		{"file:../My Graph.v2.edges", "My-Graph-v2"},
		{"file:.edges", "graph"},
		{"--", "graph"},
		{"", "graph"},
		{"héllo wörld", "h-llo-w-rld"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Graph{Name: tc.name}.Slug()
			assert.Equal(t, tc.want, s)
			assert.Regexp(t, validName, s)
		})
	}
}

// TestSlugOfEveryName: every generated name makes a valid container name.
func TestSlugOfEveryName(t *testing.T) {
	for _, name := range Names() {
		if strings.HasPrefix(name, "file:") {
			continue
		}
		g, err := Parse(name, 20, 1)
		require.NoError(t, err)
		assert.Regexp(t, validName, g.Slug(), g.Name)
	}
}
