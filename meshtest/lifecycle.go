package meshtest

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/metrics"
)

// interrupts removes every live mesh of the process when it is told to
// stop. Signals are process-wide, so this is too: a Go test binary killed by
// SIGINT or SIGTERM runs no t.Cleanup, and a mesh left behind would hold
// ~100 containers. After the removal the signal is delivered again with the
// default action, so the process still dies of it.
var interrupts struct {
	sync.Mutex
	meshes map[*Mesh]bool
	ch     chan os.Signal
}

// watchInterrupts registers m for removal on SIGINT/SIGTERM and returns the
// function that unregisters it. Meshes register before they create
// anything, so a signal at any moment of bring-up stops it and removes what
// it made. SIGINT is caught even where the process was started ignoring it
// (a non-interactive shell's background job): no terminal's Ctrl-C reaches
// such a job, so a SIGINT it gets is someone's `kill -INT`, meant to stop
// it, and the mesh must go with it.
func watchInterrupts(m *Mesh) (unwatch func()) {
	interrupts.Lock()
	defer interrupts.Unlock()
	if interrupts.meshes == nil {
		interrupts.meshes = map[*Mesh]bool{}
		interrupts.ch = make(chan os.Signal, 2)
		signal.Notify(interrupts.ch, syscall.SIGINT, syscall.SIGTERM)
		go handleInterrupt()
	}
	interrupts.meshes[m] = true
	return func() {
		interrupts.Lock()
		delete(interrupts.meshes, m)
		interrupts.Unlock()
	}
}

// handleInterrupt removes the live meshes, then dies of the signal. The
// process must die *before* anything waiting on a removal goes on: the
// test's own cleanup may be waiting on the same mesh's close, and once it
// returned the test binary would exit with status 1, not of the signal. So
// each mesh's close ends in a hook that never returns, and the last one to
// get there re-raises the signal.
func handleInterrupt() {
	sig := <-interrupts.ch
	interrupts.Lock()
	var live []*Mesh
	for m := range interrupts.meshes {
		live = append(live, m)
	}
	interrupts.Unlock()
	fmt.Fprintf(os.Stderr, "meshtest: %v: removing %d mesh(es) before exiting (%v again to exit at once; the next run then sweeps what is left)\n", sig, len(live), sig)
	removed := make(chan struct{})
	var left sync.WaitGroup
	left.Add(len(live))
	go func() {
		left.Wait()
		close(removed)
	}()
	for _, m := range live {
		go func() {
			m.onTeardown(func() {
				left.Done()
				select {} // hold this close (and whoever waits on it) until the process dies
			})
			m.abort(fmt.Errorf("interrupted by %v", sig))
		}()
	}
	select {
	case <-removed:
	case <-interrupts.ch: // again: exit at once
	}
	dieOf(sig)
}

// dieOf ends the process by sig with its default action, as if meshtest had
// never caught it; where the process was started ignoring sig, Reset
// restores that, and the process exits with the shell's code for it
// (128 + the signal's number) instead.
func dieOf(sig os.Signal) {
	signal.Reset(sig)
	p, _ := os.FindProcess(os.Getpid())
	p.Signal(sig)
	time.Sleep(time.Second) // the signal is delivered asynchronously
	os.Exit(128 + int(sig.(syscall.Signal)))
}

// processStarted is when this package was initialised, before the testing
// package starts the alarm of -test.timeout: a deadline counted from it is
// never later than the real one. (Benchmarks run after testing stops that
// alarm; `go test` kills a benchmark a minute after its -timeout instead,
// with SIGQUIT, which runs no cleanup either. A guard counted from here
// fires a minute early for them: removing early is the safe side.)
var processStarted = time.Now()

// deadline is when `go test -timeout` kills the process: the test's own
// Deadline where it has one, else (benchmarks have none) the -test.timeout
// flag counted from the process's start, which is a minute early for a
// benchmark (see processStarted).
func deadline(t testing.TB) (time.Time, bool) {
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return tt.Deadline()
	}
	f := flag.Lookup("test.timeout")
	if f == nil {
		return time.Time{}, false
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil || d <= 0 {
		return time.Time{}, false
	}
	return processStarted.Add(d), true
}

// removalBudget is how long before the deadline the mesh is removed: this
// engine was measured removing 100 containers in 7 to 80 s, so 30 s and
// 800 ms a node, and 100 ms a node more for the logs a failed test saves
// first (the guard fails the test), for the mesh as it will be (a mesh
// still coming up counts at its full size).
func removalBudget(nodes int) time.Duration {
	return 30*time.Second + time.Duration(nodes)*900*time.Millisecond
}

// guardDeadline removes the mesh shortly before `go test -timeout` would
// kill the process, since a timed-out test binary runs no cleanups. It is
// armed before bring-up, so a mesh still coming up is stopped and removed
// too.
//
// Grow arms it again for the mesh's new size.
func (m *Mesh) guardDeadline(t testing.TB, nodes int) {
	end, ok := deadline(t)
	if !ok {
		return
	}
	budget := removalBudget(nodes + len(m.Config.Services) + 1)
	timer := time.AfterFunc(time.Until(end)-budget, func() {
		if m.isClosed.Load() {
			return
		}
		t.Errorf("meshtest: the test's -timeout expires in %v: removing mesh %s now so nothing is left behind", time.Until(end).Round(time.Second), m.Run)
		m.abort(fmt.Errorf("the -timeout of the test binary expires in %v", time.Until(end).Round(time.Second)))
	})
	m.mu.Lock()
	old := m.guard
	m.guard = timer
	m.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	m.onTeardown(func() { timer.Stop() })
}

// dial is how the harness opens a connection to a node: through the run
// when it says so (backend.Dialer: a swarm's gateway), else directly (nil).
func (m *Mesh) dial() metrics.DialFunc {
	if d, ok := m.run.(backend.Dialer); ok {
		return d.DialContext
	}
	return nil
}

// httpClient is the one client for the harness's own HTTP (readiness,
// convergence, services): no proxy from the environment, bounded times.
func (m *Mesh) httpClient() *http.Client {
	m.httpOnce.Do(func() {
		m.httpc = metrics.NewClientVia(m.dial())
		m.longc = &http.Client{Transport: m.httpc.Transport, CheckRedirect: m.httpc.CheckRedirect}
	})
	return m.httpc
}

// longClient is httpClient without its overall timeout, for requests that
// last as long as they must (a perf run, a subscription): their contexts
// bound them.
func (m *Mesh) longClient() *http.Client {
	m.httpClient()
	return m.longc
}
