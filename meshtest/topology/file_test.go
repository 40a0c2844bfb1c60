package topology

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// examples is where the module keeps its example edge lists.
const examples = "../../testdata/topologies"

// TestExampleFiles: every shipped edge list reads, is connected, fits a
// small experiment, and reads the same through Parse.
func TestExampleFiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(examples, "*.edges"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, err := ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, g.Validate())
			assert.True(t, g.Connected())
			assert.LessOrEqual(t, g.N, 30)
			assert.Equal(t, "file:"+path, g.Name)
			assert.Equal(t, strings.TrimSuffix(filepath.Base(path), ".edges"), g.Slug())
			parsed, err := Parse("file:"+path, 0, 0)
			require.NoError(t, err)
			assert.Equal(t, g, parsed)
		})
	}
}

func TestExampleFileShapes(t *testing.T) {
	ring, err := ReadFile(filepath.Join(examples, "ring-10.edges"))
	require.NoError(t, err)
	want, err := Ring(10)
	require.NoError(t, err)
	sortEdges(ring.Edges)
	assert.Equal(t, want.Edges, ring.Edges, "ring-10 is Ring(10)")

	stars, err := ReadFile(filepath.Join(examples, "two-stars.edges"))
	require.NoError(t, err)
	assert.Equal(t, []int{10, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, stars.Degrees())
	assert.Empty(t, stars.Dials(0), "the bootstrap dials no one")

	sw, err := ReadFile(filepath.Join(examples, "small-world-30.edges"))
	require.NoError(t, err)
	assert.Equal(t, 30, sw.N)
	assert.Len(t, sw.Edges, 30*4/2, "n·k/2 edges for k=4")
}

func TestParseEdges(t *testing.T) {
	g, err := ParseEdges(strings.NewReader("# a path\n\n  1 0   # dials the bootstrap\n2\t1\n"), "path")
	require.NoError(t, err)
	assert.Equal(t, Graph{Name: "path", N: 3, Edges: []Edge{{1, 0}, {2, 1}}}, g)

	g, err = ParseEdges(strings.NewReader("nodes 3\n0 1\n2 1\n"), "declared")
	require.NoError(t, err)
	assert.Equal(t, 3, g.N)
	assert.Equal(t, []Edge{{0, 1}, {2, 1}}, g.Edges, "the file's direction is kept: 0 may dial")
}

// TestParseEdgesErrors: each fault is reported with its line and the fix.
func TestParseEdgesErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"loop", "1 0\n1 1\n", `topology "f": line 2: node 1 dials itself; remove the line`},
		{"repeat", "1 0\n2 1\n1 0\n", `line 3: 1 0 repeats the connection on line 1 (1 0); list each connection once, in one direction`},
		{"reverse", "1 0\n2 1\n\n0 1\n", `line 4: 0 1 repeats the connection on line 1 (1 0)`},
		{"outside declared", "nodes 3\n1 0\n# x\n3 0\n", "line 4: node 3 is outside 0..2 (`nodes 3` on line 1); raise the count or fix the id"},
		{"negative", "1 -2\n", `line 1: "-2" is not a node id; ids are whole numbers from 0 (the bootstrap)`},
		{"word", "1 0\nb 0\n", `line 2: "b" is not a node id`},
		{"huge", "70000 0\n", `line 1: node 70000 is beyond the 65536 nodes an edge list may have`},
		{"three", "1 0\n1 2 3\n", "line 2: want `A B` (node A dials node B), got \"1 2 3\""},
		{"one", "1\n", "line 1: want `A B`"},
		{"arrow", "1 -> 0\n", "line 1: want `A B`"},
		{"header late", "1 0\nnodes 2\n", "line 2: `nodes N` must come before the first edge; move it to the top"},
		{"header twice", "nodes 2\nnodes 2\n1 0\n", "line 2: a second `nodes` header (the first is on line 1); keep one"},
		{"header word", "nodes many\n", "line 1: nodes many: want a whole number 2..65536"},
		{"header one", "nodes 1\n", "nodes 1: want a whole number 2..65536"},
		{"header fields", "nodes 2 3\n", "line 1: want `nodes N`, got \"nodes 2 3\""},
		{"empty", "# nothing\n\n", "no edges; write one `A B` per line (node A dials node B)"},
		{"only header", "nodes 4\n", "no edges"},
		{"two parts", "1 0\n3 2\n", `topology "f": 2 components, not 1: every node must be reachable, but nodes 0 and 2 are in separate components; add edges joining them`},
		{"isolated by header", "nodes 4\n1 0\n2 1\n", "2 components, not 1: every node must be reachable, but nodes 0 and 3 are in separate components; add edges joining them (or lower `nodes 4` on line 1: no edge uses a node above 2)"},
		{"many parts", "1 0\n3 2\n5 4\n7 6\n", "4 components, not 1: every node must be reachable, but nodes 0, 2, 4 and 6 are"},
		{"long line", strings.Repeat("1", 70000), "line 1: bufio.Scanner: token too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEdges(strings.NewReader(tc.in), "f")
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestListInts(t *testing.T) {
	assert.Equal(t, "7", listInts([]int{7}, 3))
	assert.Equal(t, "1 and 2", listInts([]int{1, 2}, 3))
	assert.Equal(t, "1, 2 and 3", listInts([]int{1, 2, 3}, 3))
	assert.Equal(t, "1, 2, 3 and 2 more", listInts([]int{1, 2, 3, 4, 5}, 3))
}

// TestWriteEdges: a generated graph written out reads back as itself, so an
// experiment can keep the exact graph it ran.
func TestWriteEdges(t *testing.T) {
	g, err := WattsStrogatz(30, 4, 0.2, 1)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, g.WriteEdges(&buf))
	back, err := ParseEdges(&buf, g.Name)
	require.NoError(t, err)
	g.Note = "" // the note is about drawing the graph; a file does not carry it
	assert.Equal(t, g, back)
}

// FuzzParseEdges: whatever the input, ParseEdges either fails or returns a
// connected graph that Validate accepts and that survives WriteEdges.
func FuzzParseEdges(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(examples, "*.edges"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{"", "1 0", "nodes 2\n1 0", "0 1\n1 0", "1 1", "nodes 3\n1 0", "1 0 # c\n#\n2 0", "-1 0", "99999 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		g, err := ParseEdges(strings.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), `topology "fuzz": `) {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("accepted an invalid graph: %v", err)
		}
		if !g.Connected() {
			t.Fatalf("accepted a graph of %d components", g.Components())
		}
		var buf bytes.Buffer
		if err := g.WriteEdges(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ParseEdges(&buf, "fuzz")
		if err != nil {
			t.Fatalf("cannot read back what WriteEdges wrote: %v\n%s", err, buf.String())
		}
		if back.N != g.N || !equalEdges(back, g) {
			t.Fatalf("read back %d nodes %v, wrote %d nodes %v", back.N, back.Edges, g.N, g.Edges)
		}
	})
}
