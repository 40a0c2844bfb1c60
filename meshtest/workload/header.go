package workload

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// HeaderSize is the length of the header every gossip payload starts with: a
// 16-byte [MessageID], then the publish time as int64 unix nanoseconds,
// big-endian. It is the bundled node's format (node/gossip_trace.go), so a
// payload the harness publishes and one the node publishes are read alike.
const HeaderSize = 16 + 8

// MessageID identifies one published message. It is random rather than a
// counter so that publishers never need to agree on a sequence.
type MessageID [16]byte

// String returns id as 32 lowercase hex digits, the form of the node's JSON.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }

// ParseMessageID reads the form [MessageID.String] writes.
func ParseMessageID(s string) (MessageID, error) {
	var id MessageID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("message id %q: expected %d hex digits, got %d characters", s, 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return MessageID{}, fmt.Errorf("message id %q: %w", s, err)
	}
	return id, nil
}

// NewMessageID returns a random MessageID from crypto/rand, whose Read never
// fails.
func NewMessageID() MessageID {
	var id MessageID
	_, _ = rand.Read(id[:])
	return id
}

// Payload is the header of id published at at, followed by zero padding up
// to size; a size below HeaderSize is raised to it.
func Payload(id MessageID, at time.Time, size int) []byte {
	p := make([]byte, max(size, HeaderSize))
	copy(p, id[:])
	binary.BigEndian.PutUint64(p[len(id):], uint64(at.UnixNano()))
	return p
}

// ParseHeader reads a payload's header; ok is false when it is shorter than
// HeaderSize.
func ParseHeader(p []byte) (id MessageID, at time.Time, ok bool) {
	if len(p) < HeaderSize {
		return id, time.Time{}, false
	}
	copy(id[:], p)
	return id, time.Unix(0, int64(binary.BigEndian.Uint64(p[len(id):HeaderSize]))), true
}
