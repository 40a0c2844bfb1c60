package report

import (
	"strings"
)

// block is one block of the Markdown the report understands: a paragraph,
// a bullet list or a pipe table. It is a value, not HTML, so that the
// template escapes every piece of text as it does the rest of the page.
type block struct {
	Kind    string     // "p", "ul" or "table"
	Text    []span     // p
	Verdict string     // p: "pass" or "fail" when the line opens with ✅ or ❌
	Items   [][]span   // ul
	Head    []cell     // table
	Rows    []tableRow // table
}

type tableRow struct {
	Cells []cell
	Bad   bool // a cell is bold: regress marks a failing row so
}

type cell struct {
	Align string // "left", "right", "center" or ""
	Text  []span
}

// span is a run of inline text: plain, `code`, **bold**, or both.
type span struct {
	Text       string
	Code, Bold bool
}

// parseMarkdown reads the subset of GitHub Markdown that meshtest/regress
// writes: paragraphs (the verdict line), "- " lists (the mismatches) and
// pipe tables with a delimiter row (the figures), with `code`, **bold**
// and backslash escapes inline. Anything else is shown as text: raw HTML
// and links are not interpreted, so nothing in the input reaches the page
// as markup.
func parseMarkdown(md string) []block {
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	var blocks []block
	var para []string
	flush := func() {
		if len(para) == 0 {
			return
		}
		blocks = append(blocks, paragraph(strings.Join(para, " ")))
		para = nil
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "":
			flush()
		case isTableLine(l) && i+1 < len(lines) && isDelimiterRow(strings.TrimSpace(lines[i+1])):
			flush()
			t := block{Kind: "table"}
			aligns := alignments(splitRow(strings.TrimSpace(lines[i+1])))
			for j, c := range splitRow(l) {
				t.Head = append(t.Head, cell{Align: at(aligns, j), Text: inline(c)})
			}
			i += 2
			for ; i < len(lines) && isTableLine(strings.TrimSpace(lines[i])); i++ {
				t.Rows = append(t.Rows, tableRowOf(splitRow(strings.TrimSpace(lines[i])), aligns, len(t.Head)))
			}
			i-- // the loop's i++ steps onto the line after the table
			blocks = append(blocks, t)
		case strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "* "):
			flush()
			item := inline(strings.TrimSpace(l[2:]))
			if n := len(blocks); n > 0 && blocks[n-1].Kind == "ul" {
				blocks[n-1].Items = append(blocks[n-1].Items, item)
			} else {
				blocks = append(blocks, block{Kind: "ul", Items: [][]span{item}})
			}
		default:
			para = append(para, l)
		}
	}
	flush()
	return blocks
}

// paragraph makes a paragraph, turning the ✅/❌ that regress puts before
// its verdict into a verdict the page shows as a badge: emoji need a font
// that many Linux hosts (and CI screenshots) lack.
func paragraph(s string) block {
	b := block{Kind: "p"}
	if rest, ok := strings.CutPrefix(s, "✅"); ok {
		b.Verdict, s = "pass", strings.TrimSpace(rest)
	} else if rest, ok := strings.CutPrefix(s, "❌"); ok {
		b.Verdict, s = "fail", strings.TrimSpace(rest)
	}
	b.Text = inline(s)
	return b
}

func tableRowOf(raw []string, aligns []string, width int) tableRow {
	// GitHub's rule: a row is as wide as the header, padded or cut.
	var r tableRow
	for j := range width {
		var c cell
		c.Align = at(aligns, j)
		if j < len(raw) {
			c.Text = inline(raw[j])
		}
		for _, s := range c.Text {
			r.Bad = r.Bad || s.Bold
		}
		r.Cells = append(r.Cells, c)
	}
	return r
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func isTableLine(l string) bool { return strings.HasPrefix(l, "|") }

// isDelimiterRow reports whether l is the row under a table's header:
// "|:--|--:|:-:|---|".
func isDelimiterRow(l string) bool {
	if !isTableLine(l) {
		return false
	}
	cells := splitRow(l)
	for _, c := range cells {
		c = strings.TrimSuffix(strings.TrimPrefix(c, ":"), ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return len(cells) > 0
}

func alignments(delims []string) []string {
	out := make([]string, len(delims))
	for i, d := range delims {
		left, right := strings.HasPrefix(d, ":"), strings.HasSuffix(d, ":")
		switch {
		case left && right:
			out[i] = "center"
		case right:
			out[i] = "right"
		case left:
			out[i] = "left"
		}
	}
	return out
}

// splitRow splits a table line into its cells at the pipes that are not
// escaped; "\|" is a pipe inside a cell (regress escapes figure names so)
// and becomes "|", also inside code, as GitHub does.
func splitRow(l string) []string {
	l = strings.TrimPrefix(l, "|")
	if strings.HasSuffix(l, "|") && !strings.HasSuffix(l, `\|`) {
		l = l[:len(l)-1]
	}
	var cells []string
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			b.WriteByte('|')
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

// inline splits text into spans: `code` (taken literally), **bold** (which
// may hold code) and plain text, where a backslash before ASCII punctuation
// keeps that character literal. An unclosed ` or ** is plain text.
func inline(s string) []span {
	var out []span
	var b strings.Builder
	bold := false
	emit := func(code bool) {
		if b.Len() > 0 {
			out = append(out, span{Text: b.String(), Code: code, Bold: bold})
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && isASCIIPunct(s[i+1]):
			b.WriteByte(s[i+1])
			i++
		case s[i] == '`':
			end := strings.IndexByte(s[i+1:], '`')
			if end < 0 {
				b.WriteByte('`')
				continue
			}
			emit(false)
			b.WriteString(s[i+1 : i+1+end])
			emit(true)
			i += end + 1
		case strings.HasPrefix(s[i:], "**") && (bold || strings.Contains(s[i+2:], "**")):
			emit(false)
			bold = !bold
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	emit(false)
	return out
}

func isASCIIPunct(c byte) bool {
	return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}
