package series

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRoleStats(t *testing.T) {
	r := star()
	boot, peer := r.Role("bootstrap"), r.Role("peer")

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		// Peer memory over all samples: 10 20 30 12 22 14 24 36 (peer-10
		// missed round 1) → 168/8.
		{"peer mean", peer.Mean("mem_bytes"), 21},
		{"peer min", peer.Min("mem_bytes"), 10},
		{"peer max", peer.Max("mem_bytes"), 36},
		{"bootstrap mean", boot.Mean("mem_bytes"), 110},
		{"bootstrap min connections", boot.Min("connections"), 2},
		// Last round 2: peers 14 24 36.
		{"peer last", peer.Last("mem_bytes"), 74.0 / 3},
		{"bootstrap last", boot.Last("connections"), 2},
		{"bootstrap last cpu", boot.Last("cpu_cores"), 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, tt.got, 1e-12)
		})
	}

	assert.Equal(t, "peer", peer.Name)
	assert.Equal(t, []string{"peer-1", "peer-2", "peer-10"}, peer.Nodes())
	assert.Equal(t, 3, peer.Rounds())

	// Node means: peer-1 (10+12+14)/3, peer-2 (20+22+24)/3, peer-10 (30+36)/2.
	assert.Equal(t, map[string]float64{"peer-1": 12, "peer-2": 22, "peer-10": 33}, peer.NodeMeans("mem_bytes"))

	// Spread of 12 22 33: P95 at rank 1.9 = 22 + 0.9·11.
	spread := peer.Spread("mem_bytes")
	assert.Equal(t, 3, spread.N)
	assert.InDelta(t, 67.0/3, spread.Mean, 1e-12)
	assert.InDelta(t, 22, spread.P50, 1e-12)
	assert.InDelta(t, 31.9, spread.P95, 1e-12)
	assert.InDelta(t, 12, spread.Min, 1e-12)
	assert.InDelta(t, 33, spread.Max, 1e-12)
}

func TestRoleStatsMissingIsNaN(t *testing.T) {
	r := star()
	tests := []struct {
		name string
		got  float64
	}{
		{"unknown role", r.Role("relay").Mean("mem_bytes")},
		{"misspelt figure", r.Role("peer").Mean("mem_byte")},
		{"figure of another role", r.Role("peer").Max("cpu_cores")},
		{"min", r.Role("relay").Min("mem_bytes")},
		{"last", r.Role("relay").Last("mem_bytes")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.True(t, math.IsNaN(tt.got), "got %v, want NaN", tt.got)
		})
	}
	assert.Empty(t, r.Role("relay").NodeMeans("mem_bytes"))
	assert.Equal(t, Stats{}, r.Role("relay").Spread("mem_bytes"))
}
