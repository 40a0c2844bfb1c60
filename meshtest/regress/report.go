package regress

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
)

// Text renders the report for a terminal or a test log: an aligned table of
// figure, baseline, now, change, allowed band and verdict in human units
// ("14.1 kB/conn", "+23.4 %"), then a one-line verdict, last where a log
// reader looks, with any mismatch listed under it.
func (r Report) Text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tbaseline\tnow\tchange\tallowed\tverdict")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Figure, formatValue(row.Base, row.Unit),
			formatValue(row.Now, row.Unit), formatChange(row.Change), formatAllowed(row.Allowed), verdictCell(row))
	}
	tw.Flush()
	b.WriteString(r.summaryLine(false))
	b.WriteByte('\n')
	for _, m := range r.Mismatch {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	return b.String()
}

// Markdown renders the report for a GitHub job summary: the one-line
// verdict first, since it is what a reviewer opens the summary for, then
// any mismatch as a list, then the table with the numbers right-aligned.
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString(r.summaryLine(true))
	b.WriteString("\n\n")
	for _, m := range r.Mismatch {
		fmt.Fprintf(&b, "- %s\n", mdEscape(m))
	}
	if len(r.Mismatch) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("| figure | baseline | now | change | allowed | verdict |\n")
	b.WriteString("|:--|--:|--:|--:|--:|:--|\n")
	for _, row := range r.Rows {
		v := verdictCell(row)
		if row.failed() {
			v = "**" + v + "**"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", mdEscape(row.Figure),
			mdEscape(formatValue(row.Base, row.Unit)), mdEscape(formatValue(row.Now, row.Unit)),
			formatChange(row.Change), formatAllowed(row.Allowed), v)
	}
	return b.String()
}

// summaryLine is the report in one line: "✅ no regression" or
// "❌ regression: a (+23.4 %), b (missing)". Improvements are named too,
// with the advice to refresh: the band is measured from the baseline, so
// after an improvement the figure could regress back to the old level and
// still pass.
func (r Report) summaryLine(emoji bool) string {
	fail, pass := "", ""
	if emoji {
		fail, pass = "❌ ", "✅ "
	}

	if len(r.Mismatch) > 0 {
		keys := make([]string, len(r.Mismatch))
		for i, m := range r.Mismatch {
			keys[i], _, _ = strings.Cut(m, ":")
		}
		return fail + "not comparable: baseline and this run differ in " + strings.Join(keys, ", ") +
			`; record a matching baseline with "make baseline"`
	}
	var worse, better []string
	for _, row := range r.Rows {
		switch {
		case !row.Gate:
		case row.Verdict == Missing:
			worse = append(worse, row.Figure+" (missing)")
		case row.Verdict == Worse:
			worse = append(worse, row.Figure+" ("+formatChange(row.Change)+")")
		case row.Verdict == Better:
			better = append(better, row.Figure+" ("+formatChange(row.Change)+")")
		}
	}
	if len(worse) > 0 {
		return fail + "regression: " + strings.Join(worse, ", ")
	}
	line := pass + "no regression"
	if len(better) > 0 {
		line += "; better: " + strings.Join(better, ", ") + `; run "make baseline" to keep the gain`
	}
	return line
}

func verdictCell(row Row) string {
	if !row.Gate {
		return row.Verdict + " (not gated)"
	}
	return row.Verdict
}

// formatValue writes v in its unit with about three significant digits.
// Byte units ("B", "B/conn") are scaled by powers of 1000 (kB, MB, GB), as
// the charts' axes are, so the two read the same.
func formatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	if unit == "B" || strings.HasPrefix(unit, "B/") {
		rest := unit[1:]
		for _, p := range []struct {
			div    float64
			prefix string
		}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
			if math.Abs(v) >= p.div {
				return formatNumber(v/p.div) + " " + p.prefix + "B" + rest
			}
		}
	}
	if unit == "" {
		return formatNumber(v)
	}
	return formatNumber(v) + " " + unit
}

// formatNumber writes about three significant digits without an exponent
// for the magnitudes headline figures have (0.00012 cpu-s/conn/s to 752
// goroutines), and with one beyond.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1e6 || a < 1e-4:
		return fmt.Sprintf("%.3g", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// formatChange writes a relative change as a signed percentage: "+23.4 %".
func formatChange(c float64) string {
	switch {
	case math.IsNaN(c):
		return "—"
	case math.IsInf(c, 1):
		return "+∞ %"
	case math.IsInf(c, -1):
		return "-∞ %"
	}
	return fmt.Sprintf("%+.1f %%", 100*c)
}

// formatAllowed writes the band as "±10.0 %": it applies in the bad
// direction for the verdict, but "better" uses the same width.
func formatAllowed(a float64) string {
	if math.IsNaN(a) {
		return "—"
	}
	return fmt.Sprintf("±%.1f %%", 100*a)
}

// mdEscape keeps a cell's text from ending the cell.
func mdEscape(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
