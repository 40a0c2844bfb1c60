package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// Exits follows the engine's event stream, filtered to the run's containers
// and their die and oom events: a death is reported as the engine emits it,
// with no polling.
//
// Two engine details shape it. The engine answers the events request before
// it subscribes the caller, so a container that died in between would be
// missed: the request asks for the events since the moment Exits was called,
// which the engine replays from its log (its last 256 events) before the
// live ones, with no gap and no repeat. And the engine drops events for a
// subscriber that falls behind (once 1024 wait, it gives each 100 ms), so
// the stream is read at once into a queue that the receiver drains at its
// own pace. The moment is read on this host's clock: a remote engine whose
// clock runs behind could miss a death in the instant before it subscribes,
// one whose clock runs ahead could report deaths from just before the call.
func (r *run) Exits(ctx context.Context) (<-chan backend.Exit, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("exits of run %s: %w", r.id, err)
	}
	since := time.Now()
	filters := runFilter(r.id).Add("type", string(events.ContainerEventType)).
		Add("event", string(events.ActionDie), string(events.ActionOOM))
	res := r.b.cli.Events(ctx, client.EventsListOptions{
		Since:   eventsSince(since),
		Filters: filters,
	})
	out := make(chan backend.Exit)
	go r.followExits(ctx, res, out, oomGrace)
	return out, nil
}

// oomGrace is how long a death by SIGKILL waits for its container's oom
// event before it is reported as no OOM kill. The engine's oom event comes
// from containerd's watch of the cgroup, its die event from the process's
// exit, and the two race: measured on 20.10 with 6 busy loops on 2 cores,
// the oom event came after the die in 1 of 40 OOM kills (586 ms after) and
// never in 4 (containerd drops it when the cgroup is gone before it reads
// the notification; nothing can recover those, see Exit.OOMKilled). Idle,
// it came 21–49 ms before the die in 30 of 30.
const oomGrace = time.Second

// followExits turns the run's die and oom events into Exits on out, queued
// so that the engine's stream is never held up by the receiver, and closes
// out when ctx ends or, after an Exit that says why, when the stream fails.
// Deaths are reported in the engine's order; one by SIGKILL with no oom
// event yet is held for up to grace, and the deaths after it with it.
func (r *run) followExits(ctx context.Context, res client.EventsResult, out chan<- backend.Exit, grace time.Duration) {
	defer close(out)
	msgs, errs := res.Messages, res.Err
	type death struct {
		exit    backend.Exit
		id      string    // the container
		waitOOM time.Time // until when its oom event may still come; zero: ready
	}
	oom := map[string]bool{} // container ID -> an oom event came since its last death
	var (
		queue  []death
		failed error
		hold   = time.NewTimer(0)
	)
	defer hold.Stop()
	for {
		var (
			send chan<- backend.Exit
			next backend.Exit
		)
		if len(queue) > 0 {
			head := &queue[0]
			if head.waitOOM.IsZero() || !time.Now().Before(head.waitOOM) || failed != nil {
				send, next = out, head.exit
			} else {
				hold.Reset(time.Until(head.waitOOM))
			}
		} else if failed != nil {
			select {
			case out <- backend.Exit{At: time.Now(), Err: failed}:
			case <-ctx.Done():
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case send <- next:
			queue = queue[1:]
		case <-hold.C:
		case m := <-msgs:
			if m.Action == events.ActionOOM {
				if i := slices.IndexFunc(queue, func(d death) bool { return d.id == m.Actor.ID && !d.waitOOM.IsZero() }); i >= 0 {
					queue[i].exit.OOMKilled, queue[i].waitOOM = true, time.Time{}
					continue // the oom event of a death already queued
				}
				oom[m.Actor.ID] = true
				continue
			}
			if e, ok := exitOf(m); ok {
				e.OOMKilled = oom[m.Actor.ID]
				delete(oom, m.Actor.ID)
				d := death{exit: e, id: m.Actor.ID}
				if e.Code == 128+int(syscall.SIGKILL) && !e.OOMKilled {
					d.waitOOM = time.Now().Add(grace)
				}
				queue = append(queue, d)
			}
		case err := <-errs:
			if ctx.Err() != nil {
				return // the caller ended it: no error to report
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("the engine ended the stream")
			}
			failed = fmt.Errorf("exits of run %s: docker events: %w (deaths after this are not reported)", r.id, err)
			msgs, errs = nil, nil
		}
	}
}

// eventsSince is t as the events API reads a since or until: seconds and
// nanoseconds since the epoch.
func eventsSince(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// exitOf reads a die event of a unit's container; ok is false for a
// container that is not a unit (no node label).
func exitOf(m events.Message) (backend.Exit, bool) {
	name := m.Actor.Attributes[LabelNode]
	if m.Action != events.ActionDie || name == "" {
		return backend.Exit{}, false
	}
	code, _ := strconv.Atoi(m.Actor.Attributes["exitCode"])
	at := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		at = time.Unix(m.Time, 0)
	}
	return backend.Exit{Name: name, Code: code, At: at}, true
}
