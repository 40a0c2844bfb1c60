package shape

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"10mbit", 10_000_000, ""},
		{"10Mbit", 10_000_000, ""},
		{"10MBIT", 10_000_000, ""},
		{"500kbit", 500_000, ""},
		{"1gbit", 1_000_000_000, ""},
		{"1.5mbit", 1_500_000, ""},
		{" 64000bit ", 64_000, ""},
		{"64000", 64_000, ""},
		{"0", 0, ""},
		{"unlimited", 0, ""},
		{"10mbps", 0, "ambiguous"},
		{"10MB/s", 0, "ambiguous"},
		{"10m", 0, "as in 10mbit"},
		{"fast", 0, "as in 10mbit"},
		{"-1mbit", 0, "as in 10mbit"},
		{"", 0, "as in 10mbit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseLoss(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"1%", 0.01, ""},
		{"0.5%", 0.005, ""},
		{"100%", 1, ""},
		{"0.01", 0.01, ""},
		{"0", 0, ""},
		{"1", 1, ""},
		{" 2 % ", 0.02, ""},
		{"5", 0, "write 5% for 5 percent"},
		{"101%", 0, "between 0 and 100%"},
		{"-1%", 0, "between 0 and 100%"},
		{"lots", 0, "want a percentage"},
		{"NaN", 0, "want a percentage"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLoss(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.InDelta(t, tt.want, got, 1e-12)
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"50ms": 50 * time.Millisecond, "1.5s": 1500 * time.Millisecond, "0": 0, " 250us ": 250 * time.Microsecond} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseDuration("50")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "as in 50ms")
}

func TestParseLink(t *testing.T) {
	l, err := ParseLink("latency=50ms,jitter=5ms,loss=1%,rate=10mbit")
	require.NoError(t, err)
	assert.Equal(t, Link{Latency: 50 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01, Rate: 10_000_000}, l)
	assert.Equal(t, "latency=50ms,jitter=5ms,loss=1%,rate=10mbit", l.String())

	back, err := ParseLink(l.String())
	require.NoError(t, err)
	assert.Equal(t, l, back, "String and ParseLink round-trip")

	for _, s := range []string{"", "none"} {
		l, err := ParseLink(s)
		require.NoError(t, err)
		assert.True(t, l.IsZero())
	}
	assert.Equal(t, "none", Link{}.String())

	for in, want := range map[string]string{
		"latency=50":              "as in 50ms",
		"latency":                 "not key=value",
		"speed=10mbit":            `unknown key "speed"`,
		"latency=5ms,jitter=10ms": "link.jitter: 10ms exceeds latency 5ms",
	} {
		_, err := ParseLink(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestValidate(t *testing.T) {
	ok := Shape{
		Egress:  Link{Rate: 10_000_000, Loss: 0.01},
		Ingress: Link{Latency: 50 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 1, Rate: MinRate},
	}
	require.NoError(t, ok.Validate())
	require.NoError(t, Shape{}.Validate())

	tests := []struct {
		name string
		s    Shape
		want []string
	}{
		{"negative latency", Shape{Ingress: Link{Latency: -time.Millisecond}}, []string{"ingress.latency: -1ms is negative; use 0"}},
		{"huge latency", Shape{Egress: Link{Latency: time.Minute, Jitter: time.Second}}, []string{"egress.latency: 1m0s exceeds 10s"}},
		{"jitter over latency", Shape{Ingress: Link{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}}, []string{"ingress.jitter: 2ms exceeds latency 1ms", "lower jitter"}},
		{"negative jitter", Shape{Ingress: Link{Jitter: -1}}, []string{"ingress.jitter: -1ns is negative"}},
		{"loss as percent", Shape{Egress: Link{Loss: 5}}, []string{"egress.loss: 5 is not a probability in 0..1", "1% for one percent"}},
		{"rate too small", Shape{Egress: Link{Rate: 100}}, []string{"egress.rate: 100 bit/s is below the minimum 8kbit"}},
		{"negative rate", Shape{Ingress: Link{Rate: -5}}, []string{"ingress.rate: -5 bit/s is negative; use 0 for unlimited"}},
		{"every problem listed", Shape{Egress: Link{Loss: -1}, Ingress: Link{Rate: -1}}, []string{"egress.loss", "ingress.rate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestFormatRate(t *testing.T) {
	for bits, want := range map[int64]string{0: "0", 10_000_000: "10mbit", 1_500_000: "1500kbit", 1_000_000_000: "1gbit", 8_001: "8001bit"} {
		assert.Equal(t, want, FormatRate(bits))
		if bits != 0 {
			back, err := ParseRate(want)
			require.NoError(t, err)
			assert.Equal(t, bits, back)
		}
	}
}

// TestFormatLoss: a loss is written in the shortest form that reads back
// exactly, so a Link's String round-trips through ParseLink.
func TestFormatLoss(t *testing.T) {
	for _, tt := range []struct {
		p    float64
		want string
	}{{0, "0"}, {0.01, "1%"}, {0.07, "7%"}, {0.001, "0.1%"}, {0.0199, "1.99%"}, {1, "100%"}, {1e-7, "0.0000001"}, {1.0 / 3, "0.3333333333333333"}, {0.123456789, "0.123456789"}} {
		assert.Equal(t, tt.want, FormatLoss(tt.p))
		back, err := ParseLoss(tt.want)
		require.NoError(t, err)
		assert.Equal(t, tt.p, back)
	}
	assert.Equal(t, "loss=7%", Link{Loss: 0.07}.String())
}
