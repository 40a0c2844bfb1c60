package workload

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPayloadRoundTrip(t *testing.T) {
	at := time.Unix(1_700_000_000, 123_456_789)
	tests := []struct {
		name     string
		size     int
		wantSize int
	}{
		{"padded", 1024, 1024},
		{"exactly a header", HeaderSize, HeaderSize},
		{"too small is raised", 3, HeaderSize},
		{"zero is raised", 0, HeaderSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := NewMessageID()
			p := Payload(id, at, tt.size)
			require.Len(t, p, tt.wantSize)
			got, gotAt, ok := ParseHeader(p)
			require.True(t, ok)
			assert.Equal(t, id, got)
			assert.True(t, at.Equal(gotAt), "publish time %v, want %v", gotAt, at)
			assert.Equal(t, make([]byte, tt.wantSize-HeaderSize), p[HeaderSize:], "padding must be zeros")
		})
	}
}

// The layout is the node's: ID first, then big-endian nanoseconds.
func TestPayloadLayout(t *testing.T) {
	id := MessageID{0: 0xab, 15: 0xcd}
	p := Payload(id, time.Unix(0, 0x0102030405060708), 0)
	assert.Equal(t, []byte{0xab, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcd,
		1, 2, 3, 4, 5, 6, 7, 8}, p)
}

func TestParseHeaderShort(t *testing.T) {
	for _, p := range [][]byte{nil, {}, make([]byte, HeaderSize-1)} {
		_, _, ok := ParseHeader(p)
		assert.False(t, ok, "payload of %d bytes", len(p))
	}
}

func TestNewMessageIDDiffers(t *testing.T) {
	assert.NotEqual(t, NewMessageID(), NewMessageID())
}

func TestMessageIDString(t *testing.T) {
	id := MessageID{0: 0xAB, 1: 0x01, 15: 0xFF}
	s := id.String()
	assert.Equal(t, "ab0100000000000000000000000000ff", s)
	got, err := ParseMessageID(s)
	require.NoError(t, err)
	assert.Equal(t, id, got)
}

func TestParseMessageIDBad(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"short", "ab01"},
		{"long", "ab0100000000000000000000000000ff00"},
		{"not hex", "zz0100000000000000000000000000ff"},
		{"padded with spaces", " b0100000000000000000000000000ff "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseMessageID(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `"`+tt.in+`"`, "the error names the input")
			assert.Equal(t, MessageID{}, id)
		})
	}
}
