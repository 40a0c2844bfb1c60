package conditions

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// maxRegions bounds the regions of a GML graph: all-pairs shortest paths
// cost regions³, and a mesh has at most about a thousand nodes to place.
const maxRegions = 1024

// ReadGML reads a Shadow network graph in GML as Regions: each graph node
// a region, named by its label (its id where it has none), in the order of
// the file; each edge a link with its one-way latency, jitter and
// packet_loss. Where the graph is undirected (directed 0, the default) an
// edge serves both ways.
//
// As Shadow does by default (use_shortest_path), the link between two
// regions follows the shortest path by latency, lower loss breaking ties,
// even where a direct edge exists: latencies and jitters add up along it,
// losses compose. Within a region the link is its self-loop, and the zero
// Link where it has none (Shadow would refuse the graph). Unlike Shadow,
// jitter is applied, not ignored. A node's host_bandwidth_up and
// host_bandwidth_down ("1 Gbit"; Shadow's older bandwidth_up and
// bandwidth_down too) become Regions.Up and Down rates. Other keys (label
// on edges, country_code, ip_address, …) are ignored.
//
// Units are Shadow's: latency "50 ms" (ns, us, μs, ms, s, min, h; a bare
// number, which Shadow reads as seconds, is refused as too easy to get
// wrong), bandwidth "100 Mbit" (bit with K, M, G, T or Ki, Mi, Gi, Ti; a
// bare number is bit/s). The result is not validated; Load does that.
func ReadGML(r io.Reader) (Regions, error) {
	data, err := readAll(r, maxFile)
	if err != nil {
		return Regions{}, fmt.Errorf("read gml: %w", err)
	}
	p := &gmlParser{data: data, line: 1}
	top, err := p.list(0)
	if err != nil {
		return Regions{}, fmt.Errorf("read gml: %w", err)
	}
	g, err := graphOf(top)
	if err != nil {
		return Regions{}, fmt.Errorf("read gml: %w", err)
	}
	return g.regions()
}

// gmlPair is one "key value" of a GML file; a value is a number, a string
// or a list of pairs.
type gmlPair struct {
	key  string
	line int
	num  float64
	str  string
	kind byte // 'n' number, 's' string, 'l' list
	list []gmlPair
}

func (v gmlPair) what() string {
	switch v.kind {
	case 'n':
		return "a number"
	case 's':
		return "a string"
	}
	return "a list"
}

// gmlParser reads GML: whitespace-separated keys and values, strings in
// double quotes (HTML entities for what they cannot hold, as networkx
// writes them), lists in brackets, comments from # to the end of the line.
type gmlParser struct {
	data []byte
	pos  int
	line int
}

// maxDepth bounds list nesting: a graph needs three levels.
const maxDepth = 32

func (p *gmlParser) skip() {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '\n':
			p.line++
			p.pos++
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '#':
			for p.pos < len(p.data) && p.data[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// list reads pairs up to the end of the data (depth 0) or a closing ']'.
func (p *gmlParser) list(depth int) ([]gmlPair, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: lists nested deeper than %d", p.line, maxDepth)
	}
	var out []gmlPair
	for {
		p.skip()
		if p.pos == len(p.data) {
			if depth > 0 {
				return nil, fmt.Errorf("line %d: the file ends inside a list; close it with ]", p.line)
			}
			return out, nil
		}
		if p.data[p.pos] == ']' {
			if depth == 0 {
				return nil, fmt.Errorf("line %d: ] closes no list", p.line)
			}
			p.pos++
			return out, nil
		}
		start := p.pos
		for p.pos < len(p.data) && isKeyByte(p.data[p.pos], p.pos == start) {
			p.pos++
		}
		if p.pos == start {
			return nil, fmt.Errorf("line %d: %q where a key was expected", p.line, p.token())
		}
		v := gmlPair{key: string(p.data[start:p.pos]), line: p.line}
		p.skip()
		if err := p.value(&v, depth); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (p *gmlParser) value(v *gmlPair, depth int) error {
	if p.pos == len(p.data) {
		return fmt.Errorf("line %d: %s has no value", v.line, v.key)
	}
	switch c := p.data[p.pos]; {
	case c == '[':
		p.pos++
		list, err := p.list(depth + 1)
		v.kind, v.list = 'l', list
		return err
	case c == '"':
		end := bytes.IndexByte(p.data[p.pos+1:], '"')
		if end < 0 {
			return fmt.Errorf("line %d: %s: the string never ends; close it with \"", v.line, v.key)
		}
		s := string(p.data[p.pos+1 : p.pos+1+end])
		p.line += strings.Count(s, "\n")
		p.pos += end + 2
		v.kind, v.str = 's', html.UnescapeString(s)
		return nil
	}
	tok := p.token()
	p.pos += len(tok)
	n, err := strconv.ParseFloat(tok, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Errorf("line %d: %s: %q is not a number, a \"string\" or a [ list ]", v.line, v.key, tok)
	}
	v.kind, v.num, v.str = 'n', n, tok
	return nil
}

// token is the run of non-space bytes at the position, for values and
// errors.
func (p *gmlParser) token() string {
	end := p.pos
	for end < len(p.data) && !strings.ContainsRune(" \t\r\n[]", rune(p.data[end])) {
		end++
	}
	return string(p.data[p.pos:end])
}

func isKeyByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// gmlGraph is the part of a graph Regions need.
type gmlGraph struct {
	directed bool
	nodes    []gmlNode
	edges    []gmlEdge
}

type gmlNode struct {
	id       int
	label    string
	up, down int64
	line     int
}

type gmlEdge struct {
	from, to int // positions in nodes
	link     shape.Link
	line     int
}

func graphOf(top []gmlPair) (gmlGraph, error) {
	var g gmlGraph
	var graph *gmlPair
	for i, v := range top {
		if v.key != "graph" {
			continue
		}
		if graph != nil {
			return g, fmt.Errorf("line %d: a second graph (the first is on line %d); a file holds one", v.line, graph.line)
		}
		if v.kind != 'l' {
			return g, fmt.Errorf("line %d: graph is %s; want graph [ … ]", v.line, v.what())
		}
		graph = &top[i]
	}
	if graph == nil {
		return g, errors.New("no graph [ … ] in the file")
	}
	pos := make(map[int]int) // node id → position
	for _, v := range graph.list {
		switch v.key {
		case "directed":
			d, err := integer(v)
			if err != nil || d != 0 && d != 1 {
				return g, fmt.Errorf("line %d: directed %s: want 0 or 1", v.line, v.str)
			}
			g.directed = d == 1
		case "node":
			n, err := nodeOf(v)
			if err != nil {
				return g, err
			}
			if j, dup := pos[n.id]; dup {
				return g, fmt.Errorf("line %d: node id %d is also the node on line %d; give every node its own id", v.line, n.id, g.nodes[j].line)
			}
			pos[n.id] = len(g.nodes)
			g.nodes = append(g.nodes, n)
		}
	}
	// Edges after nodes: a file may list them in any order.
	for _, v := range graph.list {
		if v.key == "edge" {
			e, err := edgeOf(v, pos)
			if err != nil {
				return g, err
			}
			g.edges = append(g.edges, e)
		}
	}
	return g, nil
}

func nodeOf(v gmlPair) (gmlNode, error) {
	n := gmlNode{line: v.line}
	if v.kind != 'l' {
		return n, fmt.Errorf("line %d: node is %s; want node [ id … ]", v.line, v.what())
	}
	hasID := false
	for _, f := range v.list {
		var err error
		switch f.key {
		case "id":
			n.id, err = integer(f)
			hasID = true
		case "label":
			n.label, err = text(f)
		case "host_bandwidth_up", "bandwidth_up":
			n.up, err = bandwidth(f)
		case "host_bandwidth_down", "bandwidth_down":
			n.down, err = bandwidth(f)
		}
		if err != nil {
			return n, fmt.Errorf("line %d: node: %s: %w", f.line, f.key, err)
		}
	}
	if !hasID {
		return n, fmt.Errorf("line %d: node without an id; give it id N", v.line)
	}
	if n.label == "" {
		n.label = strconv.Itoa(n.id)
	}
	return n, nil
}

func edgeOf(v gmlPair, pos map[int]int) (gmlEdge, error) {
	e := gmlEdge{line: v.line, from: -1, to: -1}
	if v.kind != 'l' {
		return e, fmt.Errorf("line %d: edge is %s; want edge [ source … target … latency … ]", v.line, v.what())
	}
	hasLatency := false
	for _, f := range v.list {
		var err error
		switch f.key {
		case "source", "target":
			var id int
			if id, err = integer(f); err == nil {
				p, ok := pos[id]
				if !ok {
					err = fmt.Errorf("no node has id %d", id)
				}
				if f.key == "source" {
					e.from = p
				} else {
					e.to = p
				}
			}
		case "latency":
			e.link.Latency, err = duration(f)
			hasLatency = true
		case "jitter":
			e.link.Jitter, err = duration(f)
		case "packet_loss":
			switch {
			case f.kind != 'n':
				err = fmt.Errorf("%s; want a fraction in 0..1, as in 0.01", f.what())
			case f.num < 0 || f.num > 1:
				err = fmt.Errorf("%s is not a fraction in 0..1; write 0.01 for one percent", f.str)
			default:
				e.link.Loss = f.num
			}
		}
		if err != nil {
			return e, fmt.Errorf("line %d: edge: %s: %w", f.line, f.key, err)
		}
	}
	switch {
	case e.from < 0 || e.to < 0:
		return e, fmt.Errorf("line %d: edge without a source and a target; give both, as node ids", v.line)
	case !hasLatency:
		return e, fmt.Errorf("line %d: edge without a latency; give one, as in latency \"50 ms\"", v.line)
	}
	return e, nil
}

func integer(v gmlPair) (int, error) {
	if v.kind != 'n' || v.num != math.Trunc(v.num) || math.Abs(v.num) > 1<<31 {
		return 0, fmt.Errorf("%s is not a whole number", cmp.Or(v.str, v.what()))
	}
	return int(v.num), nil
}

func text(v gmlPair) (string, error) {
	if v.kind != 's' {
		return "", fmt.Errorf("%s; want a \"string\"", v.what())
	}
	return v.str, nil
}

// timeUnits are Shadow's time units.
var timeUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "nanosecond": time.Nanosecond, "nanoseconds": time.Nanosecond,
	"us": time.Microsecond, "μs": time.Microsecond, "µs": time.Microsecond, "microsecond": time.Microsecond, "microseconds": time.Microsecond,
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
}

func duration(v gmlPair) (time.Duration, error) {
	s, err := text(v)
	if err != nil {
		return 0, fmt.Errorf("%w such as \"50 ms\"", err)
	}
	num, unit := splitUnit(s)
	mult, ok := timeUnits[unit]
	x, perr := strconv.ParseFloat(num, 64)
	switch {
	case perr != nil || x < 0:
		return 0, fmt.Errorf("%q: want a number and a unit, as in \"50 ms\"", s)
	case unit == "":
		return 0, fmt.Errorf("%q has no unit (Shadow would read seconds); write it with one, as in \"%s ms\" or \"%s s\"", s, num, num)
	case !ok:
		return 0, fmt.Errorf("%q: unknown unit %q; use ns, us, ms or s", s, unit)
	case x*float64(mult) > float64(math.MaxInt64/2):
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(math.Round(x * float64(mult))), nil
}

// ratePrefixes are Shadow's bandwidth prefixes, before "bit" or "bits".
var ratePrefixes = map[string]float64{
	"": 1, "k": 1e3, "kilo": 1e3, "ki": 1 << 10, "kibi": 1 << 10,
	"m": 1e6, "mega": 1e6, "mi": 1 << 20, "mebi": 1 << 20,
	"g": 1e9, "giga": 1e9, "gi": 1 << 30, "gibi": 1 << 30,
	"t": 1e12, "tera": 1e12, "ti": 1 << 40, "tebi": 1 << 40,
}

func bandwidth(v gmlPair) (int64, error) {
	s, err := text(v)
	if err != nil {
		return 0, fmt.Errorf("%w such as \"100 Mbit\"", err)
	}
	num, unit := splitUnit(s)
	lower := strings.ToLower(unit)
	prefix, isBits := strings.CutSuffix(lower, "bits")
	if !isBits {
		prefix, isBits = strings.CutSuffix(lower, "bit")
	}
	mult, ok := ratePrefixes[prefix]
	x, perr := strconv.ParseFloat(num, 64)
	switch {
	case perr != nil || x < 0:
		return 0, fmt.Errorf("%q: want a number and a unit, as in \"100 Mbit\"", s)
	case unit != "" && (!isBits || !ok):
		return 0, fmt.Errorf("%q: unknown unit %q; bandwidth is in bits per second, as in \"100 Mbit\" or \"1 Gbit\"", s, unit)
	case x*mult > float64(math.MaxInt64/2):
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(math.Round(x * mult)), nil
}

// splitUnit splits "50 ms" or "50ms" into "50" and "ms".
func splitUnit(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+') })
	if i < 0 {
		return s, ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
}

// regions computes the link between every pair of regions.
func (g gmlGraph) regions() (Regions, error) {
	n := len(g.nodes)
	switch {
	case n == 0:
		return Regions{}, errors.New("read gml: the graph has no nodes; each node is a region")
	case n > maxRegions:
		return Regions{}, fmt.Errorf("read gml: %d nodes exceed %d regions; merge regions", n, maxRegions)
	}
	r := Regions{Names: make([]string, n)}
	seen := make(map[string]int, n)
	hasUp, hasDown := false, false
	for i, node := range g.nodes {
		if j, dup := seen[node.label]; dup {
			return Regions{}, fmt.Errorf("read gml: line %d: label %q is also the node's on line %d; give every node its own label, the region's name", node.line, node.label, g.nodes[j].line)
		}
		seen[node.label] = i
		r.Names[i] = node.label
		hasUp, hasDown = hasUp || node.up != 0, hasDown || node.down != 0
	}
	if hasUp || hasDown {
		r.Up, r.Down = make([]shape.Link, n), make([]shape.Link, n)
		for i, node := range g.nodes {
			r.Up[i].Rate, r.Down[i].Rate = node.up, node.down
		}
		if !hasUp {
			r.Up = nil
		}
		if !hasDown {
			r.Down = nil
		}
	}

	// best[i][j] is the best path found from i to j; self holds self-loops.
	type hop struct {
		link shape.Link
		ok   bool
	}
	best := make([][]hop, n)
	for i := range best {
		best[i] = make([]hop, n)
		best[i][i].ok = true // the empty path, for the search only
	}
	self := make([]hop, n)
	edgeLine := make(map[[2]int]int, len(g.edges))
	for _, e := range g.edges {
		k := [2]int{e.from, e.to}
		if !g.directed && k[0] > k[1] {
			k[0], k[1] = k[1], k[0]
		}
		if line, dup := edgeLine[k]; dup {
			return Regions{}, fmt.Errorf("read gml: line %d: a second edge %s–%s (the first is on line %d); keep one", e.line, r.Names[e.from], r.Names[e.to], line)
		}
		edgeLine[k] = e.line
		if e.from == e.to {
			self[e.from] = hop{e.link, true}
			continue
		}
		best[e.from][e.to] = hop{e.link, true}
		if !g.directed {
			best[e.to][e.from] = hop{e.link, true}
		}
	}
	// Floyd–Warshall by (latency, loss), the order of Shadow's Dijkstra.
	shorter := func(a, b shape.Link) bool {
		return a.Latency < b.Latency || a.Latency == b.Latency && a.Loss < b.Loss
	}
	for k := range n {
		for i := range n {
			ik := best[i][k]
			if !ik.ok || i == k {
				continue
			}
			for j := range n {
				kj := best[k][j]
				if !kj.ok || j == k || i == j {
					continue
				}
				via := chain(ik.link, kj.link)
				if !best[i][j].ok || shorter(via, best[i][j].link) {
					best[i][j] = hop{via, true}
				}
			}
		}
	}
	r.Links = make([][]shape.Link, n)
	for i := range n {
		r.Links[i] = make([]shape.Link, n)
		for j := range n {
			if i == j {
				r.Links[i][i] = self[i].link
				continue
			}
			if !best[i][j].ok {
				return Regions{}, fmt.Errorf("read gml: no path from %s to %s; Shadow needs every region to reach every other, so add an edge", r.Names[i], r.Names[j])
			}
			r.Links[i][j] = best[i][j].link
		}
	}
	return r, nil
}
