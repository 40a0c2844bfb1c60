package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fmtText is the format of the recorded payloads in testdata.
var fmtText = expfmt.NewFormat(expfmt.TypeTextPlain)

// loadPayload decodes a recorded text payload from testdata.
func loadPayload(t testing.TB, name string) Families {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	fams, err := Decode(f, fmtText)
	require.NoError(t, err)
	return fams
}

func TestDecodeRecordedPayloads(t *testing.T) {
	full := loadPayload(t, "node-full.txt")
	filtered := loadPayload(t, "node-filtered.txt")
	// The recording is of a real go-libp2p host; these counts only change
	// when testdata/gen is rerun.
	assert.Len(t, full, 74)
	assert.Len(t, filtered, len(DefaultQueries()))
	for name := range filtered {
		assert.Contains(t, full, name)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		format  expfmt.Format
		wantErr string
	}{
		{"html as text", "<html><body>hi</body></html>\n", fmtText, "decode text/plain payload"},
		{"html unknown format", "<html>\n", expfmt.FmtUnknown, "unrecognised format"},
		{"truncated protobuf", "\x7f\x0a\x03abc", expfmt.NewFormat(expfmt.TypeProtoDelim), "decode application/vnd.google.protobuf payload"},
		{"bad value", "go_goroutines fifty\n", fmtText, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.body), tt.format)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDecodeMergesRepeatedFamily(t *testing.T) {
	// Two blocks of one family are invalid text but occur with hand-rolled
	// exporters; both series must survive. Protobuf can carry that shape.
	const payload = "# TYPE x gauge\nx{a=\"1\"} 1\n"
	fams, err := Decode(strings.NewReader(payload), fmtText)
	require.NoError(t, err)
	var buf strings.Builder
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	require.NoError(t, enc.Encode(fams["x"]))
	fams["x"].Metric[0].Label[0].Value = ptr("2")
	require.NoError(t, enc.Encode(fams["x"]))

	got, err := Decode(strings.NewReader(buf.String()), expfmt.NewFormat(expfmt.TypeProtoDelim))
	require.NoError(t, err)
	v, ok := got.Value("x", nil)
	assert.True(t, ok)
	assert.Equal(t, 2.0, v)
}

func ptr[T any](v T) *T { return &v }

func TestValue(t *testing.T) {
	fams := loadPayload(t, "node-full.txt")
	tests := []struct {
		name   string
		family string
		labels map[string]string
		want   float64
		wantOK bool
	}{
		{"gauge", "go_goroutines", nil, 50, true},
		{"counter", "process_cpu_seconds_total", nil, 0.06, true},
		{"gauge with label", "go_info", map[string]string{"version": "go1.26.8"}, 1, true},
		{"counter summed over series", "libp2p_swarm_connections_opened_total", nil, 2, true},
		{"counter one direction", "libp2p_swarm_connections_opened_total", map[string]string{"dir": "inbound"}, 1, true},
		{"two labels", "libp2p_rcmgr_connections", map[string]string{"dir": "inbound", "scope": "system"}, 1, true},
		{"empty label value matches absent or empty", "libp2p_rcmgr_streams", map[string]string{"protocol": "", "dir": "inbound"}, 0, true},
		{"empty filter is all series", "libp2p_rcmgr_connections", map[string]string{}, 1, true},
		{"no series matches", "libp2p_swarm_connections_opened_total", map[string]string{"dir": "sideways"}, 0, false},
		{"unknown label", "go_goroutines", map[string]string{"node": "boot"}, 0, false},
		{"missing family", "meshnode_nonexistent", nil, 0, false},
		{"histogram unsupported", "libp2p_identify_addrs_received", nil, 0, false},
		{"summary unsupported", "go_gc_duration_seconds", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := fams.Value(tt.family, tt.labels)
			assert.Equal(t, tt.wantOK, ok)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}

func TestValueUntyped(t *testing.T) {
	// No TYPE line: the family is untyped, as many small exporters write it.
	fams, err := Decode(strings.NewReader("queue_depth{q=\"a\"} 3\nqueue_depth{q=\"b\"} 4\n"), fmtText)
	require.NoError(t, err)
	v, ok := fams.Value("queue_depth", nil)
	assert.True(t, ok)
	assert.Equal(t, 7.0, v)
}
