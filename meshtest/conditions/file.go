package conditions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// maxFile bounds what Parse and ReadGML read: a conditions file is small,
// and a GML graph of maxRegions regions, complete, is well under it.
const maxFile = 256 << 20

// roundRobin is the one assignment a file can name instead of a list.
const roundRobin = "round-robin"

// Load reads the conditions in the file at path: a GML graph if its name
// ends in .gml (the regions of ReadGML, nodes assigned round-robin), else
// the JSON format of Parse. The result is validated.
func Load(path string) (Conditions, error) {
	f, err := os.Open(path)
	if err != nil {
		return Conditions{}, fmt.Errorf("load conditions: %w", err)
	}
	defer f.Close()
	if !strings.EqualFold(filepath.Ext(path), ".gml") {
		return Parse(f, path)
	}
	r, err := ReadGML(f)
	if err != nil {
		return Conditions{}, fmt.Errorf("conditions %s: %w", path, err)
	}
	c := Conditions{Regions: r}
	if err := c.Validate(); err != nil {
		return Conditions{}, within("conditions "+path+": ", err)
	}
	return c, nil
}

// Parse reads conditions in the JSON format of the package documentation
// from r, and validates them. name is the file's name, for errors and as the
// directory a relative regions.gml path starts from. Unknown fields are
// errors, so a misspelt key is not silently ignored.
func Parse(r io.Reader, name string) (Conditions, error) {
	fail := func(err error) (Conditions, error) { return Conditions{}, within("conditions "+name+": ", err) }
	data, err := readAll(r, maxFile)
	if err != nil {
		return fail(err)
	}
	if err := syntax(data); err != nil {
		return fail(err)
	}
	d := decoder{dir: filepath.Dir(name)}
	c := d.conditions(data)
	if err := errors.Join(d.errs...); err != nil {
		return fail(err)
	}
	if err := c.Validate(); err != nil {
		return fail(err)
	}
	return c, nil
}

// readAll reads r to its end, refusing more than limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, err
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("larger than %d MiB; is it the right file?", limit>>20)
	}
	return data, nil
}

// syntax reports a JSON syntax error by line and column, and anything after
// the one value a file holds.
func syntax(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")
		if len(rest) > 0 {
			return fmt.Errorf("%s: more after the JSON object; a file holds one", position(data, int64(len(data)-len(rest))))
		}
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %v", position(data, se.Offset-1), err) // Offset is past the byte at fault
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the file ends before its JSON object does")
	}
	return err
}

// position is "line L, column C" of the byte at offset off, both from 1.
func position(data []byte, off int64) string {
	before := data[:min(max(off, 0), int64(len(data)))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

// MarshalJSON writes c in the file format Parse reads.
func (c Conditions) MarshalJSON() ([]byte, error) {
	f := fileConditions{}
	if !c.Link.IsZero() {
		f.Link = c.Link.String()
	}
	for _, r := range c.Nodes {
		n := fileNode{Select: r.Select}
		if !r.Up.IsZero() {
			n.Up = r.Up.String()
		}
		if !r.Down.IsZero() {
			n.Down = r.Down.String()
		}
		f.Nodes = append(f.Nodes, n)
	}
	for _, r := range c.Links {
		f.Links = append(f.Links, fileLink{From: r.From, To: r.To, Link: r.Link.String(), Both: r.Both})
	}
	if c.Regions.set() {
		f.Regions = c.Regions.file()
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads c from the file format, as Parse does but without
// validating; a relative regions.gml path starts from the working directory.
func (c *Conditions) UnmarshalJSON(data []byte) error {
	d := decoder{dir: "."}
	v := d.conditions(data)
	if err := errors.Join(d.errs...); err != nil {
		return fmt.Errorf("conditions: %w", err)
	}
	*c = v
	return nil
}

// The file form. Links are in shape.ParseLink's compact form.
type (
	fileConditions struct {
		Link    string       `json:"link,omitempty"`
		Nodes   []fileNode   `json:"nodes,omitempty"`
		Links   []fileLink   `json:"links,omitempty"`
		Regions *fileRegions `json:"regions,omitempty"`
	}
	fileNode struct {
		Select string `json:"select"`
		Up     string `json:"up,omitempty"`
		Down   string `json:"down,omitempty"`
	}
	fileLink struct {
		From string `json:"from"`
		To   string `json:"to"`
		Link string `json:"link"`
		Both bool   `json:"both,omitempty"`
	}
	fileRegions struct {
		GML     string     `json:"gml,omitempty"` // read only: Marshal writes the graph's figures
		Names   []string   `json:"names"`
		Latency [][]string `json:"latency"`
		Jitter  [][]string `json:"jitter,omitempty"`
		Loss    [][]string `json:"loss,omitempty"`
		Rate    [][]string `json:"rate,omitempty"`
		Up      []string   `json:"up,omitempty"`
		Down    []string   `json:"down,omitempty"`
		Assign  any        `json:"assign"` // "round-robin" or []fileAssign
	}
	fileAssign struct {
		Select string `json:"select"`
		Region string `json:"region"`
	}
)

// cells are the fields of a regions' link, each a matrix of the file form:
// how to write one, read one, and which matrix of fileRegions holds it.
var cells = []struct {
	field  string
	matrix func(*fileRegions) *[][]string
	format func(shape.Link) string
	parse  func(string, *shape.Link) error
}{
	{"latency", func(f *fileRegions) *[][]string { return &f.Latency },
		func(l shape.Link) string { return formatDuration(l.Latency) },
		func(s string, l *shape.Link) (err error) { l.Latency, err = shape.ParseDuration(s); return err }},
	{"jitter", func(f *fileRegions) *[][]string { return &f.Jitter },
		func(l shape.Link) string { return formatDuration(l.Jitter) },
		func(s string, l *shape.Link) (err error) { l.Jitter, err = shape.ParseDuration(s); return err }},
	{"loss", func(f *fileRegions) *[][]string { return &f.Loss },
		func(l shape.Link) string { return shape.FormatLoss(l.Loss) },
		func(s string, l *shape.Link) (err error) { l.Loss, err = shape.ParseLoss(s); return err }},
	{"rate", func(f *fileRegions) *[][]string { return &f.Rate },
		func(l shape.Link) string { return shape.FormatRate(l.Rate) },
		func(s string, l *shape.Link) (err error) { l.Rate, err = shape.ParseRate(s); return err }},
}

func (r Regions) file() *fileRegions {
	f := &fileRegions{Names: r.Names, Assign: roundRobin}
	for k, cell := range cells {
		m := make([][]string, len(r.Links))
		nonzero := false
		for i, row := range r.Links {
			m[i] = make([]string, len(row))
			for j, l := range row {
				m[i][j] = cell.format(l)
				nonzero = nonzero || m[i][j] != "0"
			}
		}
		if k == 0 || nonzero { // latency always; jitter, loss and rate where some link has them
			*cell.matrix(f) = m
		}
	}
	side := func(ls []shape.Link) []string {
		if allZero(ls) {
			return nil
		}
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = l.String()
		}
		return out
	}
	f.Up, f.Down = side(r.Up), side(r.Down)
	if len(r.Assign) > 0 {
		as := make([]fileAssign, len(r.Assign))
		for i, a := range r.Assign {
			as[i] = fileAssign(a)
		}
		f.Assign = as
	}
	return f
}

// decoder reads the file form, collecting every problem with the path of
// the field at fault ("nodes[1].up").
type decoder struct {
	dir  string // where a relative regions.gml path starts
	errs []error
}

// fail records a problem of the field at at; "" is the whole file.
func (d *decoder) fail(at string, f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	if at != "" {
		msg = at + ": " + msg
	}
	d.errs = append(d.errs, errors.New(msg))
}

func (d *decoder) conditions(data []byte) Conditions {
	var (
		c            Conditions
		link         string
		nodes, links []json.RawMessage
		regions      json.RawMessage
	)
	if !d.object(data, "", map[string]any{"link": &link, "nodes": &nodes, "links": &links, "regions": &regions}) {
		return c
	}
	c.Link = d.link("link", link)
	for i, raw := range nodes {
		at := fmt.Sprintf("nodes[%d]", i)
		var sel, up, down string
		if d.object(raw, at, map[string]any{"select": &sel, "up": &up, "down": &down}) {
			c.Nodes = append(c.Nodes, NodeRule{Select: sel, Up: d.link(at+".up", up), Down: d.link(at+".down", down)})
		}
	}
	for i, raw := range links {
		at := fmt.Sprintf("links[%d]", i)
		var from, to, link string
		var both bool
		if d.object(raw, at, map[string]any{"from": &from, "to": &to, "link": &link, "both": &both}) {
			c.Links = append(c.Links, LinkRule{From: from, To: to, Link: d.link(at+".link", link), Both: both})
		}
	}
	if len(regions) > 0 && string(regions) != "null" {
		c.Regions = d.regions(regions, "regions")
	}
	return c
}

func (d *decoder) link(at, s string) shape.Link {
	l, err := shape.ParseLink(s)
	if err != nil {
		d.fail(at, "%v", err)
	}
	return l
}

func (d *decoder) regions(data []byte, at string) Regions {
	var (
		r      Regions
		f      fileRegions
		assign json.RawMessage
	)
	fields := map[string]any{"gml": &f.GML, "names": &f.Names, "up": &f.Up, "down": &f.Down, "assign": &assign}
	for _, cell := range cells {
		fields[cell.field] = cell.matrix(&f)
	}
	if !d.object(data, at, fields) {
		return r
	}
	r.Assign = d.assign(assign, at+".assign")
	if f.GML != "" {
		if f.Names != nil || f.Up != nil || f.Down != nil || f.Latency != nil || f.Jitter != nil || f.Loss != nil || f.Rate != nil {
			d.fail(at, "gml names a graph that gives the regions; leave out names, latency, jitter, loss, rate, up and down, or gml")
			return r
		}
		g, err := d.readGML(f.GML)
		if err != nil {
			d.fail(at+".gml", "%v", err)
			return r
		}
		g.Assign = r.Assign
		return g
	}
	n := len(f.Names)
	r.Names = f.Names
	if n == 0 {
		d.fail(at+".names", "missing; name the regions, as in [\"eu\", \"us\"], or give a gml graph")
		return r
	}
	if f.Latency == nil {
		d.fail(at+".latency", "missing; give the one-way latency from each region (row) to each (column), as in [[\"2ms\", \"40ms\"], [\"40ms\", \"2ms\"]]")
	}
	r.Links = make([][]shape.Link, n)
	for i := range r.Links {
		r.Links[i] = make([]shape.Link, n)
	}
	for _, cell := range cells {
		m := *cell.matrix(&f)
		if m == nil {
			continue
		}
		mat := at + "." + cell.field
		if len(m) != n {
			d.fail(mat, "%d rows for %d regions; give one row per region, in the order of names", len(m), n)
			continue
		}
		for i, row := range m {
			if len(row) != n {
				d.fail(fmt.Sprintf("%s[%d]", mat, i), "%d entries for %d regions; give one per region, in the order of names", len(row), n)
				continue
			}
			for j, s := range row {
				if err := cell.parse(s, &r.Links[i][j]); err != nil {
					d.fail(fmt.Sprintf("%s[%d][%d]", mat, i, j), "%v", err)
				}
			}
		}
	}
	side := func(field string, ss []string) []shape.Link {
		if ss == nil {
			return nil
		}
		if len(ss) != n {
			d.fail(at+"."+field, "%d links for %d regions; give one per region, in the order of names", len(ss), n)
			return nil
		}
		out := make([]shape.Link, n)
		for i, s := range ss {
			out[i] = d.link(fmt.Sprintf("%s.%s[%d]", at, field, i), s)
		}
		return out
	}
	r.Up, r.Down = side("up", f.Up), side("down", f.Down)
	return r
}

// assign reads "round-robin" (or nothing) as no entries, or a list of
// {"select", "region"}.
func (d *decoder) assign(data json.RawMessage, at string) []Assign {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(data, &s) == nil {
		if s != roundRobin {
			d.fail(at, "%q: want %q or a list of {\"select\": …, \"region\": …}", s, roundRobin)
		}
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(data, &list) != nil {
		d.fail(at, "want %q or a list of {\"select\": …, \"region\": …}, got %s", roundRobin, kind(data))
		return nil
	}
	var out []Assign
	for i, raw := range list {
		var a Assign
		if d.object(raw, fmt.Sprintf("%s[%d]", at, i), map[string]any{"select": &a.Select, "region": &a.Region}) {
			out = append(out, a)
		}
	}
	return out
}

func (d *decoder) readGML(path string) (Regions, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(d.dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Regions{}, err
	}
	defer f.Close()
	r, err := ReadGML(f)
	if err != nil {
		return Regions{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// object decodes the JSON object data at path at into fields, a map from
// key to pointer, reporting every key fields lacks and every value of the
// wrong type. It returns false if data is not an object at all.
func (d *decoder) object(data []byte, at string, fields map[string]any) bool {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		d.fail(at, "want an object {…}, got %s", kind(data))
		return false
	}
	known := strings.Join(slices.Sorted(maps.Keys(fields)), ", ")
	for _, k := range slices.Sorted(maps.Keys(m)) {
		dst, ok := fields[k]
		key := k
		if at != "" {
			key = at + "." + k
		}
		if !ok {
			d.fail(at, "unknown field %q; the fields are %s", k, known)
			continue
		}
		if err := json.Unmarshal(m[k], dst); err != nil {
			d.fail(key, "want %s, got %s", wantOf(dst), kind(m[k]))
		}
	}
	return true
}

// kind names the JSON value data holds, for an error.
func kind(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "nothing"
	}
	switch data[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// wantOf names what a field of type *T holds.
func wantOf(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *bool:
		return "true or false"
	case *[]string:
		return "a list of strings"
	case *[][]string:
		return "a list of lists of strings (one row per region)"
	case *[]json.RawMessage:
		return "a list"
	}
	return "another value"
}
