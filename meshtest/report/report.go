package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// Data is everything the report shows. Empty parts are left out of the
// page, so a caller fills what it has.
type Data struct {
	Title   string    // what ran: "TestStar — star, 100 peers"
	Verdict string    // "pass" or "fail"
	Created time.Time // when the run ended; the zero time is not shown

	Params      []KV // what was run, in the caller's order: peers, duration, interval, topology, images, seed
	Environment []KV // where: host cores, memory, kernel, Docker version, git revision, Go version
	// Timings are the phases of the run. A value that starts with a
	// duration ("12.3 s", "850ms", "1m20s") also gets a bar, all bars on one
	// scale, so the slow phase shows at a glance.
	Timings []KV

	Convergence Convergence
	Checks      []Check // the verdict of each assertion, in the order they ran
	Tables      []Table // per-role figures
	Charts      []Chart

	// Network is how the run shaped its links and what calibrating them
	// measured, as summary.json holds it; nil when the run set no link
	// conditions.
	Network *summary.Network
	// Events are the faults the run injected, in the order they happened,
	// as summary.json holds them.
	Events []summary.Event

	// Regression is the comparison with the baseline as Markdown, as
	// meshtest/regress Report.Markdown writes it: a verdict line, a list of
	// mismatches, a pipe table. Empty when there was no baseline.
	Regression string

	// Files are the names of the other artifacts, relative to the directory
	// report.html is written to: samples.csv, summary.json, the PNG charts.
	Files []string
}

// KV is one labelled value of a list that keeps its order.
type KV struct{ Key, Value string }

// Convergence is the proof that the mesh was the intended graph before
// sampling started, and whether it stayed so.
type Convergence struct {
	Proven       bool     // every edge was seen from both ends
	Edges, Nodes int      // the graph that was proven
	Unverified   []string // edges or nodes that could not be confirmed
	DriftSamples int      // samples in which the graph differed from the intended one
	Detail       string   // one line of prose: how and how long it took
}

// Check is one assertion of the experiment and its outcome.
type Check struct {
	Name   string
	OK     bool
	Detail string // what was measured against what was required
}

// Table is a table of figures with a caption: one per role, typically.
// Rows shorter than Columns are padded with empty cells (a figure not
// measured); longer rows are an error, since cells would be lost.
type Table struct {
	Caption string
	Columns []string
	Rows    [][]string
}

// Chart is one chart to show, as the SVG that meshtest/chart renders.
type Chart struct {
	Title string
	SVG   []byte
}

// Write renders d as one self-contained HTML page to w. It returns an
// error listing every problem with d (an unknown verdict of the run or of
// a calibrated path, a chart that is not SVG, a row wider than its table)
// and writes nothing in that case:
// the page is rendered to memory first, so w never holds half a report.
func Write(w io.Writer, d Data) error {
	p, err := build(d)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, p); err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: write: %w", err)
	}
	return nil
}

// view is what the template sees: Data with the decisions already made,
// so that the template only lays out.
type view struct {
	Data
	Pass           bool
	CreatedISO     string
	CreatedText    string
	ChecksOK       int
	Timings        []timing
	Tables         []tableView
	Charts         []chartView
	Network        *networkView
	Events         []eventView
	Regression     []block
	RegressVerdict string // of the regression's verdict line: "pass", "fail" or ""
	RegressChip    string // the verdict line's gist for the header: "no regression", "not comparable"
	Files          []fileLink
}

type timing struct {
	Key, Value string
	Pct        float64 // bar length in percent of the longest phase; 0: no bar
}

type tableView struct {
	Caption string
	Columns []column
	Rows    [][]string
}

type column struct {
	Name string
	Num  bool // every cell reads as a number: align right
}

type chartView struct {
	Title         string
	Src           template.URL
	Width, Height int // from the SVG, so the page reserves the space; 0: unknown
}

type fileLink struct {
	Name string
	Href string
}

func build(d Data) (view, error) {
	var errs []error
	v := view{Data: d}

	switch d.Verdict {
	case "pass":
		v.Pass = true
	case "fail":
	default:
		errs = append(errs, fmt.Errorf(`verdict %q: want "pass" or "fail"`, d.Verdict))
	}
	if !d.Created.IsZero() {
		v.CreatedISO = d.Created.Format(time.RFC3339)
		v.CreatedText = d.Created.Format("2 Jan 2006, 15:04:05 MST")
	}
	for _, c := range d.Checks {
		if c.OK {
			v.ChecksOK++
		}
	}
	v.Timings = timings(d.Timings)

	for i, t := range d.Tables {
		tv, err := tableOf(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %d (%q): %w", i, t.Caption, err))
		}
		v.Tables = append(v.Tables, tv)
	}
	for i, c := range d.Charts {
		cv, err := chartOf(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("chart %d (%q): %w", i, c.Title, err))
		}
		v.Charts = append(v.Charts, cv)
	}
	if d.Network != nil {
		nv, err := networkOf(*d.Network)
		if err != nil {
			errs = append(errs, fmt.Errorf("network: %w", err))
		}
		v.Network = &nv
	}
	v.Events = eventsOf(d.Events)
	if strings.TrimSpace(d.Regression) != "" {
		v.Regression = parseMarkdown(d.Regression)
		for _, b := range v.Regression {
			if b.Verdict != "" {
				v.RegressVerdict, v.RegressChip = b.Verdict, gist(b.Text)
				break
			}
		}
	}
	for _, name := range d.Files {
		// A URL with only a path: a name with a colon ("a:b.csv") gets a
		// "./" so the browser does not read it as a scheme, and spaces and
		// '#' are escaped so the link reaches the file.
		v.Files = append(v.Files, fileLink{Name: name, Href: (&url.URL{Path: name}).String()})
	}
	return v, errors.Join(errs...)
}

// gist is the head of a verdict line, before the list of figures:
// "regression" of "regression: a (+23.4 %), b (missing)".
func gist(text []span) string {
	var b strings.Builder
	for _, s := range text {
		b.WriteString(s.Text)
	}
	head, _, _ := strings.Cut(b.String(), ":")
	head, _, _ = strings.Cut(head, ";")
	return strings.TrimSpace(head)
}

// timings adds a bar to each phase whose value starts with a duration, all
// bars scaled to the longest phase.
func timings(kvs []KV) []timing {
	out := make([]timing, len(kvs))
	secs := make([]float64, len(kvs))
	longest := 0.0
	for i, kv := range kvs {
		out[i] = timing{Key: kv.Key, Value: kv.Value}
		if s, ok := leadingSeconds(kv.Value); ok {
			secs[i] = s
			longest = max(longest, s)
		}
	}
	if longest > 0 {
		for i := range out {
			out[i].Pct = 100 * secs[i] / longest
		}
	}
	return out
}

// leadingSeconds reads the duration a value starts with: a Go duration
// ("1m20s", "850ms") or a number and "s" ("12.3 s", as summary.json's
// seconds are printed). "4.0×" is a ratio, not a duration.
func leadingSeconds(s string) (float64, bool) {
	first, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	if d, err := time.ParseDuration(first); err == nil && d >= 0 {
		return d.Seconds(), true
	}
	unit, _, _ := strings.Cut(rest, " ")
	unit = strings.TrimRight(unit, ",;)")
	if unit != "s" {
		return 0, false
	}
	var v float64
	if _, err := fmt.Sscanf(first, "%g", &v); err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

func tableOf(t Table) (tableView, error) {
	tv := tableView{Caption: t.Caption}
	var err error
	for i, r := range t.Rows {
		if len(r) > len(t.Columns) {
			err = fmt.Errorf("row %d has %d cells for %d columns", i, len(r), len(t.Columns))
			r = r[:len(t.Columns)]
		}
		row := make([]string, len(t.Columns))
		copy(row, r)
		tv.Rows = append(tv.Rows, row)
	}
	for j, name := range t.Columns {
		num, seen := true, false
		for _, r := range tv.Rows {
			if c := strings.TrimSpace(r[j]); c != "" && c != "—" && c != "-" {
				seen = true
				num = num && numeric(c)
			}
		}
		tv.Columns = append(tv.Columns, column{Name: name, Num: num && seen})
	}
	return tv, err
}

// numeric reports whether a cell reads as a number ("752", "14.1 kB",
// "+23.4 %", "±10.0 %", "−3"), so that its column is aligned right and
// digits line up.
func numeric(s string) bool {
	s = strings.TrimLeft(s, "+-−±~≈")
	r, _ := utf8.DecodeRuneInString(strings.TrimPrefix(s, "."))
	return unicode.IsDigit(r)
}

func chartOf(c Chart) (chartView, error) {
	w, h, err := svgSize(c.SVG)
	if err != nil {
		return chartView{Title: c.Title}, err
	}
	// template.URL vouches for the data URI, which html/template would
	// otherwise replace with "#ZgotmplZ": only http, https and mailto pass
	// its URL filter. It is safe here: the URI is built from base64, which
	// has no character that could end the attribute.
	src := template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(c.SVG))
	return chartView{Title: c.Title, Src: src, Width: w, Height: h}, nil
}
