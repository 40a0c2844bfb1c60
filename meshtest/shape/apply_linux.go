package shape

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrEgressLatency is returned by Apply for an Egress.Latency or
// Egress.Jitter: see the package documentation.
var ErrEgressLatency = errors.New("egress.latency: not supported: without netem a delay on the sender's output hook collapses TCP " +
	"(TCP Small Queues stops the socket while its packets wait), and the netem path is not built yet; " +
	"set the receiving peer's ingress.latency instead (the delay of A→B is applied at B's input)")

// Shaper is Rules in force on one interface of the current network
// namespace. Its delay lines run in this process: Close (or the process's
// exit) stops them. Its methods may be called from any goroutine, but the
// netlink sockets Update opens belong to the namespace of the calling
// thread, so call it from the namespace ApplyRules was called in.
type Shaper struct {
	Iface string
	// Shape is the Shape given to Apply; zero when ApplyRules made the
	// Shaper.
	Shape Shape

	// upd serialises Update and Close, which may wait out delays; mu
	// guards what the readers (Stats, Rules, …) see, and is held briefly.
	upd     sync.Mutex
	link    netlink.Link
	nft     nftTables
	egress  htbTree
	ingress ingressIFB
	closed  bool
	err     error // Close's

	mu      sync.Mutex
	rules   Rules
	classes []*classLine // in force, in the order of the plan
	retired DelayStats   // summed counters of the classes Update and Close closed
}

// classLine is one delay class in force and its delay line.
type classLine struct {
	key     delayKey
	queue   uint16
	sources int
	rest    bool
	line    *delayLine
}

// Apply shapes iface in the current network namespace with s, as
// ApplyRules(iface, s.Rules()) does, and refuses Egress.Latency and
// Egress.Jitter (ErrEgressLatency).
func Apply(iface string, s Shape) (*Shaper, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("shape %s: %w", iface, err)
	}
	if s.Egress.Latency != 0 || s.Egress.Jitter != 0 {
		return nil, fmt.Errorf("shape %s: %w", iface, ErrEgressLatency)
	}
	sh, err := ApplyRules(iface, s.Rules())
	if err != nil {
		return nil, err
	}
	sh.Shape = s
	return sh, nil
}

// ApplyRules puts r in force on iface in the current network namespace:
// HTB on its egress for EgressRate and the To rules, an IFB device with HTB
// for IngressRate, nftables rules for EgressLoss and the From rules' cuts
// and loss, and a delay line per delay class. It first removes any shape
// left on iface (see Remove). On error everything it added is removed again
// and the returned Shaper is nil.
//
// One interface per network namespace is shaped: the nftables table and the
// NFQUEUE numbers are the namespace's, so a second ApplyRules replaces the
// first's rules. A node has one interface, so this is no limit for meshtest.
func ApplyRules(iface string, r Rules) (*Shaper, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("shape %s: %w", iface, err)
	}
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("shape %s: %w", iface, err)
	}
	if err := Remove(iface); err != nil {
		return nil, fmt.Errorf("shape %s: clear previous shape: %w", iface, err)
	}
	sh := &Shaper{Iface: iface, link: l}
	if err := sh.update(r); err != nil {
		return nil, errors.Join(fmt.Errorf("shape %s: %w", iface, err), sh.Close())
	}
	return sh, nil
}

// Update replaces the rules in force with r, under traffic: delay lines for
// new classes start first, the nftables rules are swapped in one
// transaction (a packet meets the old rules or the new, and none is dropped
// by the swap), then the lines of classes r no longer has are closed once
// the packets they hold are due, so Update can take as long as the longest
// delay removed. Classes r keeps keep their line and their queue. HTB
// classes change in place; an IFB is added or removed as IngressRate needs.
// A source moved to a shorter delay may see its packets reordered once,
// across the swap. Update(Rules{}) removes every rule; the Shaper stays
// usable.
//
// If r is invalid nothing changes. On any other error part of r may be in
// force; Update again or Close.
func (sh *Shaper) Update(r Rules) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("shape %s: %w", sh.Iface, err)
	}
	sh.upd.Lock()
	defer sh.upd.Unlock()
	if sh.closed {
		return fmt.Errorf("shape %s: update: the shaper is closed", sh.Iface)
	}
	if err := sh.update(r); err != nil {
		return fmt.Errorf("shape %s: %w", sh.Iface, err)
	}
	return nil
}

func (sh *Shaper) update(r Rules) error {
	plan := compileFrom(r.From)
	old := map[delayKey]*classLine{}
	used := map[uint16]bool{}
	for _, c := range sh.classes {
		old[c.key], used[c.queue] = c, true
	}
	// The listeners come first: a queued packet with no listener is dropped.
	var classes, started []*classLine
	stopStarted := func() {
		for _, c := range started {
			c.line.Close()
		}
	}
	for _, pc := range plan.classes {
		c := &classLine{key: pc.key, sources: len(pc.src), rest: pc.rest}
		if o, ok := old[pc.key]; ok {
			c.queue, c.line = o.queue, o.line
			delete(old, pc.key)
		} else {
			c.queue = QueueNum
			for used[c.queue] {
				c.queue++
			}
			used[c.queue] = true
			line, err := startDelayLine(c.queue, pc.key.Latency, pc.key.Jitter)
			if err != nil {
				stopStarted()
				return fmt.Errorf("delay class %v±%v: %w", pc.key.Latency, pc.key.Jitter, err)
			}
			c.line = line
			started = append(started, c)
		}
		classes = append(classes, c)
	}
	queues := make([]uint16, len(classes))
	for i, c := range classes {
		queues[i] = c.queue
	}
	content := nftContent{iface: sh.Iface, ifindex: sh.link.Attrs().Index, egressLoss: r.EgressLoss, from: plan, queues: queues}
	if err := sh.nft.swap(content); err != nil {
		stopStarted()
		return err
	}
	sh.mu.Lock()
	sh.classes = classes
	sh.mu.Unlock()
	retired := closeLines(old)
	sh.mu.Lock()
	sh.retired = sh.retired.add(retired)
	sh.mu.Unlock()
	if len(classes) == 0 {
		// No line holds a packet any more: unused tables can go.
		if err := sh.nft.prune(content); err != nil {
			return err
		}
	}
	if err := sh.egress.setEgress(sh.link, r.EgressRate, r.To); err != nil {
		return fmt.Errorf("egress: %w", err)
	}
	if err := sh.ingress.set(sh.link, r.IngressRate); err != nil {
		return fmt.Errorf("ingress_rate: %w", err)
	}
	sh.mu.Lock()
	sh.rules = r
	sh.mu.Unlock()
	return nil
}

// closeLines closes the lines concurrently, so that the wait is the
// longest delay rather than their sum, and returns their counters summed.
func closeLines(lines map[delayKey]*classLine) DelayStats {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sum DelayStats
	for _, c := range lines {
		wg.Go(func() {
			err := c.line.Close()
			st := c.line.Stats()
			if err != nil {
				st.Errors++
				st.LastError = "close: " + err.Error()
			}
			mu.Lock()
			sum = sum.add(st)
			mu.Unlock()
		})
	}
	wg.Wait()
	return sum
}

// Rules returns the rules in force.
func (sh *Shaper) Rules() Rules {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.rules
}

// Mechanism returns what delays packets: DelayLine, or "" when no rule in
// force adds delay.
func (sh *Shaper) Mechanism() Mechanism {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.classes) == 0 {
		return ""
	}
	return DelayLine
}

// Stats returns the delay lines' counters summed, since ApplyRules: those
// of the classes in force and of those Update closed.
func (sh *Shaper) Stats() DelayStats {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.retired
	for _, c := range sh.classes {
		s = s.add(c.line.Stats())
	}
	return s
}

// DelayClasses returns the counters of each delay class in force.
func (sh *Shaper) DelayClasses() []DelayClassStats {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]DelayClassStats, len(sh.classes))
	for i, c := range sh.classes {
		out[i] = DelayClassStats{Latency: c.key.Latency, Jitter: c.key.Jitter, Queue: c.queue,
			Sources: c.sources, Rest: c.rest, DelayStats: c.line.Stats()}
	}
	return out
}

// Close removes every rule. The nftables rules go first, so no new packet
// enters a delay line; the packets the lines hold are then released at
// their due time (Close waits up to the longest Latency+Jitter), not
// dropped; then the tables, the qdiscs and the IFB device go. Close is idempotent;
// Stats still work after it.
func (sh *Shaper) Close() error {
	sh.upd.Lock()
	defer sh.upd.Unlock()
	if sh.closed {
		return sh.err
	}
	sh.closed = true
	// Emptying the chains stops new packets without dropping held ones;
	// Remove deletes the tables once the lines are drained.
	var errs []error
	if err := sh.nft.swap(nftContent{iface: sh.Iface}); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, err) // ENOENT: the tables are gone already (Remove ran)
	}
	lines := map[delayKey]*classLine{}
	for _, c := range sh.classes {
		lines[c.key] = c
	}
	st := closeLines(lines)
	if st.Errors > 0 && st.LastError != "" {
		errs = append(errs, fmt.Errorf("stop delay lines: %s", st.LastError))
	}
	sh.mu.Lock()
	sh.retired, sh.classes, sh.rules = sh.retired.add(st), nil, Rules{}
	sh.mu.Unlock()
	if err := Remove(sh.Iface); err != nil {
		errs = append(errs, err)
	}
	sh.nft, sh.egress, sh.ingress = nftTables{}, htbTree{}, ingressIFB{}
	sh.err = errors.Join(errs...)
	return sh.err
}

// Remove deletes every trace of this package from iface in the current
// network namespace, and nothing else: the nftables tables named TableName,
// an HTB root qdisc with handle 6d73:, and the IFB device mtshape<ifindex>
// with the ingress qdisc that feeds it. It is what a helper runs after a
// crash, and it is a no-op on an unshaped interface. A delay line still
// running in this process loses its feed; its held packets are dropped when
// it closes.
func Remove(iface string) error {
	var errs []error
	if c, err := nftables.New(); err != nil {
		errs = append(errs, fmt.Errorf("nftables: %w", err))
	} else if err := delNFT(c); err != nil {
		errs = append(errs, err)
	}
	l, err := netlink.LinkByName(iface)
	if err != nil {
		errs = append(errs, fmt.Errorf("remove shape from %s: %w", iface, err))
		return errors.Join(errs...)
	}
	if err := delHTB(l); err != nil {
		errs = append(errs, err)
	}
	if err := removeIFB(l); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove shape from %s: %w", iface, errors.Join(errs...))
	}
	return nil
}
