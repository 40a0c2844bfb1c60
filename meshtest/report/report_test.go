package report

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// render writes d and parses the page back, as a browser would.
func render(t *testing.T, d Data) *html.Node {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, d))
	doc, err := html.Parse(&buf)
	require.NoError(t, err)
	return doc
}

// find returns every element under n with the tag and, if class is not
// empty, that class.
func find(n *html.Node, tag, class string) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == tag && (class == "" || hasClass(d, class)) {
			out = append(out, d)
		}
	}
	return out
}

// one returns the only element find returns, failing otherwise.
func one(t *testing.T, n *html.Node, tag, class string) *html.Node {
	t.Helper()
	all := find(n, tag, class)
	require.Len(t, all, 1, "<%s class=%q>", tag, class)
	return all[0]
}

func byID(t *testing.T, n *html.Node, id string) *html.Node {
	t.Helper()
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && attr(d, "id") == id {
			return d
		}
	}
	t.Fatalf("no element with id %q", id)
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

// text is the text of n with runs of white space made one space.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func texts(ns []*html.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = text(n)
	}
	return out
}

// terms are the texts of a <dl>'s terms and descriptions, in order.
func terms(dl *html.Node) []string {
	var out []string
	for c := range dl.ChildNodes() {
		if c.Type == html.ElementNode && (c.Data == "dt" || c.Data == "dd") {
			out = append(out, text(c))
		}
	}
	return out
}

func TestWriteFail(t *testing.T) {
	d := sample(t, "fail")
	doc := render(t, d)

	assert.Equal(t, "FAIL: TestStar — star, 100 peers", text(one(t, doc, "title", "")))
	header := one(t, doc, "header", "top")
	assert.True(t, hasClass(header, "fail"))
	assert.Equal(t, "FAIL", text(one(t, header, "div", "badge")))
	assert.Equal(t, "TestStar — star, 100 peers", text(one(t, header, "h1", "")))
	assert.Equal(t, "2026-05-04T09:42:17Z", attr(one(t, header, "time", ""), "datetime"))
	assert.Equal(t, []string{"4 of 5 checks passed", "converged: 100 edges, 101 nodes", "links: 1 of 3 paths off", "4 events", "baseline: regression"},
		texts(find(header, "li", "")))
	assert.True(t, hasClass(find(header, "li", "")[2], "bad"), "a path off is a red chip")

	checks := find(byID(t, doc, "checks"), "li", "")
	require.Len(t, checks, len(d.Checks))
	for i, li := range checks {
		c := d.Checks[i]
		mark := "✓"
		if !c.OK {
			mark = "✗"
		}
		assert.Equal(t, mark, text(one(t, li, "span", "mark")), c.Name)
		assert.Equal(t, !c.OK, hasClass(li, "bad"), c.Name)
		assert.Equal(t, c.Name, text(one(t, li, "span", "name")))
		assert.Equal(t, c.Detail, text(one(t, li, "span", "detail")))
	}

	conv := byID(t, doc, "convergence")
	assert.Equal(t, "✓Proven before sampling", text(one(t, conv, "div", "status")))
	assert.Equal(t, []string{"100 edges", "101 nodes", "0 drift samples"}, texts(find(conv, "div", "tile")))

	imgs := find(byID(t, doc, "charts"), "img", "chart")
	require.Len(t, imgs, len(d.Charts))
	for i, img := range imgs {
		src, ok := strings.CutPrefix(attr(img, "src"), "data:image/svg+xml;base64,")
		require.True(t, ok, "chart %d src: %.40s", i, attr(img, "src"))
		svg, err := base64.StdEncoding.DecodeString(src)
		require.NoError(t, err)
		assert.Equal(t, d.Charts[i].SVG, svg, "chart %d is embedded byte for byte", i)
		assert.Equal(t, d.Charts[i].Title, attr(img, "alt"))
		// go-chart writes only a viewBox; the page takes its size from it.
		assert.Equal(t, []string{"1000", "500"}, []string{attr(img, "width"), attr(img, "height")})
	}

	tables := find(byID(t, doc, "tables"), "table", "")
	require.Len(t, tables, 2)
	assert.Equal(t, []string{"bootstrap", "peer"}, []string{text(one(t, tables[0], "caption", "")), text(one(t, tables[1], "caption", ""))})
	head := find(tables[0], "th", "")
	assert.Equal(t, d.Tables[0].Columns, texts(head))
	assert.False(t, hasClass(head[0], "num"), "the figure names are not numbers")
	for _, th := range head[1:] {
		assert.True(t, hasClass(th, "num"), "column %q is numeric: aligned right", text(th))
	}
	assert.Equal(t, d.Tables[1].Rows[1], texts(find(find(tables[1], "tr", "")[2], "td", "")))
}

// TestWriteNetwork: the Network section says how packets were delayed and
// what the kernel allows, lays out each calibrated path with what was
// asked beside what was measured, marks the path that was off and says
// what differed, and gives the delay line's cost.
func TestWriteNetwork(t *testing.T) {
	doc := render(t, sample(t, "fail"))
	net := byID(t, doc, "network")

	assert.Equal(t, "✗Off on 1 of 3 paths", text(one(t, net, "div", "status")))
	assert.Equal(t, []string{"delayed by", "nfqueue-delay-line", "the kernel", "sch_netem missing; nfqueue, ifb, htb", "note", "the kernel has no sch_netem: delay in user space"},
		terms(one(t, net, "dl", "how")))

	table := one(t, net, "table", "calibration")
	head := find(one(t, table, "thead", ""), "tr", "")
	require.Len(t, head, 2)
	assert.Equal(t, []string{"path", "round trip", "loss", "rate", "verdict", "what differed"}, texts(find(head[0], "th", "")))
	assert.Equal(t, []string{"want", "got", "want", "got", "probes", "want", "got"}, texts(find(head[1], "th", "")))
	rows := find(one(t, table, "tbody", ""), "tr", "")
	require.Len(t, rows, 3)
	assert.Equal(t, []string{"bootstrap → peer-1", "40 ms", "40.6 ms", "1.99 %", "1.8 %", "500", "10 Mbit/s", "9.71 Mbit/s", "ok", ""},
		texts(find(rows[0], "td", "")))
	assert.Equal(t, []string{"—", "—"}, texts(find(rows[1], "td", "")[6:8]), "a rate not measured")
	off := find(rows[2], "td", "")
	assert.Equal(t, []string{"peer-1 → peer-2", "80 ms", "80.9 ms", "1.99 %", "8.1 %", "500", "—", "—", "mismatch", "loss 8.1 %, want 1.99 % ± 1.5 %"}, texts(off))
	assert.True(t, hasClass(rows[2], "bad"), "the path that was off is marked")
	assert.False(t, hasClass(rows[0], "bad"))
	assert.True(t, hasClass(one(t, off[8], "span", "pill"), "mismatch"))

	assert.Equal(t, []string{
		"packets delayed (window)", "184220", "CPU (window)", "2.41 s of the helpers' CPU (13.1 ms per 1000 packets)", "late by (window)", "0.084 ms on average, 1.9 ms at most",
		"packets delayed (calibration)", "640", "CPU (calibration)", "0.31 s of the helpers' CPU", "late by (calibration)", "0.07 ms on average, 5.5 ms at most",
	}, terms(one(t, net, "dl", "cost")), "the per-packet CPU only over 1000 packets")
}

// TestWriteNetworkStatus: the section's verdict follows the paths.
func TestWriteNetworkStatus(t *testing.T) {
	undecided := sampleNetwork(false)
	undecided.Passed = false
	undecided.Calibration[1].Verdict = summary.CalibrationUndecided
	tests := []struct {
		name     string
		n        *summary.Network
		status   string
		headline string
		chip     string
	}{
		{"all ok", sampleNetwork(false), "ok", "✓Measured as asked", "links: calibrated"},
		{"one off", sampleNetwork(true), "bad", "✗Off on 1 of 3 paths", "links: 1 of 3 paths off"},
		{"one undecided", undecided, "warn", "?Undecided on 1 of 3 paths", "links: 1 of 3 paths undecided"},
		{"nothing measured", &summary.Network{Mechanism: "none", Passed: true}, "warn", "?Not calibrated", "links: not calibrated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sample(t, "pass")
			d.Network = tt.n
			doc := render(t, d)
			status := one(t, byID(t, doc, "network"), "div", "status")
			assert.True(t, hasClass(status, tt.status), "class %q", attr(status, "class"))
			assert.Equal(t, tt.headline, text(status))
			assert.Contains(t, texts(find(one(t, doc, "header", "top"), "li", tt.status)), tt.chip)
		})
	}
	doc := render(t, Data{Title: "no shaping", Verdict: "pass", Network: &summary.Network{Mechanism: "netem", Passed: true}})
	assert.Empty(t, find(byID(t, doc, "network"), "table", ""), "no calibration, no table")
	assert.Empty(t, find(byID(t, doc, "network"), "dl", "cost"), "no delay line, no cost")
}

// TestWriteEvents: the Events section lists each fault in order, with its
// time in the window, what was done to which nodes, and how long the mesh
// took to recover.
func TestWriteEvents(t *testing.T) {
	doc := render(t, sample(t, "pass"))
	events := byID(t, doc, "events")

	assert.Equal(t, []string{"time", "kind", "nodes", "detail", "recovered in"}, texts(find(events, "th", "")))
	rows := find(one(t, events, "tbody", ""), "tr", "")
	require.Len(t, rows, 4)
	var got [][]string
	for _, r := range rows {
		got = append(got, texts(find(r, "td", "")))
	}
	assert.Equal(t, [][]string{
		{"-2.0 s", "conditions", "mesh", "latency 20ms, loss 1%", "—"},
		{"15.0 s", "partition", "peer-1, peer-2, peer-3, peer-4, peer-5", "{peer-1..peer-5} | {rest}", "—"},
		{"30.0 s", "heal", "mesh", "", "3.2 s peer-ids"},
		{"45.0 s", "kill", "peer-7", "", "— not awaited"},
	}, got)
	assert.True(t, hasClass(rows[0], "before"), "an event before the window is set apart")
	assert.Equal(t, "2026-05-04T09:41:20Z", attr(one(t, rows[1], "time", ""), "datetime"))
}

func TestWriteRegression(t *testing.T) {
	doc := render(t, sample(t, "fail"))
	reg := byID(t, doc, "regression")

	verdict := one(t, reg, "p", "verdict")
	assert.True(t, hasClass(verdict, "fail"))
	assert.Equal(t, "FAIL regression: bootstrap_bytes_per_conn (+23.3 %)", text(verdict),
		"the ❌ became a badge")

	table := one(t, reg, "table", "")
	assert.Equal(t, []string{"figure", "baseline", "now", "change", "allowed", "verdict"}, texts(find(table, "th", "")))
	rows := find(one(t, table, "tbody", ""), "tr", "")
	require.Len(t, rows, 4)
	byFigure := map[string]*html.Node{}
	for _, r := range rows {
		byFigure[text(find(r, "td", "")[0])] = r
	}

	worse := byFigure["bootstrap_bytes_per_conn"]
	require.NotNil(t, worse, "rows: %q", texts(rows))
	cells := find(worse, "td", "")
	assert.Equal(t, []string{"bootstrap_bytes_per_conn", "11.6 kB/conn", "14.3 kB/conn", "+23.3 %", "±10.0 %", "worse"}, texts(cells))
	assert.True(t, hasClass(worse, "bad"), "a failing row is marked")
	assert.Equal(t, "bootstrap_bytes_per_conn", text(one(t, cells[0], "code", "")), "`figure` is code")
	assert.Equal(t, "worse", text(one(t, cells[5], "strong", "")), "**worse** is bold")
	assert.Equal(t, "right", attr(cells[1], "class"), "--: aligns right")
	assert.Equal(t, "left", attr(cells[0], "class"), ":-- aligns left")

	slow := byFigure["bring_up_s"]
	require.NotNil(t, slow)
	assert.False(t, hasClass(slow, "bad"), "an ungated figure does not fail")
	assert.Equal(t, "worse (not gated)", text(find(slow, "td", "")[5]))
}

func TestWritePass(t *testing.T) {
	doc := render(t, sample(t, "pass"))

	assert.Equal(t, "PASS: TestStar — star, 100 peers", text(one(t, doc, "title", "")))
	header := one(t, doc, "header", "top")
	assert.True(t, hasClass(header, "pass"))
	assert.Equal(t, "PASS", text(one(t, header, "div", "badge")))
	assert.Equal(t, []string{"5 of 5 checks passed", "converged: 100 edges, 101 nodes", "links: calibrated", "4 events", "baseline: no regression"},
		texts(find(header, "li", "")))
	assert.True(t, hasClass(find(header, "li", "")[2], "ok"))
	assert.Empty(t, find(byID(t, doc, "network"), "tr", "bad"), "no path is marked")
	assert.Empty(t, find(byID(t, doc, "checks"), "li", "bad"))
	assert.True(t, hasClass(one(t, byID(t, doc, "regression"), "p", "verdict"), "pass"))
}

// TestWriteSelfContained checks what makes the page work offline and
// without a console error: no script, no reference outside the file except
// the relative links to the other artifacts.
func TestWriteSelfContained(t *testing.T) {
	d := sample(t, "fail")
	doc := render(t, d)

	assert.Empty(t, find(doc, "script", ""))
	var links []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		for _, key := range []string{"src", "href"} {
			v := attr(n, key)
			switch {
			case v == "":
			case strings.HasPrefix(v, "data:"):
			case strings.Contains(v, "://") || strings.HasPrefix(v, "//"):
				t.Errorf("<%s %s=%q> reaches outside the file", n.Data, key, v)
			default:
				links = append(links, v)
			}
		}
	}
	assert.Equal(t, d.Files, links, "the only other references are the artifacts")
}

func TestWriteEscapes(t *testing.T) {
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	d := sample(t, "fail")
	d.Title = "TestStar " + evil
	d.Params = append(d.Params, KV{evil, evil})
	d.Environment = []KV{{"host", evil}}
	d.Timings = []KV{{evil, "1 s " + evil}}
	d.Checks = []Check{{Name: evil, Detail: evil}}
	d.Convergence.Unverified = []string{evil}
	d.Tables = []Table{{Caption: evil, Columns: []string{evil}, Rows: [][]string{{evil}}}}
	d.Charts[0].Title = evil
	d.Network = &summary.Network{Mechanism: evil, Kernel: evil, Note: evil, Calibration: []summary.Calibration{
		{From: evil, To: evil, Verdict: summary.CalibrationMismatch, Mismatches: []string{evil}},
	}}
	d.Events = []summary.Event{{Kind: evil, Nodes: []string{evil}, Detail: evil, Recovery: evil}}
	d.Regression = "❌ " + evil + "\n\n- " + evil + "\n\n| a | b |\n|--|--|\n| " + evil + " | `" + evil + "` |\n"
	d.Files = []string{"javascript:alert(3)", evil}

	var buf bytes.Buffer
	require.NoError(t, Write(&buf, d))
	page := buf.String()
	assert.NotContains(t, page, "<script")
	assert.NotContains(t, page, "<img src=x")

	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	assert.Empty(t, find(doc, "script", ""))
	for _, img := range find(doc, "img", "") {
		assert.Empty(t, attr(img, "onerror"))
		assert.True(t, hasClass(img, "chart"), "only charts are images")
	}
	// Escaped, not dropped: the text reads as the caller wrote it.
	assert.Equal(t, "TestStar "+evil, text(one(t, doc, "h1", "")))
	assert.Equal(t, evil, text(one(t, byID(t, doc, "checks"), "span", "name")))
	assert.Equal(t, evil, text(one(t, byID(t, doc, "tables"), "td", "")))
	assert.Equal(t, evil+" → "+evil, text(find(byID(t, doc, "network"), "td", "")[0]))
	assert.Equal(t, evil, text(one(t, byID(t, doc, "network"), "td", "mismatches")))
	assert.Equal(t, []string{evil, evil, evil}, texts(find(byID(t, doc, "events"), "td", "")[1:4]))
	assert.Equal(t, []string{evil, evil}, texts(find(one(t, byID(t, doc, "regression"), "tbody", ""), "td", "")))

	files := find(byID(t, doc, "files"), "a", "")
	require.Len(t, files, 2)
	assert.Equal(t, "./javascript:alert%283%29", attr(files[0], "href"), "a name is a path, never a scheme")
	assert.Equal(t, "javascript:alert(3)", text(files[0]))
}

func TestWriteRejects(t *testing.T) {
	d := sample(t, "fail")
	d.Verdict = "passed"
	d.Charts = append(d.Charts,
		Chart{Title: "memory.png", SVG: []byte("\x89PNG\r\n\x1a\n")},
		Chart{Title: "empty"},
		Chart{Title: "html", SVG: []byte("<html><body>not a chart</body></html>")})
	d.Tables[1].Rows[0] = append(d.Tables[1].Rows[0], "extra")
	d.Network.Calibration[1].Verdict = "fine"

	var buf bytes.Buffer
	err := Write(&buf, d)
	require.Error(t, err)
	for _, want := range []string{
		`verdict "passed": want "pass" or "fail"`,
		`chart 4 ("memory.png"): not SVG`,
		`chart 5 ("empty"): no SVG`,
		`chart 6 ("html"): not SVG: root element is <html>`,
		`table 1 ("peer"): row 0 has 8 cells for 7 columns`,
		`network: path 1 (bootstrap → peer-2): verdict "fine": want "ok", "mismatch" or "undecided"`,
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.Zero(t, buf.Len(), "nothing is written when the data is wrong")
}

func TestWriteMinimal(t *testing.T) {
	doc := render(t, Data{Title: "TestEmpty", Verdict: "pass"})

	assert.Equal(t, "PASS: TestEmpty", text(one(t, doc, "title", "")))
	assert.Equal(t, "No checks were recorded.", text(one(t, byID(t, doc, "checks"), "p", "empty")))
	assert.Empty(t, find(doc, "time", ""), "no date for the zero time")
	for _, id := range []string{"charts", "network", "events", "tables", "regression", "parameters", "environment", "timings", "files"} {
		for n := range doc.Descendants() {
			assert.NotEqual(t, id, attr(n, "id"), "an empty part is left out")
		}
	}
}

func TestTimings(t *testing.T) {
	got := timings([]KV{
		{"bring-up", "14.2 s"},
		{"engine floor", "3.55 s (bring-up is 4.0× the floor)"},
		{"ratio", "4.0×"},
		{"sampling", "1m11s"},
		{"teardown", "710ms"},
		{"not run", "—"},
	})
	var pct []float64
	for _, g := range got {
		pct = append(pct, g.Pct)
	}
	assert.InDeltaSlice(t, []float64{20, 5, 0, 100, 1, 0}, pct, 1e-9)
}

func TestSVGSize(t *testing.T) {
	tests := []struct {
		svg  string
		w, h int
	}{
		{`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 500"></svg>`, 1000, 500},
		{`<?xml version="1.0"?><!-- c --><svg width="640px" height="480" viewBox="0 0 1 1"/>`, 640, 480},
		{`<svg viewBox="0,0,99.6,50.2"/>`, 100, 50},
		{`<svg width="100%"/>`, 0, 0},
	}
	for _, tt := range tests {
		w, h, err := svgSize([]byte(tt.svg))
		if assert.NoError(t, err, tt.svg) {
			assert.Equal(t, []int{tt.w, tt.h}, []int{w, h}, tt.svg)
		}
	}
}
