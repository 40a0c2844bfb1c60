package conditions

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// Conditions describe the network of one experiment: a default link, the
// uplink and downlink of chosen nodes, overrides for chosen links, and
// regions. The package documentation says how they compose into the
// conditions of one path. The zero Conditions change nothing.
//
// Conditions marshal to JSON in the file format Parse reads (links in
// shape.ParseLink's compact form), so a summary.json shows them as a person
// writes them and Parse reads them back.
type Conditions struct {
	// Link is the default for every directed link between two nodes: with
	// latency=50ms, A→B waits 50 ms and the RTT of any pair is 100 ms; a rate
	// limits each directed link on its own. It is unused where Regions are
	// set, since every pair of regions has its own link there.
	Link shape.Link
	// Nodes give chosen nodes an uplink and a downlink.
	Nodes []NodeRule
	// Links override the default (or the regions' link) for chosen links.
	Links []LinkRule
	// Regions place the nodes in regions with a link between each pair.
	Regions Regions
}

// NodeRule gives the nodes Select picks an uplink (Up: everything they send)
// and a downlink (Down: everything they receive). Up.Rate and Down.Rate are
// the node's total capacity each way; Up's latency, jitter and loss add to
// every path leaving the node, Down's to every path entering it. Where
// several rules pick a node, the last one wins, whole: a later rule replaces
// an earlier one, it does not merge with it.
type NodeRule struct {
	Select   string
	Up, Down shape.Link
}

// LinkRule gives the directed links From→To (and To→From if Both) the
// conditions Link, in place of the default or the regions' link. Where
// several rules match a link, the last one wins.
type LinkRule struct {
	From, To string
	Link     shape.Link
	Both     bool
}

// Regions place nodes in regions, as Shadow's network graphs do: Links[i][j]
// is the link from any node of region Names[i] to any node of Names[j], and
// Links[i][i] the link within region i (the zero Link: no added delay).
// ReadGML builds them from a Shadow GML graph.
type Regions struct {
	// Names are the regions, in the order round-robin assignment uses.
	Names []string
	// Links is a len(Names)×len(Names) matrix, row i the links leaving
	// region i. A one-way latency per pair, and optionally jitter, loss and
	// a rate per directed link.
	Links [][]shape.Link
	// Up and Down, when not nil, hold one Link per region: the uplink and
	// downlink of each of its nodes (Shadow's host_bandwidth_up and
	// host_bandwidth_down) that no NodeRule picks.
	Up, Down []shape.Link
	// Assign puts the nodes each entry selects into its region; the last
	// entry that selects a node wins. A node no entry selects goes to
	// Names[Index mod len(Names)]: round-robin in index order, so with no
	// entries the bootstrap (index 0) is in Names[0], peer-001 in Names[1].
	Assign []Assign
}

// Assign puts the nodes Select picks into the region named Region.
type Assign struct {
	Select, Region string
}

// Node is what selectors see of one node of the mesh.
type Node struct {
	// Index is the node's place in the mesh: 0 for the bootstrap, i for
	// peer i, as topology edges number them.
	Index int
	// Name is unique ("bootstrap", "peer-001"); Role and Group are shared
	// ("peer", the group's name).
	Name, Role, Group string
	// Addr is the node's address on the mesh network: what the compiled
	// rules match.
	Addr netip.Addr
}

// selects reports whether the selector sel picks n: sel is "*", equals n's
// Name, Role or Group, or is a path.Match pattern that matches its Name. The
// empty selector picks nothing (Validate refuses it).
func selects(sel string, n Node) bool {
	if sel == "" {
		return false
	}
	if sel == "*" || sel == n.Name || sel == n.Role || sel == n.Group {
		return true
	}
	ok, _ := path.Match(sel, n.Name)
	return ok
}

// IsZero reports whether c changes nothing: every link, uplink and downlink
// it names, the regions' included, is the zero Link.
func (c Conditions) IsZero() bool {
	if !c.Link.IsZero() {
		return false
	}
	for _, r := range c.Nodes {
		if !r.Up.IsZero() || !r.Down.IsZero() {
			return false
		}
	}
	for _, r := range c.Links {
		if !r.Link.IsZero() {
			return false
		}
	}
	for _, row := range c.Regions.Links {
		if !allZero(row) {
			return false
		}
	}
	return allZero(c.Regions.Up) && allZero(c.Regions.Down)
}

// allZero reports whether every link of ls is the zero Link.
func allZero(ls []shape.Link) bool {
	return !slices.ContainsFunc(ls, func(l shape.Link) bool { return !l.IsZero() })
}

// Validate returns every problem of c that needs no nodes to see, each
// naming the field ("nodes[1].up.latency", "links[0].from") and how to fix
// it, or nil. ValidateFor also checks c against the nodes of a mesh.
func (c Conditions) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(linkErr("link", c.Link))
	if c.Regions.set() && !c.Link.IsZero() {
		add(fmt.Errorf("link: %s has no effect with regions, where every pair of regions has its own link; add it to the regions' links, or leave it out", c.Link.String()))
	}
	for i, r := range c.Nodes {
		at := fmt.Sprintf("nodes[%d]", i)
		add(selectorErr(at+".select", r.Select))
		add(linkErr(at+".up", r.Up))
		add(linkErr(at+".down", r.Down))
	}
	for i, r := range c.Links {
		at := fmt.Sprintf("links[%d]", i)
		add(selectorErr(at+".from", r.From))
		add(selectorErr(at+".to", r.To))
		add(linkErr(at+".link", r.Link))
	}
	add(c.Regions.validate("regions"))
	return errors.Join(errs...)
}

// set reports whether regions are configured at all.
func (r Regions) set() bool {
	return len(r.Names) > 0 || r.Links != nil || r.Up != nil || r.Down != nil || r.Assign != nil
}

func (r Regions) validate(at string) error {
	if !r.set() {
		return nil
	}
	n := len(r.Names)
	if n == 0 {
		return fmt.Errorf("%s.names: empty, but links, up, down or assign are given; name the regions", at)
	}
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	seen := make(map[string]int, n)
	for i, name := range r.Names {
		switch j, dup := seen[name]; {
		case name == "":
			bad("%s.names[%d]: empty; give every region a name", at, i)
		case dup:
			bad("%s.names[%d]: %q is also names[%d]; give every region its own name", at, i, name, j)
		default:
			seen[name] = i
		}
	}
	name := func(i int) string { return cmp.Or(r.Names[i], fmt.Sprint(i)) }
	if len(r.Links) != n {
		bad("%s.links: %d rows for %d regions; give one row per region, in the order of names", at, len(r.Links), n)
	}
	for i, row := range r.Links[:min(n, len(r.Links))] {
		if len(row) != n {
			bad("%s.links[%s]: %d links for %d regions; give one per region, in the order of names", at, name(i), len(row), n)
			continue
		}
		for j, l := range row {
			if err := linkErr(fmt.Sprintf("%s.links[%s][%s]", at, name(i), name(j)), l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, side := range []struct {
		field string
		links []shape.Link
	}{{"up", r.Up}, {"down", r.Down}} {
		if side.links == nil {
			continue
		}
		if len(side.links) != n {
			bad("%s.%s: %d links for %d regions; give one per region, in the order of names, or none", at, side.field, len(side.links), n)
			continue
		}
		for i, l := range side.links {
			if err := linkErr(fmt.Sprintf("%s.%s[%s]", at, side.field, name(i)), l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i, a := range r.Assign {
		if err := selectorErr(fmt.Sprintf("%s.assign[%d].select", at, i), a.Select); err != nil {
			errs = append(errs, err)
		}
		if _, ok := seen[a.Region]; !ok {
			bad("%s.assign[%d].region: %q is not a region; use one of %s", at, i, a.Region, strings.Join(r.Names, ", "))
		}
	}
	return errors.Join(errs...)
}

// region returns the index of n's region: the last Assign entry that selects
// it, else round-robin by Index. r must be set.
func (r Regions) region(n Node) int {
	for i := len(r.Assign) - 1; i >= 0; i-- {
		if a := r.Assign[i]; selects(a.Select, n) {
			if k := slices.Index(r.Names, a.Region); k >= 0 {
				return k
			}
		}
	}
	k := len(r.Names)
	return (n.Index%k + k) % k
}

// ValidateFor returns what Validate does, and also every problem of c with
// these nodes: a selector that picks none of them (a typo, most often), a
// LinkRule that can only match a node's link to itself, and nodes without a
// unique name, index and IPv4 address (shape conditions IPv4 only). Compile
// and Pick call it.
func (c Conditions) ValidateFor(nodes []Node) error {
	errs := []error{c.Validate()}
	errs = append(errs, validateNodes(nodes)...)
	var known string // described once, only if a selector needs it
	unknown := func(at, sel string) {
		if known == "" {
			known = describe(nodes)
		}
		errs = append(errs, fmt.Errorf("%s: %q picks no node; the nodes are %s", at, sel, known))
	}
	// matches returns how many nodes sel picks and the first of them.
	matches := func(sel string) (count, first int) {
		first = -1
		for i, n := range nodes {
			if selects(sel, n) {
				if count == 0 {
					first = i
				}
				count++
			}
		}
		return count, first
	}
	for i, r := range c.Nodes {
		if n, _ := matches(r.Select); n == 0 && r.Select != "" {
			unknown(fmt.Sprintf("nodes[%d].select", i), r.Select)
		}
	}
	for i, r := range c.Links {
		nf, f := matches(r.From)
		nt, t := matches(r.To)
		if nf == 0 && r.From != "" {
			unknown(fmt.Sprintf("links[%d].from", i), r.From)
		}
		if nt == 0 && r.To != "" {
			unknown(fmt.Sprintf("links[%d].to", i), r.To)
		}
		if nf == 1 && nt == 1 && f == t {
			errs = append(errs, fmt.Errorf("links[%d]: from %q and to %q pick only %s, and a node's link to itself carries nothing; name two different nodes", i, r.From, r.To, nodes[f].Name))
		}
	}
	for i, a := range c.Regions.Assign {
		if n, _ := matches(a.Select); n == 0 && a.Select != "" {
			unknown(fmt.Sprintf("regions.assign[%d].select", i), a.Select)
		}
	}
	return errors.Join(errs...)
}

// validateNodes reports nodes that selectors or compiled rules could not
// tell apart: an empty or repeated name, index or address.
func validateNodes(nodes []Node) []error {
	var errs []error
	names := make(map[string]int, len(nodes))
	indexes := make(map[int]int, len(nodes))
	addrs := make(map[netip.Addr]int, len(nodes))
	for i, n := range nodes {
		who := fmt.Sprintf("node %d (%q)", n.Index, n.Name)
		switch j, dup := names[n.Name]; {
		case n.Name == "":
			errs = append(errs, fmt.Errorf("node %d: no name; selectors and the compiled rules go by name", n.Index))
		case dup:
			errs = append(errs, fmt.Errorf("%s: name also used by node %d; give every node its own name", who, nodes[j].Index))
		default:
			names[n.Name] = i
		}
		switch j, dup := indexes[n.Index]; {
		case n.Index < 0:
			errs = append(errs, fmt.Errorf("%s: index %d is negative; number the nodes from 0", who, n.Index))
		case dup:
			errs = append(errs, fmt.Errorf("%s: index also used by %q; give every node its own index", who, nodes[j].Name))
		default:
			indexes[n.Index] = i
		}
		switch j, dup := addrs[n.Addr]; {
		case !n.Addr.IsValid():
			errs = append(errs, fmt.Errorf("%s: no address; the compiled rules match addresses", who))
		case !n.Addr.Unmap().Is4():
			errs = append(errs, fmt.Errorf("%s: %v is IPv6; only IPv4 paths are shaped, so give the node's IPv4 address", who, n.Addr))
		case dup:
			errs = append(errs, fmt.Errorf("%s: address %v also used by %q; give every node its own address", who, n.Addr, nodes[j].Name))
		default:
			addrs[n.Addr] = i
		}
	}
	return errs
}

// describe names the nodes for an error about a selector: a few names, and
// every role and group, which are few.
func describe(nodes []Node) string {
	if len(nodes) == 0 {
		return "none"
	}
	var names []string
	for i, n := range nodes {
		if len(nodes) > 4 && i == 2 {
			names = append(names, "…")
		}
		if len(nodes) <= 4 || i < 2 || i == len(nodes)-1 {
			names = append(names, n.Name)
		}
	}
	var roles, groups []string
	for _, n := range nodes {
		if n.Role != "" && !slices.Contains(roles, n.Role) {
			roles = append(roles, n.Role)
		}
		if n.Group != "" && !slices.Contains(groups, n.Group) {
			groups = append(groups, n.Group)
		}
	}
	s := fmt.Sprintf("%s (%d in all)", strings.Join(names, ", "), len(nodes))
	if len(roles) > 0 {
		s += "; roles " + strings.Join(roles, ", ")
	}
	if len(groups) > 0 {
		s += "; groups " + strings.Join(groups, ", ")
	}
	return s
}

// selectorErr reports a selector no node could match whatever the mesh.
func selectorErr(at, sel string) error {
	if sel == "" {
		return fmt.Errorf("%s: empty; name a node, a role or a group, or write a pattern such as peer-0* or *", at)
	}
	if _, err := path.Match(sel, ""); err != nil {
		return fmt.Errorf("%s: %q is not a valid pattern (%v); see path.Match for the syntax", at, sel, err)
	}
	return nil
}

// linkErr validates l and names each problem after at ("nodes[1].up"):
// shape names them "link.latency", and a Conditions has many links.
func linkErr(at string, l shape.Link) error {
	err := l.Validate()
	if err == nil {
		return nil
	}
	var out []error
	for _, e := range flatten(err) {
		out = append(out, fmt.Errorf("%s.%s", at, strings.TrimPrefix(e.Error(), "link.")))
	}
	return errors.Join(out...)
}

// within prefixes each of err's joined errors with prefix, so that each
// line of a report says where it comes from.
func within(prefix string, err error) error {
	var out []error
	for _, e := range flatten(err) {
		out = append(out, fmt.Errorf("%s%w", prefix, e))
	}
	return errors.Join(out...)
}

// flatten returns the errors err joins, however deep, or err itself.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
