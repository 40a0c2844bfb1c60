package shape

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
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

	in, out, errs   atomic.Uint64
	lateSum, lateMx atomic.Int64
	lastErr         atomic.Pointer[string]
}

// queueLen bounds the packets held at once, in the kernel and in ch: at
// 100 ms and 1 Gbit/s of full-size packets that is 8,300 packets, so 65,536
// is ample; beyond it the kernel drops (the queue is not bypassed).
const queueLen = 1 << 16

// startDelayLine binds NFQUEUE number queue in the current network namespace.
// Packets reach it only once a rule sends them there.
func startDelayLine(queue uint16, latency, jitter time.Duration) (*delayLine, error) {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      queue,
		MaxQueueLen:  queueLen,
		Copymode:     nfqueue.NfQnlCopyMeta,
		Flags:        nfqueue.NfQaCfgFlagGSO, // hand over GSO super-packets whole, not segmented
		WriteTimeout: 50 * time.Millisecond,
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
		nf: nf, latency: latency, jitter: jitter,
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
		d := latency
		if jitter > 0 {
			d += time.Duration(rng.Int64N(int64(2*jitter)+1)) - jitter
		}
		// Never reorder: a packet is not released before the one ahead of it.
		// This keeps TCP from seeing reordering as loss, at the cost of
		// one-sided jitter under load.
		rel := now.Add(d)
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
		return nil, fmt.Errorf("register nfqueue %d: %w", queue, err)
	}
	ready := make(chan error, 1)
	go l.release(ready)
	if err := <-ready; err != nil {
		cancel()
		nf.Close()
		return nil, err
	}
	return l, nil
}

func (l *delayLine) fail(what string, err error) {
	l.errs.Add(1)
	s := what + ": " + err.Error()
	l.lastErr.Store(&s)
}

// release accepts held packets when they are due. It waits on a blocking
// timerfd on its own thread: Go timers wake through the netpoller, which
// waits in whole milliseconds and would add up to 1 ms to every delay.
func (l *delayLine) release(ready chan<- error) {
	defer close(l.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		ready <- fmt.Errorf("delay line: timerfd: %w", err)
		return
	}
	defer unix.Close(tfd)
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
		for {
			if _, err := unix.Read(tfd, buf[:]); err != unix.EINTR {
				return
			}
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
	}
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
	})
	return l.closeErr
}

// discardLogger silences go-nfqueue, which logs its normal shutdown as an
// error; failures reach DelayStats instead.
type discardLogger struct{}

func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Errorf(string, ...any) {}
