package shape

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	mnl "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// held is one packet waiting in the delay line.
type held struct {
	id      uint32
	release time.Time
}

// delayLine holds the packets of one NFQUEUE and accepts each after its
// delay, in arrival order. The kernel queues only the packet ids
// (NfQnlCopyMeta): no payload is copied to user space.
type delayLine struct {
	nf              *nfqueue.Nfqueue
	latency, jitter time.Duration
	cancel          context.CancelFunc
	stop            chan struct{}
	done            chan struct{}
	ch              chan held
	closeOnce       sync.Once
	closeErr        error

	tsSock int // a socket asking for receive timestamps; see stampArrivals

	in, out, errs       atomic.Uint64
	lateSum, lateMx     atomic.Int64
	intakeSum, intakeMx atomic.Int64
	lastErr             atomic.Pointer[string]
}

// stampArrivals opens a socket with SO_TIMESTAMPNS, which makes the kernel
// stamp every packet it receives (on this whole machine: the switch is
// global) with its arrival time. The NFQUEUE messages then carry it, and a
// packet's delay counts from its arrival rather than from when this
// process got round to reading it: on a loaded machine the reader can be
// milliseconds late, which would otherwise add to every delay. The socket
// is never bound and only holds the switch on; -1 if it cannot be had.
func stampArrivals() int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

// maxIntake bounds the age a kernel timestamp may claim: beyond it the
// stamp is taken for a clock step and the packet as just arrived.
const maxIntake = time.Second

// queueLen bounds the packets held at once, in the kernel and in ch: at
// 100 ms and 1 Gbit/s of full-size packets that is 8,300 packets, so 65,536
// is ample; beyond it the kernel drops (the queue is not bypassed).
const queueLen = 1 << 16

// startDelayLine binds NFQUEUE number queue in the current network namespace.
// Packets reach it only once a rule sends them there.
func startDelayLine(queue uint16, latency, jitter time.Duration) (*delayLine, error) {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:     queue,
		MaxQueueLen: queueLen,
		Copymode:    nfqueue.NfQnlCopyMeta,
		Flags:       nfqueue.NfQaCfgFlagGSO, // hand over GSO super-packets whole, not segmented
		// A verdict is one small netlink write that the kernel takes at
		// once; the deadline only catches a dead socket. 50 ms was missed
		// when a loaded machine (a CI suite under -race on 2 cores) did not
		// schedule the writer in time, failing a verdict that would have
		// gone through.
		WriteTimeout: time.Second,
		Logger:       discardLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("open nfqueue %d: %w", queue, err)
	}
	// Without NoENOBUFS a burst that overflows the socket buffer makes
	// Receive fail; with it the kernel drops and carries on.
	if err := nf.SetOption(mnl.NoENOBUFS, true); err != nil {
		nf.Close()
		return nil, fmt.Errorf("nfqueue %d: set NoENOBUFS: %w", queue, err)
	}
	_ = nf.Con.SetReadBuffer(8 << 20) // best effort: capped by net.core.rmem_max

	l := &delayLine{
		nf: nf, latency: latency, jitter: jitter, tsSock: stampArrivals(),
		stop: make(chan struct{}), done: make(chan struct{}),
		ch: make(chan held, queueLen),
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6d73))
	var last time.Time // the receive callback runs on one goroutine: no lock needed
	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		now := time.Now()
		arrived := now
		if a.Timestamp != nil {
			// Both wall clock: the stamp is CLOCK_REALTIME.
			if age := now.Round(0).Sub(*a.Timestamp); age > 0 && age < maxIntake {
				arrived = now.Add(-age) // keeps now's monotonic reading
				l.intakeSum.Add(int64(age))
				if int64(age) > l.intakeMx.Load() {
					l.intakeMx.Store(int64(age))
				}
			}
		}
		d := latency
		if jitter > 0 {
			d += time.Duration(rng.Int64N(int64(2*jitter)+1)) - jitter
		}
		// Never reorder: a packet is not released before the one ahead of it.
		// This keeps TCP from seeing reordering as loss, at the cost of
		// one-sided jitter under load.
		rel := arrived.Add(d)
		if rel.Before(last) {
			rel = last
		}
		last = rel
		l.in.Add(1)
		l.ch <- held{id: *a.PacketID, release: rel}
		return 0
	}
	onErr := func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		l.fail("receive", err)
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, onErr); err != nil {
		cancel()
		nf.Close()
		l.closeStamp()
		return nil, fmt.Errorf("register nfqueue %d: %w", queue, err)
	}
	ready := make(chan error, 1)
	go l.release(ready)
	if err := <-ready; err != nil {
		cancel()
		nf.Close()
		l.closeStamp()
		return nil, err
	}
	return l, nil
}

func (l *delayLine) fail(what string, err error) {
	l.errs.Add(1)
	s := what + ": " + err.Error()
	l.lastErr.Store(&s)
}

// release accepts held packets when they are due. It waits on a timerfd
// read through the Go netpoller: the wake-up is the timer's event, exact to
// the kernel's timer, where a Go timer would round the netpoller's wait up
// to whole milliseconds. (A blocking read on a locked thread, the first
// design, holds a P while it waits, and with two delay lines on two CPUs
// starved the rest of the process for milliseconds at a time.)
func (l *delayLine) release(ready chan<- error) {
	defer close(l.done)
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		ready <- fmt.Errorf("delay line: timerfd: %w", err)
		return
	}
	timer := os.NewFile(uintptr(tfd), "timerfd") // non-blocking: polled, and closed with the file
	defer timer.Close()
	ready <- nil
	var buf [8]byte
	sleepUntil := func(t time.Time) {
		w := time.Until(t)
		if w <= 0 {
			return
		}
		its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(w))}
		if err := unix.TimerfdSettime(tfd, 0, &its, nil); err != nil {
			l.fail("timerfd", err)
			time.Sleep(w)
			return
		}
		if _, err := timer.Read(buf[:]); err != nil {
			l.fail("timerfd", err)
			time.Sleep(time.Until(t))
		}
	}
	late := func(h held) {
		d := int64(time.Since(h.release))
		l.lateSum.Add(d)
		if d > l.lateMx.Load() {
			l.lateMx.Store(d)
		}
	}
	for {
		var h held
		select {
		case h = <-l.ch:
		case <-l.stop:
			return
		}
		sleepUntil(h.release)
		late(h)
		// Release order equals arrival order, so one batch verdict for the
		// last due packet accepts every packet before it.
		lastID, n := h.id, uint64(1)
	drain:
		for {
			select {
			case h2 := <-l.ch:
				if time.Until(h2.release) > 0 {
					l.verdict(lastID, n)
					sleepUntil(h2.release)
					n = 0
				}
				late(h2)
				lastID, n = h2.id, n+1
			default:
				break drain
			}
		}
		l.verdict(lastID, n)
	}
}

func (l *delayLine) verdict(lastID uint32, n uint64) {
	if err := l.nf.SetVerdictBatch(lastID, nfqueue.NfAccept); err != nil {
		l.fail("verdict", err)
		return
	}
	l.out.Add(n)
}

// Stats returns the counters so far.
func (l *delayLine) Stats() DelayStats {
	s := DelayStats{
		Packets: l.in.Load(), Released: l.out.Load(), Errors: l.errs.Load(),
		MaxLate: time.Duration(l.lateMx.Load()),
	}
	if s.Packets > 0 {
		s.MeanLate = time.Duration(l.lateSum.Load() / int64(s.Packets))
		s.MeanIntake = time.Duration(l.intakeSum.Load() / int64(s.Packets))
	}
	s.MaxIntake = time.Duration(l.intakeMx.Load())
	if p := l.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	return s
}

// Close stops the delay line. The caller removes the rule that feeds it
// first; Close then waits out the longest delay so that every packet still
// held is released at its due time rather than dropped (unbinding the queue
// makes the kernel drop what is still queued).
func (l *delayLine) Close() error {
	l.closeOnce.Do(func() {
		time.Sleep(l.latency + l.jitter + 20*time.Millisecond)
		close(l.stop)
		<-l.done
		l.cancel()
		l.closeErr = l.nf.Close()
		l.closeStamp()
	})
	return l.closeErr
}

func (l *delayLine) closeStamp() {
	if l.tsSock >= 0 {
		unix.Close(l.tsSock)
		l.tsSock = -1
	}
}

// discardLogger silences go-nfqueue, which logs its normal shutdown as an
// error; failures reach DelayStats instead.
type discardLogger struct{}

func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Errorf(string, ...any) {}
