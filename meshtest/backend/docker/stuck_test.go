package docker

import (
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// heldRun is a killed run's network that the engine refuses to remove: a
// running container that is not the run's holds it, so the refusal is the
// engine's real "has active endpoints", without its bug.
func heldRun(t *testing.T, b *Backend) (run, netID, holder string) {
	t.Helper()
	// Built first: until the holder starts, another process's sweep may
	// remove the dead run's empty network.
	sleeperImage(t, b)
	run = "stuck-" + randomHex(t, 4)
	netID = ownedNetwork(t, b, run, exitedProcess(t), false)
	// Registered after the network's cleanup, so it runs first and frees it.
	holder = startSleeper(t, b, networkName(run))
	return run, netID, holder
}

// errdefsClasses are containerd errdefs' predicates, to say which class the
// engine's refusal falls in (there is no IsForbidden: HTTP 403 maps to
// PermissionDenied).
var errdefsClasses = []struct {
	name string
	is   func(error) bool
}{
	{"IsPermissionDenied", cerrdefs.IsPermissionDenied},
	{"IsConflict", cerrdefs.IsConflict},
	{"IsFailedPrecondition", cerrdefs.IsFailedPrecondition},
	{"IsInvalidArgument", cerrdefs.IsInvalidArgument},
	{"IsUnauthorized", cerrdefs.IsUnauthorized},
	{"IsNotFound", cerrdefs.IsNotFound},
	{"IsInternal", cerrdefs.IsInternal},
	{"IsUnavailable", cerrdefs.IsUnavailable},
	{"IsUnknown", cerrdefs.IsUnknown},
}

// TestActiveEndpoints: activeEndpoints recognises the engine's own refusal
// of a network that still has endpoints, and no other error.
func TestActiveEndpoints(t *testing.T) {
	b := testBackend(t, Options{})
	_, netID, _ := heldRun(t, b)

	_, refusal := b.cli.NetworkRemove(t.Context(), netID, client.NetworkRemoveOptions{})
	require.Error(t, refusal, "the engine removed a network a running container is attached to")
	t.Logf("the engine's refusal: %v", refusal)
	var classes []string
	for _, c := range errdefsClasses {
		if c.is(refusal) {
			classes = append(classes, c.name)
		}
	}
	t.Logf("its errdefs class: %v", classes)
	assert.True(t, cerrdefs.IsPermissionDenied(refusal), "the engine answers 403, errdefs' PermissionDenied, as remove.go says; classes %v", classes)

	_, missing := b.cli.NetworkRemove(t.Context(), "meshtest-no-such-network-"+randomHex(t, 4), client.NetworkRemoveOptions{})
	require.Error(t, missing)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"the engine's refusal", refusal, true},
		{"the refusal, wrapped", fmt.Errorf("remove network x: %w", refusal), true},
		{"no such network", missing, false},
		{"another refusal", fmt.Errorf("bridge is a pre-defined network and cannot be removed: %w", cerrdefs.ErrPermissionDenied), false},
		{"a conflict", fmt.Errorf("network is in use: %w", cerrdefs.ErrConflict), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, activeEndpoints(tc.err), "activeEndpoints(%v)", tc.err)
		})
	}
}

// TestSweepHeldNetwork: a killed run's network the engine will not remove
// (here: someone's container still holds it) is tried once per sweep and
// never waited for, and named once, with the container and what frees it;
// later sweeps try again (it may have been freed) and say nothing.
func TestSweepHeldNetwork(t *testing.T) {
	b := testBackend(t, Options{})
	run, netID, _ := heldRun(t, b)
	net := networkName(run)
	rec := &logRecorder{t: t}

	for sweep := 1; sweep <= 2; sweep++ {
		before := removeAttempts(netID)
		b.RemoveAbandoned(t.Context(), rec.logf)
		attempts := removeAttempts(netID) - before
		lines := rec.take()
		named := mentioning(lines, net)
		t.Logf("sweep %d: %d attempts to remove %s", sweep, attempts, net)

		left, err := b.Leftovers(t.Context(), run)
		require.NoError(t, err)
		assert.Equal(t, []string{"network " + net}, left, "sweep %d: the network cannot be removed while the container holds it", sweep)
		assert.Equal(t, int64(1), attempts, "sweep %d tries once, and does not wait", sweep)
		if sweep == 1 {
			if assert.Len(t, named, 1, "sweep 1 names %s once", net) {
				assert.Contains(t, named[0], "held by containers that are not of its run", "and says why")
				assert.Contains(t, named[0], "docker network disconnect -f", "and what frees it")
			}
		} else {
			// The run's ID is in its network's name: this is every line about either.
			assert.Empty(t, mentioning(lines, run), "sweep %d says nothing of run %s again", sweep, run)
		}
	}
}

// TestRemoveRunHeldNetwork: RemoveRun gives up on a network the engine
// keeps refusing within its patience, naming the container that holds it;
// once the network is free it is removed.
func TestRemoveRunHeldNetwork(t *testing.T) {
	b := testBackend(t, Options{})
	run, netID, holder := heldRun(t, b)
	net := networkName(run)

	err := b.RemoveRun(t.Context(), run, t.Logf)
	attempts := removeAttempts(netID)
	t.Logf("RemoveRun: %d attempts: %v", attempts, err)
	require.Error(t, err)
	assert.NotErrorIs(t, err, backend.ErrStuckNetwork, "a held network is not the engine's bug")
	if he, ok := errors.AsType[*HeldNetworkError](err); assert.True(t, ok, "a *HeldNetworkError in %v", err) {
		assert.Equal(t, net, he.Name)
		assert.Equal(t, netID, he.ID)
		assert.Len(t, he.Containers, 1, "the holder is named")
		assert.True(t, activeEndpoints(he.Err), "it wraps the engine's refusal: %v", he.Err)
	}
	// Its patience is 3 s, pauses growing by 250 ms and capped at what is
	// left: attempts at 0, 0.25, 0.75, 1.5, 2.5 and 3 s.
	assert.GreaterOrEqual(t, attempts, int64(2), "RemoveRun retries within its patience")
	assert.LessOrEqual(t, attempts, int64(6), "RemoveRun gives up within its patience")

	_, err = b.cli.NetworkDisconnect(t.Context(), netID, client.NetworkDisconnectOptions{Container: holder, Force: true})
	require.NoError(t, err, "detach the holder")
	require.NoError(t, b.RemoveRun(t.Context(), run, t.Logf), "the network is free")
	left, err := b.Leftovers(t.Context(), run)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// TestClassifyRefusal: a refusal with no container attached is the engine's
// bug (backend.ErrStuckNetwork, with the remedy); with containers attached
// it is not, and names them.
func TestClassifyRefusal(t *testing.T) {
	refusal := fmt.Errorf("error while removing network: network n id x has active endpoints: %w", cerrdefs.ErrPermissionDenied)
	stuck := classifyRefusal("abc", "meshtest-r", nil, refusal)
	assert.ErrorIs(t, stuck, backend.ErrStuckNetwork)
	assert.ErrorContains(t, stuck, "only a daemon restart clears")
	held := classifyRefusal("abc", "meshtest-r", []string{"b", "a"}, refusal)
	assert.NotErrorIs(t, held, backend.ErrStuckNetwork)
	assert.ErrorContains(t, held, "(a, b)")
}
