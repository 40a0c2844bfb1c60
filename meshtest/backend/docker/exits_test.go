package docker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// nextExit waits up to within for the next value on exits.
func nextExit(t *testing.T, exits <-chan backend.Exit, within time.Duration) backend.Exit {
	t.Helper()
	select {
	case e, ok := <-exits:
		require.True(t, ok, "Exits closed early")
		require.NoError(t, e.Err)
		return e
	case <-time.After(within):
		t.Fatalf("no exit reported within %v", within)
		return backend.Exit{}
	}
}

// TestExits: every death of a unit is reported promptly with its code: a
// kill right after Exits returns, an exit of its own at start, a stop, an
// OOM kill (of the unit's child process: see the sleeper's hog); deaths of
// other runs are not; and the channel closes, with no error, when the
// context ends.
func TestExits(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	r := testRun(t, b, "exits")
	other := testRun(t, b, "exits-other")
	startUnit(t, r, sleeperUnit(img, "victim"))
	startUnit(t, r, sleeperUnit(img, "stopped"))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exits, err := r.Exits(ctx)
	require.NoError(t, err)

	// No pause between Exits and the death: the engine answers the events
	// request before it subscribes, which is where a death could be missed.
	begin := time.Now()
	require.NoError(t, r.Act(t.Context(), "victim", backend.Kill))
	e := nextExit(t, exits, 2*time.Second)
	t.Logf("kill reported %v after the kill began: %+v", time.Since(begin).Round(time.Millisecond), e)
	assert.Equal(t, "victim", e.Name)
	assert.Equal(t, 137, e.Code)
	assert.False(t, e.OOMKilled)
	assert.WithinDuration(t, time.Now(), e.At, 2*time.Second)

	startUnit(t, other, sleeperUnit(img, "elsewhere", "exit", "5"))
	startUnit(t, r, sleeperUnit(img, "quitter", "exit", "3"))
	e = nextExit(t, exits, 5*time.Second)
	assert.Equal(t, "quitter", e.Name, "only the run's units: %+v", e)
	assert.Equal(t, 3, e.Code, "the unit's own exit code")

	require.NoError(t, r.Act(t.Context(), "stopped", backend.Stop))
	e = nextExit(t, exits, 2*time.Second)
	assert.Equal(t, backend.Exit{Name: "stopped", Code: 0, At: e.At}, e, "the sleeper exits 0 on SIGTERM")

	hog := sleeperUnit(img, "hog", "hog")
	hog.MemoryBytes = 16 << 20
	startUnit(t, r, hog)
	e = nextExit(t, exits, 15*time.Second)
	assert.Equal(t, "hog", e.Name)
	assert.True(t, e.OOMKilled, "past its memory limit: %+v", e)
	assert.Equal(t, 137, e.Code)

	cancel()
	requireClosed(t, exits)
}

// requireClosed fails t unless exits closes, with nothing more on it,
// within 5 s: what Exits does once its context has ended.
func requireClosed(t *testing.T, exits <-chan backend.Exit) {
	t.Helper()
	select {
	case e, ok := <-exits:
		assert.False(t, ok, "nothing more after the context ended: %+v", e)
	case <-time.After(5 * time.Second):
		t.Fatal("Exits did not close when its context ended")
	}
}

// TestFollowExits: deaths queue while the receiver is away, none is lost,
// and a stream that fails ends with an Exit that carries the error after the
// deaths before it.
func TestFollowExits(t *testing.T) {
	msgs, errs := make(chan events.Message), make(chan error, 1)
	out := make(chan backend.Exit)
	r := &run{id: "follow"}
	go r.followExits(t.Context(), client.EventsResult{Messages: msgs, Err: errs}, out, time.Millisecond)

	die := func(id, name, code string) events.Message {
		return events.Message{Type: events.ContainerEventType, Action: events.ActionDie, TimeNano: time.Now().UnixNano(),
			Actor: events.Actor{ID: id, Attributes: map[string]string{LabelNode: name, "exitCode": code}}}
	}
	msgs <- die("c1", "a", "1")
	msgs <- events.Message{Type: events.ContainerEventType, Action: events.ActionOOM, Actor: events.Actor{ID: "c2"}}
	msgs <- die("c2", "b", "137")
	msgs <- die("c3", "", "0") // not a unit: no node label
	msgs <- die("c2", "b", "0")
	errs <- errors.New("connection reset")

	var got []backend.Exit
	for e := range out {
		got = append(got, e)
	}
	require.Len(t, got, 4, "%+v", got)
	assert.Equal(t, []string{"a", "b", "b", ""}, []string{got[0].Name, got[1].Name, got[2].Name, got[3].Name})
	assert.Equal(t, []int{1, 137, 0}, []int{got[0].Code, got[1].Code, got[2].Code})
	assert.Equal(t, []bool{false, true, false}, []bool{got[0].OOMKilled, got[1].OOMKilled, got[2].OOMKilled},
		"an oom event marks the next death of its container only")
	for _, e := range got[:3] {
		assert.NoError(t, e.Err)
	}
	assert.ErrorContains(t, got[3].Err, "connection reset")
	assert.ErrorContains(t, got[3].Err, "exits of run follow")
}

// TestFollowExitsWaitsForALateOOM: the engine can send a container's oom
// event after its die (measured: 586 ms after, under load). A death by
// SIGKILL waits up to the grace for it, the deaths after it wait with it so
// the order holds, and one whose oom never comes is reported as no OOM kill
// once the grace is over.
func TestFollowExitsWaitsForALateOOM(t *testing.T) {
	msgs := make(chan events.Message)
	out := make(chan backend.Exit, 3)
	r := &run{id: "late"}
	const grace = 300 * time.Millisecond
	go r.followExits(t.Context(), client.EventsResult{Messages: msgs, Err: make(chan error)}, out, grace)

	die := func(id, name, code string) events.Message {
		return events.Message{Type: events.ContainerEventType, Action: events.ActionDie, TimeNano: time.Now().UnixNano(),
			Actor: events.Actor{ID: id, Attributes: map[string]string{LabelNode: name, "exitCode": code}}}
	}
	begin := time.Now()
	msgs <- die("c1", "oomed", "137")
	msgs <- die("c2", "after", "1")
	msgs <- events.Message{Type: events.ContainerEventType, Action: events.ActionOOM, Actor: events.Actor{ID: "c1"}}
	msgs <- die("c3", "killed", "137")

	first, second := <-out, <-out
	assert.Equal(t, "oomed", first.Name)
	assert.True(t, first.OOMKilled, "the oom event that came after the die marks it: %+v", first)
	assert.Equal(t, "after", second.Name, "the death queued behind it keeps its place")
	assert.Less(t, time.Since(begin), grace, "released by its oom event, not by the grace")

	third := <-out
	assert.Equal(t, "killed", third.Name)
	assert.False(t, third.OOMKilled, "no oom event came within the grace: %+v", third)
	assert.GreaterOrEqual(t, time.Since(begin), grace, "held for the grace")
}
