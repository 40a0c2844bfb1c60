package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// TestDecodeOnlyMatchesDecode: the families DecodeOnly keeps are exactly
// what Decode reads of them, in both wire formats, counters, gauges, a
// summary (whose _sum and _count lines follow its TYPE) and a family absent
// from the payload; nothing else is decoded.
func TestDecodeOnlyMatchesDecode(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "node-full.txt"))
	require.NoError(t, err)
	all, err := Decode(bytes.NewReader(text), fmtText)
	require.NoError(t, err)
	var pb bytes.Buffer
	enc := expfmt.NewEncoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range all {
		require.NoError(t, enc.Encode(mf))
	}
	keep := map[string]bool{"go_gc_duration_seconds": true, "no_such_family": true}
	for _, name := range FamilyNames(DefaultQueries()) {
		keep[name] = true
	}
	for format, body := range map[expfmt.Format][]byte{fmtText: text, expfmt.NewFormat(expfmt.TypeProtoDelim): pb.Bytes()} {
		got, err := DecodeOnly(bytes.NewReader(body), format, keep)
		require.NoError(t, err, format)
		assert.Len(t, got, len(keep)-1, "%s: every kept family of the payload, and no other", format)
		for name := range keep {
			if name == "no_such_family" {
				assert.NotContains(t, got, name)
				continue
			}
			require.Contains(t, got, name, format)
			assert.True(t, proto.Equal(all[name], got[name]), "%s: %s decoded as Decode does:\n%v\n%v", format, name, all[name], got[name])
		}
		assert.Equal(t, uint64(1), got["go_gc_duration_seconds"].GetMetric()[0].GetSummary().GetSampleCount(), "%s: the summary's _count line is its own", format)
	}
}

// TestDecodeOnlyText: suffixed series belong to the family whose TYPE line
// they follow, not to a kept family that merely shares their prefix.
func TestDecodeOnlyText(t *testing.T) {
	payload := strings.Join([]string{
		"# TYPE a histogram",
		`a_bucket{le="1"} 1`,
		`a_bucket{le="+Inf"} 2`,
		"a_sum 3",
		"a_count 2",
		"# HELP b_count a gauge whose name ends as a histogram's series do",
		"# TYPE b_count gauge",
		"b_count 7",
		"# TYPE b gauge",
		"b 1",
		"",
	}, "\n")
	got, err := DecodeOnly(strings.NewReader(payload), fmtText, map[string]bool{"b": true})
	require.NoError(t, err)
	require.Len(t, got, 1)
	v, ok := got.Value("b", nil)
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)

	got, err = DecodeOnly(strings.NewReader(payload), fmtText, map[string]bool{"a": true, "b_count": true})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, uint64(2), got["a"].GetMetric()[0].GetHistogram().GetSampleCount())
	v, _ = got.Value("b_count", nil)
	assert.Equal(t, 7.0, v)

	_, err = DecodeOnly(strings.NewReader("a{ 1\n"), fmtText, map[string]bool{"a": true})
	assert.ErrorContains(t, err, "decode text/plain payload", "a broken kept line is still an error")
	_, err = DecodeOnly(bytes.NewReader([]byte{0x80}), expfmt.NewFormat(expfmt.TypeProtoDelim), map[string]bool{"a": true})
	assert.ErrorContains(t, err, "message length", "a truncated length prefix")
}
