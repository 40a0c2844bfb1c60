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
	times, err := b.Floor(t.Context(), backend.RunOptions{ID: run, Test: t.Name()}, img, 3, 2, rec.logf)
	require.NoError(t, err)
	assert.Positive(t, times.Start)
	assert.Positive(t, times.Remove)
	logs := rec.take()
	assert.NotEmpty(t, mentioning(logs, "3 containers in"), "the floor is reported")
	assert.NotEmpty(t, mentioning(logs, "3 containers removed in"), "the removal floor is reported")
	left, err := b.Leftovers(t.Context(), run)
	require.NoError(t, err)
	assert.Empty(t, left, "Floor removes what it started")
}
