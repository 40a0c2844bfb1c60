package docker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// TestFloor: the floor measurement starts its containers and removes them,
// and its network, before it returns.
func TestFloor(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	run := "floor-" + randomHex(t, 4)
	removeRunOnCleanup(t, b, run)
	rec := &logRecorder{t: t}
	d, err := b.Floor(t.Context(), backend.RunOptions{ID: run, Test: t.Name()}, img, 3, 2, rec.logf)
	require.NoError(t, err)
	assert.Positive(t, d)
	assert.NotEmpty(t, mentioning(rec.take(), "3 containers in"), "the floor is reported")
	left, err := b.Leftovers(t.Context(), run)
	require.NoError(t, err)
	assert.Empty(t, left, "Floor removes what it started")
}
