package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInline(t *testing.T) {
	tests := []struct {
		in   string
		want []span
	}{
		{"plain", []span{{Text: "plain"}}},
		{"`peer_mem_bytes`", []span{{Text: "peer_mem_bytes", Code: true}}},
		{"**worse**", []span{{Text: "worse", Bold: true}}},
		{"**`a`** b", []span{{Text: "a", Code: true, Bold: true}, {Text: " b"}}},
		{`a \*b\* \| c`, []span{{Text: "a *b* | c"}}},
		{"`a\\*b`", []span{{Text: `a\*b`, Code: true}}}, // code is literal
		{"unclosed ` and **", []span{{Text: "unclosed ` and **"}}},
		{"<b>raw</b>", []span{{Text: "<b>raw</b>"}}}, // text, escaped by the template
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, inline(tt.in), tt.in)
	}
}

func TestSplitRow(t *testing.T) {
	assert.Equal(t, []string{"a", "b", ""}, splitRow("| a | b | |"))
	assert.Equal(t, []string{"`x|y`", "2"}, splitRow(`| `+"`x\\|y`"+` | 2 |`), `\| stays in its cell`)
	assert.Equal(t, []string{"a", "b|"}, splitRow(`| a | b\|`))
	assert.Equal(t, []string{"a"}, splitRow("|a"))
}

func TestParseMarkdown(t *testing.T) {
	md := "❌ not comparable: baseline and this run differ in peers\n" +
		"\n" +
		"- peers: baseline 10, now 100\n" +
		"- duration: baseline `15s`, now `60s`\n" +
		"\n" +
		"| figure | now | verdict |\n" +
		"|:--|--:|:-:|\n" +
		"| `a\\|b` | 1 | **missing** |\n" +
		"| short |\n" +
		"| long | 2 | ok | extra |\n" +
		"after the table\n" +
		"| not | a table |\n"
	got := parseMarkdown(md)
	require.Len(t, got, 4, "%+v", got)

	assert.Equal(t, block{Kind: "p", Verdict: "fail", Text: []span{{Text: "not comparable: baseline and this run differ in peers"}}}, got[0])
	assert.Equal(t, block{Kind: "ul", Items: [][]span{
		{{Text: "peers: baseline 10, now 100"}},
		{{Text: "duration: baseline "}, {Text: "15s", Code: true}, {Text: ", now "}, {Text: "60s", Code: true}},
	}}, got[1])

	table := got[2]
	assert.Equal(t, "table", table.Kind)
	assert.Equal(t, []cell{{"left", []span{{Text: "figure"}}}, {"right", []span{{Text: "now"}}}, {"center", []span{{Text: "verdict"}}}}, table.Head)
	require.Len(t, table.Rows, 3)
	assert.Equal(t, tableRow{Bad: true, Cells: []cell{
		{"left", []span{{Text: "a|b", Code: true}}}, {"right", []span{{Text: "1"}}}, {"center", []span{{Text: "missing", Bold: true}}},
	}}, table.Rows[0])
	assert.Equal(t, tableRow{Cells: []cell{{"left", []span{{Text: "short"}}}, {Align: "right"}, {Align: "center"}}}, table.Rows[1], "padded")
	assert.Len(t, table.Rows[2].Cells, 3, "cut to the header's width")

	// A pipe line without a delimiter row under it is text, and joins the
	// paragraph it continues, as on GitHub.
	assert.Equal(t, block{Kind: "p", Text: []span{{Text: "after the table | not | a table |"}}}, got[3])
}

func TestParseMarkdownVerdicts(t *testing.T) {
	for md, want := range map[string]string{
		"✅ no regression":           "pass",
		"❌ regression: a (+12.0 %)": "fail",
		"no regression (no emoji)":  "",
		"see ✅ in the middle":       "",
	} {
		got := parseMarkdown(md)
		require.Len(t, got, 1, md)
		assert.Equal(t, want, got[0].Verdict, md)
	}
}
