package regress

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// regressed is the fixture baseline against a run where the bootstrap's
// bytes per connection rose 23 % and the peer's memory was not measured.
func regressed(t *testing.T) Report {
	t.Helper()
	base, err := Read("testdata/star.json")
	require.NoError(t, err)
	now := *base
	now.Figures = []Figure{
		FromRuns("bootstrap_bytes_per_conn", []float64{17400}, "B/conn"),
		FromRuns("bootstrap_goroutines_per_conn", []float64{2.01}, "goroutines/conn"),
		FromRuns("bootstrap_cpu_seconds_per_conn_per_s", []float64{0.0001}, "cpu-s/conn/s"),
		{Name: "bring_up_s", Unit: "s", Value: 9.1, N: 1, HigherIsWorse: true},
		FromRuns("dht_bytes", []float64{3100}, "B"),
	}
	return Compare(base, &now, Options{})
}

// line returns the line of s that starts with prefix.
func line(t *testing.T, s, prefix string) string {
	t.Helper()
	for l := range strings.Lines(s) {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starts with %q in:\n%s", prefix, s)
	return ""
}

// cells splits a table line into its cells, whether columns are separated
// by runs of spaces (Text) or by pipes (Markdown).
func cells(l string) []string {
	if strings.HasPrefix(l, "|") {
		var out []string
		for c := range strings.SplitSeq(strings.Trim(strings.TrimSpace(l), "|"), "|") {
			out = append(out, strings.TrimSpace(c))
		}
		return out
	}
	var out []string
	for c := range strings.SplitSeq(strings.TrimSpace(l), "  ") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func TestText(t *testing.T) {
	text := regressed(t).Text()

	assert.Equal(t, []string{"figure", "baseline", "now", "change", "allowed", "verdict"}, cells(line(t, text, "figure")))
	assert.Equal(t, []string{"bootstrap_bytes_per_conn", "14.1 kB/conn", "17.4 kB/conn", "+23.4 %", "±10.0 %", "worse"},
		cells(line(t, text, "bootstrap_bytes_per_conn")))
	assert.Equal(t, []string{"bootstrap_cpu_seconds_per_conn_per_s", "0.00012 cpu-s/conn/s", "0.0001 cpu-s/conn/s", "-16.7 %", "±24.0 %", "ok"},
		cells(line(t, text, "bootstrap_cpu_seconds_per_conn_per_s")))
	assert.Equal(t, []string{"bring_up_s", "4.20 s", "9.10 s", "+116.7 %", "±45.0 %", "worse (not gated)"},
		cells(line(t, text, "bring_up_s")))
	assert.Equal(t, []string{"peer_mem_bytes", "16.3 MB", "—", "—", "—", "missing"}, cells(line(t, text, "peer_mem_bytes")))
	assert.Equal(t, []string{"dht_bytes", "—", "3.10 kB", "—", "—", "new"}, cells(line(t, text, "dht_bytes")))
	assert.Equal(t, "regression: bootstrap_bytes_per_conn (+23.4 %), peer_mem_bytes (missing)\n", line(t, text, "regression"))

	// Aligned: every column starts at the same character on every line
	// (in runes: "±" and "—" are one character but several bytes).
	column := func(l, cell string) int { return utf8.RuneCountInString(l[:strings.Index(l, cell)]) }
	header := line(t, text, "figure")
	assert.Equal(t, column(header, "verdict"), column(line(t, text, "bootstrap_bytes_per_conn"), "worse"))
	assert.Equal(t, column(header, "verdict"), column(line(t, text, "peer_mem_bytes"), "missing"))
}

func TestMarkdown(t *testing.T) {
	md := regressed(t).Markdown()

	first, _, _ := strings.Cut(md, "\n")
	assert.Equal(t, "❌ regression: bootstrap_bytes_per_conn (+23.4 %), peer_mem_bytes (missing)", first)
	assert.Contains(t, md, "| figure | baseline | now | change | allowed | verdict |\n|:--|--:|--:|--:|--:|:--|\n")
	assert.Equal(t, []string{"`bootstrap_bytes_per_conn`", "14.1 kB/conn", "17.4 kB/conn", "+23.4 %", "±10.0 %", "**worse**"},
		cells(line(t, md, "| `bootstrap_bytes_per_conn`")))
	assert.Equal(t, []string{"`bring_up_s`", "4.20 s", "9.10 s", "+116.7 %", "±45.0 %", "worse (not gated)"},
		cells(line(t, md, "| `bring_up_s`")), "an ungated figure is not marked as failing")
	assert.Equal(t, []string{"`peer_mem_bytes`", "16.3 MB", "—", "—", "—", "**missing**"},
		cells(line(t, md, "| `peer_mem_bytes`")))
}

func TestMarkdownVerdictLine(t *testing.T) {
	const f = "bootstrap_bytes_per_conn"
	tests := []struct {
		name      string
		base, now *Set
		want      string
	}{
		{"pass", star(cost(f, 100, 0)), star(cost(f, 105, 0)), "✅ no regression"},
		{
			"pass, with an improvement to keep", star(cost(f, 100, 0)), star(cost(f, 80, 0)),
			`✅ no regression; better: bootstrap_bytes_per_conn (-20.0 %); run "make baseline" to keep the gain`,
		},
		{
			"not comparable", star(cost(f, 100, 0)),
			&Set{Params: map[string]string{"peers": "100", "duration_s": "15"}, Figures: []Figure{cost(f, 100, 0)}},
			`❌ not comparable: baseline and this run differ in peers; record a matching baseline with "make baseline"`,
		},
		{"from zero", star(cost(f, 0, 0)), star(cost(f, 1, 0)), "❌ regression: bootstrap_bytes_per_conn (+∞ %)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := Compare(tt.base, tt.now, Options{}).Markdown()
			first, _, _ := strings.Cut(md, "\n")
			assert.Equal(t, tt.want, first)
		})
	}
}

func TestMarkdownEscapesPipes(t *testing.T) {
	r := Report{Mismatch: []string{"image: baseline a|b, now c"}}
	assert.Contains(t, r.Markdown(), `- image: baseline a\|b, now c`)
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{14100, "B/conn", "14.1 kB/conn"},
		{16318464, "B", "16.3 MB"},
		{2.5e9, "B/peer", "2.50 GB/peer"},
		{512, "B", "512 B"},
		{-14100, "B/conn", "-14.1 kB/conn"},
		{752, "goroutines", "752" + " goroutines"},
		{0.00012, "cpu-s/conn/s", "0.00012 cpu-s/conn/s"},
		{0.000012, "cpu-s/conn/s", "1.2e-05 cpu-s/conn/s"},
		{4.2, "s", "4.20 s"},
		{0, "s", "0 s"},
		{3, "", "3.00"},
		{math.NaN(), "B", "—"},
		{2e6, "msg", "2e+06 msg"}, // not bytes: no prefixes to guess
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, formatValue(tt.v, tt.unit), "formatValue(%v, %q)", tt.v, tt.unit)
	}
}
