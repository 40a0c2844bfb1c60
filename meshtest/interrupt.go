package meshtest

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupts tears down every live mesh of the process when it is told to
// stop. Signals are process-wide, so this is too: a Go test binary killed by
// SIGINT or SIGTERM runs no t.Cleanup, and a mesh left behind would hold
// ~100 containers. After teardown the signal is delivered again with the
// default action, so the process still dies of it.
var interrupts struct {
	sync.Mutex
	meshes map[*Mesh]bool
	ch     chan os.Signal
}

// watchInterrupts registers m for teardown on SIGINT/SIGTERM and returns the
// function that unregisters it.
func watchInterrupts(m *Mesh) (unwatch func()) {
	interrupts.Lock()
	defer interrupts.Unlock()
	if interrupts.meshes == nil {
		interrupts.meshes = map[*Mesh]bool{}
		interrupts.ch = make(chan os.Signal, 1)
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

func handleInterrupt() {
	sig := <-interrupts.ch
	interrupts.Lock()
	var live []*Mesh
	for m := range interrupts.meshes {
		live = append(live, m)
	}
	interrupts.Unlock()
	fmt.Fprintf(os.Stderr, "meshtest: %v: removing %d mesh(es) before exiting\n", sig, len(live))
	var wg sync.WaitGroup
	for _, m := range live {
		wg.Go(m.close)
	}
	wg.Wait()
	signal.Stop(interrupts.ch)
	p, _ := os.FindProcess(os.Getpid())
	p.Signal(sig)
}
