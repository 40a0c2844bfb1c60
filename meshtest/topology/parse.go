package topology

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// param is one parameter a topology takes in a spec.
type param struct {
	key, def string // def is the default, as written in a spec
	unit     bool   // a probability in 0..1 rather than a whole number
}

// args are parsed parameter values by key; whole numbers are stored exactly.
type args map[string]float64

func (a args) int(key string) int { return int(a[key]) }

// kind is a named topology a spec can ask for.
type kind struct {
	name   string
	params []param // in the order Graph.Name lists them
	random bool    // takes a seed
	build  func(n int, a args, seed uint64) (Graph, error)
}

// kinds are the names Parse knows, in the order its errors list them. The
// defaults are small enough for the default 11-node experiment: d=4 rather
// than 3 because n·d must be even, which 4·n is for every n.
var kinds = []kind{
	{name: "star", build: func(n int, _ args, _ uint64) (Graph, error) {
		if err := atLeast("star", n, 2, "a star"); err != nil {
			return Graph{}, err
		}
		return Star(n - 1), nil
	}},
	{name: "line", build: func(n int, _ args, _ uint64) (Graph, error) { return Line(n) }},
	{name: "ring", build: func(n int, _ args, _ uint64) (Graph, error) { return Ring(n) }},
	{name: "full", build: func(n int, _ args, _ uint64) (Graph, error) { return Full(n) }},
	{name: "tree", params: []param{{key: "k", def: "2"}},
		build: func(n int, a args, _ uint64) (Graph, error) { return Tree(n, a.int("k")) }},
	{name: "random-regular", params: []param{{key: "d", def: "4"}}, random: true,
		build: func(n int, a args, seed uint64) (Graph, error) { return RandomRegular(n, a.int("d"), seed) }},
	{name: "erdos-renyi", params: []param{{key: "p", def: "0.1", unit: true}}, random: true,
		build: func(n int, a args, seed uint64) (Graph, error) { return ErdosRenyi(n, a["p"], seed) }},
	{name: "barabasi-albert", params: []param{{key: "m", def: "2"}}, random: true,
		build: func(n int, a args, seed uint64) (Graph, error) { return BarabasiAlbert(n, a.int("m"), seed) }},
	{name: "watts-strogatz", params: []param{{key: "k", def: "4"}, {key: "beta", def: "0.2", unit: true}}, random: true,
		build: func(n int, a args, seed uint64) (Graph, error) {
			return WattsStrogatz(n, a.int("k"), a["beta"], seed)
		}},
}

// Names lists the topology names Parse accepts, "file:PATH" last.
func Names() []string {
	out := make([]string, 0, len(kinds)+1)
	for _, k := range kinds {
		out = append(out, k.name)
	}
	return append(out, "file:PATH")
}

// Parse builds the graph a spec names, as the -topology flag gives it:
// "NAME" or "NAME:key=value,key=value", with Names listing the names and the
// package documentation their parameters and defaults. nodes is the total
// node count, bootstrap included (an experiment passes peers+1); a
// "file:PATH" spec fixes its own count and ignores it. Random topologies draw
// from seed unless the spec carries "seed=S", as every random Graph.Name
// does, so that a name rebuilds its graph. The graph is connected, simple
// and Validate passes; an error names the spec and how to fix it.
func Parse(s string, nodes int, seed uint64) (Graph, error) {
	s = strings.TrimSpace(s)
	name, rest, hasParams := strings.Cut(s, ":")
	if name == "file" {
		if strings.TrimSpace(rest) == "" {
			return Graph{}, specErrorf(s, "no edge list named; write file:PATH, e.g. file:testdata/topologies/ring-10.edges")
		}
		return ReadFile(strings.TrimSpace(rest))
	}
	var k *kind
	for i := range kinds {
		if kinds[i].name == name {
			k = &kinds[i]
			break
		}
	}
	if k == nil {
		if s == "" {
			return Graph{}, fmt.Errorf("empty topology: use one of %s", strings.Join(Names(), ", "))
		}
		return Graph{}, specErrorf(s, "unknown topology %q: use one of %s", name, strings.Join(Names(), ", "))
	}
	a, seed, err := k.parseArgs(s, rest, hasParams, seed)
	if err != nil {
		return Graph{}, err
	}
	if nodes < 1 {
		return Graph{}, specErrorf(s, "n=%d: give the total node count, bootstrap included (peers+1)", nodes)
	}
	return k.build(nodes, a, seed)
}

// parseArgs reads the "key=value,..." after the colon, filling in defaults.
func (k *kind) parseArgs(s, rest string, hasParams bool, seed uint64) (args, uint64, error) {
	a := make(args, len(k.params))
	for _, p := range k.params {
		a[p.key], _ = strconv.ParseFloat(p.def, 64) // defaults are known good
	}
	if !hasParams {
		return a, seed, nil
	}
	if len(k.params) == 0 && !k.random {
		return nil, 0, specErrorf(s, "%s takes no parameters; write just %q", k.name, k.name)
	}
	seen := make(map[string]bool)
	for _, kv := range strings.Split(rest, ",") {
		key, val, ok := strings.Cut(kv, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return nil, 0, specErrorf(s, "parameter %q is not key=value; %s", kv, k.takes())
		}
		if seen[key] {
			return nil, 0, specErrorf(s, "parameter %q given twice; give it once", key)
		}
		seen[key] = true
		if key == "seed" && k.random {
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, 0, specErrorf(s, "seed=%s: want a whole number 0..%d", val, uint64(1<<64-1))
			}
			seed = v
			continue
		}
		i := k.param(key)
		if i < 0 {
			return nil, 0, specErrorf(s, "unknown parameter %q; %s", key, k.takes())
		}
		if k.params[i].unit {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return nil, 0, specErrorf(s, "%s=%s: want a number in 0..1, e.g. %s=%s", key, val, key, k.params[i].def)
			}
			a[key] = v
			continue
		}
		v, err := strconv.Atoi(val)
		if err != nil {
			return nil, 0, specErrorf(s, "%s=%s: want a whole number, e.g. %s=%s", key, val, key, k.params[i].def)
		}
		a[key] = float64(v)
	}
	return a, seed, nil
}

// param returns the index of the parameter called key, or -1.
func (k *kind) param(key string) int {
	for i, p := range k.params {
		if p.key == key {
			return i
		}
	}
	return -1
}

// takes describes the parameters of k for an error message, e.g.
// "watts-strogatz takes k (default 4), beta (default 0.2), seed".
func (k *kind) takes() string {
	var ps []string
	for _, p := range k.params {
		ps = append(ps, fmt.Sprintf("%s (default %s)", p.key, p.def))
	}
	if k.random {
		ps = append(ps, "seed")
	}
	if len(ps) == 0 {
		return k.name + " takes no parameters"
	}
	return k.name + " takes " + strings.Join(ps, ", ")
}

// Slug is Name made safe for file and container names: ASCII letters, digits
// and single dashes, as meshtest.Config.Name requires. "=" is dropped and a
// decimal point becomes "p", so "watts-strogatz:k=4,beta=0.2,seed=1" is
// "watts-strogatz-k4-beta0p2-seed1"; a "file:PATH" graph is known by its file
// name without extension, "file:testdata/topologies/ring-10.edges" as
// "ring-10". A name with nothing usable is "graph".
func (g Graph) Slug() string {
	name, file := strings.CutPrefix(g.Name, "file:")
	if file {
		base := filepath.Base(name)
		name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	var b strings.Builder
	dash := true // no leading dash
	for _, c := range name {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
			b.WriteRune(c)
			dash = false
		case c == '=' && !file:
		case c == '.' && !file && !dash:
			b.WriteByte('p')
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	if s := strings.TrimRight(b.String(), "-"); s != "" {
		return s
	}
	return "graph"
}
