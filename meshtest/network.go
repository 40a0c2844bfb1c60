package meshtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
)

// shaperSuffix names a node's network helper: "peer-007.shaper". Node
// names never hold a dot, so it cannot collide with one.
const shaperSuffix = ".shaper"

func shaperName(n *Node) string { return n.Name + shaperSuffix }

// shaper is the network helper of one node: meshshaper in the node's
// network namespace, with NET_ADMIN and nothing more, applying the rules
// compiled for the node.
type shaper struct {
	client *shape.Client
	rules  shape.Rules // in force, as last applied
}

// Shaping says how the mesh's links were conditioned and what calibration
// measured of them. Mesh.Shaping is nil for a perfect LAN.
type Shaping struct {
	// Mechanism is what delays packets: "nfqueue-delay-line" (user space,
	// see meshtest/shape), or "none" while nothing is delayed (a partition
	// alone drops packets with nftables; rates are HTB's).
	Mechanism string
	// Kernel is what the helpers found the kernel allows: "netem" where it
	// has sch_netem, else "nfqueue-delay-line". (The netem path is not
	// built: the delay line runs on either.)
	Kernel string
	// Calibration is what the self-check measured before the experiment,
	// pair by pair, and CalibrationDelayLine what the delay lines did and
	// cost meanwhile.
	Calibration          []Calibration
	CalibrationDelayLine *DelayLine
}

// Calibration is one pair's measured path against what was asked for.
type Calibration struct {
	From, To string
	// WantRTT is the configured round trip (both one-way delays); GotRTT
	// the median of the probes, sent from From's helper to To's.
	WantRTT, GotRTT time.Duration
	// WantLoss and GotLoss are round-trip loss fractions over Probes probes.
	WantLoss, GotLoss float64
	Probes            int
	// WantRate is the path's rate From→To less its forward loss, and
	// GotRate what a paced UDP flood arrived at, both in bit/s on the wire
	// (as HTB counts); 0 when the path has no rate and was not measured.
	WantRate, GotRate float64
	// Verdict is "ok", "mismatch" or "undecided" (too few probes to tell
	// a loss within a point), Mismatches what differs beyond tolerance.
	Verdict    string
	Mismatches []string
}

// shaping is a copy of m.Shaping, nil before any helper: a schedule's
// partition may make the first while Record samples.
func (m *Mesh) shaping() *Shaping {
	m.shapeMu.Lock()
	defer m.shapeMu.Unlock()
	if m.Shaping == nil {
		return nil
	}
	sh := *m.Shaping
	sh.Calibration = slices.Clone(sh.Calibration)
	if d := sh.CalibrationDelayLine; d != nil {
		c := *d
		sh.CalibrationDelayLine = &c
	}
	return &sh
}

// shapingNeeded reports whether the mesh needs helpers: conditions, or a
// cut in force.
func (m *Mesh) shapingNeeded() bool {
	m.faultMu.Lock()
	cuts := len(m.faults.cut) > 0
	m.faultMu.Unlock()
	return cuts || !m.Config.Conditions.IsZero()
}

// ensureShapers starts a helper beside every node that has none and waits
// until each answers. Every helper must report the same mechanism: a mesh
// is never half shaped.
func (m *Mesh) ensureShapers(ctx context.Context) error {
	m.shapeMu.Lock()
	defer m.shapeMu.Unlock()
	if m.shapers == nil {
		m.shapers = map[string]*shaper{}
		m.shapeToken = randomHex(16)
	}
	var todo []*Node
	for _, n := range m.Nodes {
		if m.shapers[n.Name] == nil && !m.isDown(n) {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	image, err := m.backend.HelperImage(ctx, m.logf)
	if err != nil {
		return fmt.Errorf("network helper image: %w", err)
	}
	begin := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.Config.Parallelism)
	var mu sync.Mutex
	for _, n := range todo {
		g.Go(func() error {
			u := backend.Unit{
				Name: shaperName(n), Role: "helper", Group: "meshshaper", Image: image,
				NetworkOf: n.Name,
				CapAdd:    []string{"NET_ADMIN"},
			}
			u.Args = []string{"-serve"}
			u.Env = map[string]string{"MESHSHAPER_TOKEN": m.shapeToken}
			if _, err := m.run.Start(gctx, u); err != nil {
				return fmt.Errorf("network helper of %s: %w", n.Name, err)
			}
			s := &shaper{client: shape.NewClient(net.JoinHostPort(n.IP, strconv.Itoa(shape.ControlPort)), m.shapeToken)}
			mech, err := m.awaitShaper(gctx, n, s)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if m.Shaping == nil {
				m.Shaping = &Shaping{Mechanism: "none", Kernel: mech}
			} else if m.Shaping.Kernel != mech {
				return fmt.Errorf("network helper of %s finds %s, the others %s: one mesh, one mechanism", n.Name, mech, m.Shaping.Kernel)
			}
			m.shapers[n.Name] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	note := "the kernel has sch_netem, but the netem path is not built: delay and jitter in user space"
	if m.Shaping.Kernel == string(shape.DelayLine) {
		note = "the kernel has no sch_netem: delay and jitter in user space"
	}
	m.logf("meshtest: network helpers beside %d nodes in %.1f s; %s (NFQUEUE delay line), rate with HTB, loss and cuts with nftables", len(todo), time.Since(begin).Seconds(), note)
	return nil
}

// awaitShaper waits until a node's helper answers, and returns the
// mechanism its kernel allows.
func (m *Mesh) awaitShaper(ctx context.Context, n *Node, s *shaper) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.client.Ready(ctx)
		if err == nil {
			return string(st.Kernel), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logs, _ := m.run.Logs(context.WithoutCancel(ctx), shaperName(n), 20)
			return "", fmt.Errorf("network helper of %s not ready within 30 s: %w\n--- last lines of %s ---\n%s", n.Name, err, shaperName(n), logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restartShaper restarts a node's helper after the node got a new network
// namespace or interface, so that it shapes the new one; reshape then gives
// it its rules again.
func (m *Mesh) restartShaper(ctx context.Context, n *Node) error {
	m.shapeMu.Lock()
	s := m.shapers[n.Name]
	m.shapeMu.Unlock()
	if s == nil {
		return nil
	}
	m.expectExit(shaperName(n))
	if err := m.run.Act(ctx, shaperName(n), backend.Restart); err != nil {
		return fmt.Errorf("restart network helper of %s: %w", n.Name, err)
	}
	fresh := &shaper{client: shape.NewClient(net.JoinHostPort(n.IP, strconv.Itoa(shape.ControlPort)), m.shapeToken)}
	if _, err := m.awaitShaper(ctx, n, fresh); err != nil {
		return err
	}
	m.shapeMu.Lock()
	m.shapers[n.Name] = fresh // no rules yet: reshape sends them all
	m.shapeMu.Unlock()
	return nil
}

// reshape compiles the conditions and the cuts in force into every node's
// rules and sends each helper the rules that changed.
func (m *Mesh) reshape(ctx context.Context) error {
	if !m.shapingNeeded() {
		m.shapeMu.Lock()
		none := m.shapers == nil
		m.shapeMu.Unlock()
		if none {
			return nil
		}
	}
	if err := m.ensureShapers(ctx); err != nil {
		return err
	}
	nodes := make([]conditions.Node, len(m.Nodes))
	byName := map[string]int{}
	m.addrMu.RLock()
	for i, n := range m.Nodes {
		addr, err := netip.ParseAddr(n.IP)
		if err != nil {
			m.addrMu.RUnlock()
			return fmt.Errorf("node %s: address %q: %w", n.Name, n.IP, err)
		}
		nodes[i] = conditions.Node{Index: n.Index, Name: n.Name, Role: n.Role, Group: n.Group, Addr: addr}
		byName[n.Name] = i
	}
	m.addrMu.RUnlock()
	cut := func(from, to string) bool { return m.isCut(byName[from], byName[to]) }
	rules, err := m.Config.Conditions.Compile(nodes, cut)
	if err != nil {
		return fmt.Errorf("Config.Conditions: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, n := range m.Nodes {
		if m.isDown(n) {
			// A killed node's helper sits in a dead namespace and a
			// disconnected one's has no interface: bringBack restarts it.
			if k := m.downKind(n); k != FaultPause {
				continue
			}
		}
		m.shapeMu.Lock()
		s := m.shapers[n.Name]
		m.shapeMu.Unlock()
		want := rules[n.Name]
		if s == nil || rulesEqual(s.rules, want) {
			continue
		}
		g.Go(func() error {
			applied, err := s.client.SetRules(gctx, want)
			if err != nil {
				return fmt.Errorf("shape %s: %w", n.Name, err)
			}
			m.shapeMu.Lock()
			s.rules = want
			if applied.Mechanism != "" {
				m.Shaping.Mechanism = string(applied.Mechanism)
			}
			m.shapeMu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// downKind is the fault that took n down, "" when it is up.
func (m *Mesh) downKind(n *Node) FaultKind {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	return m.faults.down[n.Name]
}

// rulesEqual compares two rule sets by value.
func rulesEqual(a, b shape.Rules) bool {
	return a.EgressRate == b.EgressRate && a.IngressRate == b.IngressRate && a.EgressLoss == b.EgressLoss &&
		slices.EqualFunc(a.To, b.To, func(x, y shape.RateRule) bool { return x.Rate == y.Rate && slices.Equal(x.Dst, y.Dst) }) &&
		slices.EqualFunc(a.From, b.From, func(x, y shape.PathRule) bool {
			return x.Latency == y.Latency && x.Jitter == y.Jitter && x.Loss == y.Loss && slices.Equal(x.Src, y.Src)
		})
}

// SetConditions changes the mesh's link conditions now (to none with the
// zero Conditions), calibrates the new network and records the change as
// an event: Inject(t, ChangeConditions(c)).
func (m *Mesh) SetConditions(t testing.TB, c conditions.Conditions) {
	t.Helper()
	m.Inject(t, ChangeConditions(c))
}

// changeConditions applies new conditions to every helper and calibrates
// the network they make.
func (m *Mesh) changeConditions(ctx context.Context, c conditions.Conditions, ev *Event) error {
	detail, _ := json.Marshal(c) // Conditions always encode, in the file's compact form
	ev.Detail = string(detail)
	m.Config.Conditions = c
	if err := m.reshape(ctx); err != nil {
		return err
	}
	ev.At = time.Now()
	if c.IsZero() {
		return nil
	}
	return m.calibrate(ctx)
}

var errNotShaped = errors.New("no network helper")
