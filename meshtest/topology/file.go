package topology

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// maxFileNodes bounds the node ids an edge list may use. It is far above what
// one Docker bridge holds (meshtest.MaxNodes), and keeps a mistyped id from
// allocating a graph of a billion nodes.
const maxFileNodes = 1 << 16

// ReadFile reads the edge list at path (the format is in the package
// documentation) as the graph "file:PATH". A relative path is taken from the
// working directory, which under go test is the test's package directory.
func ReadFile(path string) (Graph, error) {
	name := "file:" + path
	f, err := os.Open(path)
	if err != nil {
		wd, _ := os.Getwd()
		return Graph{}, specErrorf(name, "%v (relative paths start from the working directory, %s)", err, wd)
	}
	defer f.Close()
	return ParseEdges(f, name)
}

// ParseEdges reads an edge list from r as the graph called name. Errors give
// the line at fault: malformed lines, ids outside 0..N-1, self-loops and
// connections listed twice (in either direction). The graph must be
// connected, since the experiments need every node reachable; otherwise the
// error counts the components and names a node in each.
func ParseEdges(r io.Reader, name string) (Graph, error) {
	type seen struct {
		line int
		e    Edge
	}
	var (
		g        = Graph{Name: name}
		first    = make(map[Edge]seen) // by link(A, B): direction does not matter
		declared = 0                   // from "nodes N"; 0 when absent
		declLine = 0
		maxID    = -1
		line     = 0
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		switch {
		case len(fields) == 0:
			continue
		case fields[0] == "nodes":
			switch {
			case declared > 0:
				return Graph{}, specErrorf(name, "line %d: a second `nodes` header (the first is on line %d); keep one", line, declLine)
			case len(g.Edges) > 0:
				return Graph{}, specErrorf(name, "line %d: `nodes N` must come before the first edge; move it to the top", line)
			case len(fields) != 2:
				return Graph{}, specErrorf(name, "line %d: want `nodes N`, got %q", line, strings.TrimSpace(text))
			}
			n, err := strconv.Atoi(fields[1])
			if err != nil || n < 2 || n > maxFileNodes {
				return Graph{}, specErrorf(name, "line %d: nodes %s: want a whole number 2..%d", line, fields[1], maxFileNodes)
			}
			declared, declLine = n, line
			continue
		case len(fields) != 2:
			return Graph{}, specErrorf(name, "line %d: want `A B` (node A dials node B), got %q", line, strings.TrimSpace(text))
		}
		var e Edge
		for i, f := range fields {
			id, err := strconv.Atoi(f)
			switch {
			case err != nil || id < 0:
				return Graph{}, specErrorf(name, "line %d: %q is not a node id; ids are whole numbers from 0 (the bootstrap)", line, f)
			case declared > 0 && id >= declared:
				return Graph{}, specErrorf(name, "line %d: node %d is outside 0..%d (`nodes %d` on line %d); raise the count or fix the id", line, id, declared-1, declared, declLine)
			case id >= maxFileNodes:
				return Graph{}, specErrorf(name, "line %d: node %d is beyond the %d nodes an edge list may have", line, id, maxFileNodes)
			}
			if i == 0 {
				e.From = id
			} else {
				e.To = id
			}
		}
		if e.From == e.To {
			return Graph{}, specErrorf(name, "line %d: node %d dials itself; remove the line", line, e.From)
		}
		if s, ok := first[link(e.From, e.To)]; ok {
			return Graph{}, specErrorf(name, "line %d: %d %d repeats the connection on line %d (%d %d); list each connection once, in one direction",
				line, e.From, e.To, s.line, s.e.From, s.e.To)
		}
		first[link(e.From, e.To)] = seen{line, e}
		g.Edges = append(g.Edges, e)
		maxID = max(maxID, e.From, e.To)
	}
	if err := sc.Err(); err != nil {
		return Graph{}, specErrorf(name, "line %d: %w", line+1, err)
	}
	if len(g.Edges) == 0 {
		return Graph{}, specErrorf(name, "no edges; write one `A B` per line (node A dials node B)")
	}
	g.N = maxID + 1
	if declared > 0 {
		g.N = declared
	}
	if roots := g.componentRoots(); len(roots) > 1 {
		return Graph{}, specErrorf(name, "%d components, not 1: every node must be reachable, but nodes %s are in separate components; add edges joining them%s",
			len(roots), listInts(roots, 10), declaredHint(declared, declLine, maxID))
	}
	return g, nil
}

// declaredHint explains an isolated node that only the header created.
func declaredHint(declared, line, maxID int) string {
	if declared > maxID+1 {
		return fmt.Sprintf(" (or lower `nodes %d` on line %d: no edge uses a node above %d)", declared, line, maxID)
	}
	return ""
}

// listInts writes up to limit numbers, "0, 12 and 29", then how many more.
func listInts(xs []int, limit int) string {
	var parts []string
	for _, x := range xs[:min(len(xs), limit)] {
		parts = append(parts, strconv.Itoa(x))
	}
	if len(xs) > limit {
		return strings.Join(parts, ", ") + fmt.Sprintf(" and %d more", len(xs)-limit)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// WriteEdges writes g as an edge list that ParseEdges reads back: its name as
// a comment, a `nodes N` header, then one "A B" line per edge in g's order.
// A test can keep the graph it ran as an artifact this way.
func (g Graph) WriteEdges(w io.Writer) error {
	bw := bufio.NewWriter(w)
	name := strings.NewReplacer("\n", " ", "\r", " ").Replace(g.Name) // a comment ends at the line's end
	fmt.Fprintf(bw, "# %s\n# one edge per line: A B means node A dials node B\nnodes %d\n", name, g.N)
	for _, e := range g.Edges {
		fmt.Fprintf(bw, "%d %d\n", e.From, e.To)
	}
	return bw.Flush()
}
