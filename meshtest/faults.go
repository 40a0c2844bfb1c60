package meshtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// FaultKind names what a Fault does.
type FaultKind string

// The faults a mesh can be given. Those that take a node down (Kill, Stop,
// Pause, Disconnect) are planned: the node's absence is expected, its edges
// are expected to vanish, and the test does not fail for it. Those that
// bring it back (Start, Restart, Unpause, Connect, Heal) wait until the
// topology is proven again and say how long that took.
const (
	FaultKill       FaultKind = "kill"       // SIGKILL the node's process
	FaultStop       FaultKind = "stop"       // SIGTERM, then SIGKILL after the backend's grace
	FaultStart      FaultKind = "start"      // start a killed or stopped node again, same identity
	FaultRestart    FaultKind = "restart"    // stop and start again
	FaultPause      FaultKind = "pause"      // freeze the node's processes
	FaultUnpause    FaultKind = "unpause"    // thaw them
	FaultDisconnect FaultKind = "disconnect" // detach the node from the network
	FaultConnect    FaultKind = "connect"    // attach it again
	FaultPartition  FaultKind = "partition"  // cut Nodes from the rest of the mesh, both directions
	FaultCut        FaultKind = "cut"        // cut the link between two nodes, both directions
	FaultHeal       FaultKind = "heal"       // undo every partition and cut
	FaultReplace    FaultKind = "replace"    // remove the node, start a newcomer in its place: new identity, same name

	// EventConditions is the event of Mesh.SetConditions: not a fault,
	// but a change of the network the experiment runs on.
	EventConditions FaultKind = "conditions"
)

// Fault is one thing done to the mesh on purpose; Mesh.Inject does it.
type Fault struct {
	Kind FaultKind
	// Nodes are the nodes it acts on, by name: one or more for the node
	// faults, one side for FaultPartition, two for FaultCut, none for
	// FaultHeal and EventConditions.
	Nodes []string
	// Conditions are the new link conditions of EventConditions.
	Conditions *conditions.Conditions
}

// Kill, Stop, … build the Fault of that kind for the named nodes.
func Kill(nodes ...string) Fault       { return Fault{Kind: FaultKill, Nodes: nodes} }
func Stop(nodes ...string) Fault       { return Fault{Kind: FaultStop, Nodes: nodes} }
func Start(nodes ...string) Fault      { return Fault{Kind: FaultStart, Nodes: nodes} }
func Restart(nodes ...string) Fault    { return Fault{Kind: FaultRestart, Nodes: nodes} }
func Pause(nodes ...string) Fault      { return Fault{Kind: FaultPause, Nodes: nodes} }
func Unpause(nodes ...string) Fault    { return Fault{Kind: FaultUnpause, Nodes: nodes} }
func Disconnect(nodes ...string) Fault { return Fault{Kind: FaultDisconnect, Nodes: nodes} }
func Connect(nodes ...string) Fault    { return Fault{Kind: FaultConnect, Nodes: nodes} }
func Partition(side ...string) Fault   { return Fault{Kind: FaultPartition, Nodes: side} }
func Cut(a, b string) Fault            { return Fault{Kind: FaultCut, Nodes: []string{a, b}} }
func Heal() Fault                      { return Fault{Kind: FaultHeal} }
func Replace(nodes ...string) Fault    { return Fault{Kind: FaultReplace, Nodes: nodes} }

// ChangeConditions sets new link conditions (the zero value removes them)
// and calibrates the network they make: a change of the links mid-run,
// from a test or as a step of a schedule.
func ChangeConditions(c conditions.Conditions) Fault {
	return Fault{Kind: EventConditions, Conditions: &c}
}

func (f Fault) String() string {
	if f.Kind == EventConditions && f.Conditions != nil {
		if f.Conditions.IsZero() {
			return "conditions none"
		}
		return "conditions changed"
	}
	if len(f.Nodes) == 0 {
		return string(f.Kind)
	}
	return string(f.Kind) + " " + strings.Join(f.Nodes, ",")
}

// Event is a fault as it happened: when, what it did, and how long the mesh
// took to show it (Effect: the cut edges gone from every node's connections)
// and to recover from it (Recovered: the topology proven again).
type Event struct {
	// At is when the fault was in force: the engine's action done, or the
	// helpers' rules in place. Effect and Recovered count from it.
	At     time.Time
	Kind   FaultKind
	Nodes  []string
	Detail string
	// Effect is how long after the fault every edge it cut had vanished
	// from both ends; 0 when the fault cuts nothing or is not waited for
	// (Pause, Disconnect: the far ends notice only when their keepalive
	// fails, which may be never for an idle connection).
	Effect time.Duration
	// Recovered is how long after the fault the topology it restores was
	// proven again; 0 for faults that restore nothing.
	Recovered time.Duration
	// Recovery says what Effect and Recovered were proven by.
	Recovery string
}

// faultState is what faults have done to the mesh, guarded by faultMu.
type faultState struct {
	// down holds the nodes a fault took away, with the fault: their
	// absence, exit and silence are expected.
	down map[string]FaultKind
	// doubt are edges that may or may not be up: those of a paused or
	// disconnected node, which the far end drops only when its keepalive
	// fails. Drift ignores them.
	doubt map[topology.Edge]bool
	// returning are down nodes being started again: they dial their
	// neighbours before they are proven up, so their edges are in doubt.
	returning map[string]bool
	// cut are the directed paths a partition or cut drops, by node index.
	cut map[[2]int]bool
	// planned counts the exits of each unit that faults caused and the
	// watcher of unplanned exits has not yet seen.
	planned map[string]int
	events  []Event
	// gen counts each node's starts by a fault.
	gen map[string]int
	// timeline is the expected topology over time, for drift.
	timeline []expected
}

// expected is the topology the mesh should hold from a moment on.
type expected struct {
	at time.Time
	// graph holds the edges that must be up; doubt those that may be.
	graph topology.Graph
	doubt map[topology.Edge]bool
	// target is what the faults leave once in effect: graph itself,
	// but during a transition, where graph is only what the topologies
	// before and after have in common.
	target topology.Graph
	down   map[string]bool
}

// Inject does f to the mesh now, waits for its effect or its recovery
// (bounded by Config.ConvergeTimeout), records it as an Event (in the next
// recording's samples, charts and report) and returns it. A fault that
// cannot be done, or a mesh that does not recover, fails the test.
func (m *Mesh) Inject(t testing.TB, f Fault) Event {
	t.Helper()
	m.busy.Lock()
	defer m.busy.Unlock()
	if err := m.alive(); err != nil {
		t.Fatalf("meshtest: %s: %v", f, err)
	}
	ev, err := m.inject(m.ctx, f)
	if err != nil {
		t.Fatalf("meshtest: %s: %v", f, m.why(err))
	}
	return ev
}

// Events returns every fault done to the mesh so far, in order.
func (m *Mesh) Events() []Event {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	return slices.Clone(m.faults.events)
}

// inject is Inject without the test: the path of a schedule too. The caller
// holds busy.
func (m *Mesh) inject(ctx context.Context, f Fault) (Event, error) {
	nodes, err := m.faultNodes(f)
	if err != nil {
		return Event{}, err
	}
	ev := Event{At: time.Now(), Kind: f.Kind, Nodes: f.Nodes}
	m.logf("meshtest: fault: %s", f)
	switch f.Kind {
	case FaultKill, FaultStop:
		action := backend.Kill
		if f.Kind == FaultStop {
			action = backend.Stop
		}
		// Down before the engine acts: the far ends may see the loss at
		// once, and a sample then must find the edge in doubt.
		m.setDown(nodes, f.Kind)
		for _, n := range nodes {
			m.expectExit(n.Name)
			if err := m.run.Act(ctx, n.Name, action); err != nil {
				return ev, err
			}
		}
		ev.At = time.Now()
		err = m.awaitEffect(ctx, &ev)
	case FaultPause, FaultDisconnect:
		action := backend.Pause
		if f.Kind == FaultDisconnect {
			action = backend.Disconnect
		}
		m.setDown(nodes, f.Kind)
		for _, n := range nodes {
			if err := m.run.Act(ctx, n.Name, action); err != nil {
				return ev, err
			}
		}
		ev.At = time.Now()
		ev.Recovery = "not waited for: the far ends drop the node's connections only when their keepalive fails"
	case FaultStart, FaultRestart, FaultUnpause, FaultConnect:
		err = m.bringBack(ctx, f.Kind, nodes, &ev)
		if err == nil {
			err = m.awaitRecovery(ctx, &ev)
		}
		if f.Kind == FaultUnpause || f.Kind == FaultConnect {
			// The far end may have kept the connection through a short
			// absence; after a connect it may be dead (a new interface,
			// maybe a new address) until a keepalive drops it.
			ev.Recovery += "; a connection that outlived the absence counts as up"
		}
	case FaultPartition, FaultCut:
		m.setCut(f.Kind, nodes, true)
		if err = m.reshape(ctx); err == nil {
			ev.At = time.Now()
			err = m.awaitEffect(ctx, &ev)
		}
	case FaultReplace:
		err = m.replace(ctx, nodes, &ev)
		if err == nil {
			err = m.awaitRecovery(ctx, &ev)
		}
	case EventConditions:
		err = m.changeConditions(ctx, *f.Conditions, &ev)
	case FaultHeal:
		m.setCut(f.Kind, nil, false)
		if err = m.reshape(ctx); err == nil {
			ev.At = time.Now()
			err = m.awaitRecovery(ctx, &ev)
		}
	}
	if err == nil {
		m.settle()
	}
	m.faultMu.Lock()
	m.faults.events = append(m.faults.events, ev)
	m.faultMu.Unlock()
	switch {
	case err != nil:
	case ev.Recovered > 0:
		m.logf("meshtest: %s: recovered in %.2f s (%s)", f, ev.Recovered.Seconds(), ev.Recovery)
	case ev.Effect > 0:
		m.logf("meshtest: %s: in effect after %.2f s (%s)", f, ev.Effect.Seconds(), ev.Recovery)
	}
	return ev, err
}

// faultNodes checks f's nodes against the mesh and the fault's kind.
func (m *Mesh) faultNodes(f Fault) ([]*Node, error) {
	var out []*Node
	for _, name := range f.Nodes {
		n := m.node(name)
		if n == nil {
			return nil, fmt.Errorf("no node %q in mesh %s (nodes are bootstrap, peer-001 … peer-%03d)", name, m.Run, len(m.Nodes)-1)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("node %q named twice", name)
		}
		out = append(out, n)
	}
	switch f.Kind {
	case FaultKill, FaultStop, FaultStart, FaultRestart, FaultPause, FaultUnpause, FaultDisconnect, FaultConnect,
		FaultPartition, FaultCut, FaultHeal, FaultReplace:
	case EventConditions:
		if f.Conditions == nil || len(out) > 0 {
			return nil, errors.New("a change of conditions takes the new conditions and no nodes: use ChangeConditions")
		}
		if err := f.Conditions.Validate(); err != nil {
			return nil, fmt.Errorf("conditions: %w", err)
		}
		if m.Config.PublishPorts && !f.Conditions.IsZero() {
			return nil, errors.New("conditions: link conditions need the harness to reach each node's helper at the node's address, which published ports (Config.PublishPorts) do not give")
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown fault kind %q (want one of kill, stop, start, restart, replace, pause, unpause, disconnect, connect, partition, cut, heal, conditions)", f.Kind)
	}
	if f.Kind == FaultReplace {
		for _, n := range out {
			for j := range m.Nodes {
				if slices.Contains(m.Graph.Dials(j), n.Index) {
					return nil, fmt.Errorf("node %s is dialed by %s by its peer ID, so a newcomer in its place would never be found; restart it instead (same identity)", n.Name, m.Nodes[j].Name)
				}
			}
		}
	}
	switch want := f.Kind; {
	case want == FaultHeal && len(out) > 0:
		return nil, fmt.Errorf("heal takes no nodes: it undoes every partition and cut")
	case want == FaultCut && len(out) != 2:
		return nil, fmt.Errorf("cut takes two nodes, the ends of the link, not %d", len(out))
	case want == FaultPartition && (len(out) == 0 || len(out) == len(m.Nodes)):
		return nil, fmt.Errorf("partition takes one side: at least one node and not all %d", len(m.Nodes))
	case want != FaultHeal && len(out) == 0:
		return nil, fmt.Errorf("%s takes at least one node", want)
	}
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	for _, n := range out {
		why, isDown := m.faults.down[n.Name]
		switch f.Kind {
		case FaultKill, FaultStop, FaultPause, FaultDisconnect, FaultRestart, FaultReplace:
			if isDown {
				return nil, fmt.Errorf("node %s is already down (%s)", n.Name, why)
			}
		case FaultStart:
			if why != FaultKill && why != FaultStop {
				return nil, fmt.Errorf("node %s was not killed or stopped (start brings such a node back)", n.Name)
			}
		case FaultUnpause:
			if why != FaultPause {
				return nil, fmt.Errorf("node %s is not paused", n.Name)
			}
		case FaultConnect:
			if why != FaultDisconnect {
				return nil, fmt.Errorf("node %s is not disconnected", n.Name)
			}
		}
	}
	return out, nil
}

// node returns the node called name, or nil.
func (m *Mesh) node(name string) *Node {
	for _, n := range m.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// expectExit marks one exit of each unit as planned: the watcher of
// unplanned exits lets exactly that many pass, whenever the engine reports
// them (a restart's exit may be reported after the restart returns).
func (m *Mesh) expectExit(units ...string) {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if m.faults.planned == nil {
		m.faults.planned = map[string]int{}
	}
	for _, u := range units {
		m.faults.planned[u]++
	}
}

// consumeExit reports whether an exit of unit was planned, and uses up the
// plan.
func (m *Mesh) consumeExit(unit string) bool {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if m.faults.planned[unit] > 0 {
		m.faults.planned[unit]--
		return true
	}
	return false
}

// exitPending reports whether an exit of unit is planned and not yet seen.
func (m *Mesh) exitPending(unit string) bool {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	return m.faults.planned[unit] > 0
}

// isDown reports whether a fault took node n away.
func (m *Mesh) isDown(n *Node) bool {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	_, ok := m.faults.down[n.Name]
	return ok
}

// setDown records nodes as taken away by kind, and the topology expected
// without them.
func (m *Mesh) setDown(nodes []*Node, kind FaultKind) {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if m.faults.down == nil {
		m.faults.down = map[string]FaultKind{}
	}
	for _, n := range nodes {
		m.faults.down[n.Name] = kind
	}
	m.expectLocked(true)
}

// setCut adds (or, with cut false, clears) the paths a partition or cut
// drops.
func (m *Mesh) setCut(kind FaultKind, nodes []*Node, cut bool) {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if !cut {
		m.faults.cut = nil
		m.expectLocked(true)
		return
	}
	if m.faults.cut == nil {
		m.faults.cut = map[[2]int]bool{}
	}
	add := func(a, b int) { m.faults.cut[[2]int{a, b}] = true; m.faults.cut[[2]int{b, a}] = true }
	if kind == FaultCut {
		add(nodes[0].Index, nodes[1].Index)
	} else {
		side := map[int]bool{}
		for _, n := range nodes {
			side[n.Index] = true
		}
		for i := range m.Nodes {
			for j := range m.Nodes {
				if side[i] && !side[j] {
					add(i, j)
				}
			}
		}
	}
	m.expectLocked(true)
}

// isCut reports whether the path from node i to node j is dropped.
func (m *Mesh) isCut(i, j int) bool {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	return m.faults.cut[[2]int{i, j}]
}

// expectLocked appends the topology expected from now on: the mesh's graph
// without the edges of down nodes and cut paths. The edges of paused and
// disconnected nodes may linger (doubt). In a transition (a fault just
// done, its effect or recovery not yet proven) only the edges both the
// previous expectation and this one hold are certain, and those that
// differ are in doubt; settle ends the transition. The caller holds
// faultMu.
func (m *Mesh) expectLocked(transition bool) {
	g := topology.Graph{Name: m.Graph.Name + " (as faults left it)", N: m.Graph.N}
	ex := expected{at: time.Now(), doubt: map[topology.Edge]bool{}, down: map[string]bool{}}
	for name := range m.faults.down {
		ex.down[name] = true
	}
	for _, e := range m.Graph.Edges {
		kf, downF := m.faults.down[m.Nodes[e.From].Name]
		kt, downT := m.faults.down[m.Nodes[e.To].Name]
		cut := m.faults.cut[[2]int{e.From, e.To}] || m.faults.cut[[2]int{e.To, e.From}]
		switch {
		case cut:
		case downF || downT:
			if lingers(kf) || lingers(kt) || m.faults.returning[m.Nodes[e.From].Name] || m.faults.returning[m.Nodes[e.To].Name] {
				ex.doubt[e] = true
			}
		default:
			g.Edges = append(g.Edges, e)
		}
	}
	ex.target = g
	if n := len(m.faults.timeline); transition {
		prev := m.Graph
		if n > 0 {
			prev = m.faults.timeline[n-1].graph
		}
		was := map[topology.Edge]bool{}
		for _, e := range prev.Edges {
			was[e] = true
		}
		var both []topology.Edge
		for _, e := range g.Edges {
			if was[e] {
				both = append(both, e)
				delete(was, e)
			} else {
				ex.doubt[e] = true
			}
		}
		for e := range was {
			ex.doubt[e] = true
		}
		g = topology.Graph{Name: g.Name, N: g.N, Edges: both}
	}
	ex.graph = g
	m.faults.timeline = append(m.faults.timeline, ex)
}

// settle ends a transition: from now on the topology faults left is
// expected exactly.
func (m *Mesh) settle() {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	m.expectLocked(false)
}

// lingers reports whether the far end of a node taken away by kind keeps
// its connection until its keepalive fails.
func lingers(kind FaultKind) bool { return kind == FaultPause || kind == FaultDisconnect }

// expectedNow is the topology the faults done so far leave once in effect
// (what a fault's effect or recovery is proven against), and whether node
// i is down.
func (m *Mesh) expectedNow() (topology.Graph, func(i int) bool) {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if len(m.faults.timeline) == 0 {
		return m.Graph, func(int) bool { return false }
	}
	ex := m.faults.timeline[len(m.faults.timeline)-1]
	return ex.target, func(i int) bool { return ex.down[m.Nodes[i].Name] }
}

// awaitEffect waits until the expected topology holds: every edge the fault
// cut gone from both ends, and no other edge lost. Effect counts from ev.At.
func (m *Mesh) awaitEffect(ctx context.Context, ev *Event) error {
	took, err := m.awaitExpected(ctx, ev, "the cut edges did not vanish")
	ev.Effect = took
	ev.Recovery = "every other node connected to exactly its neighbours without the cut edges, by " + m.proofMethod()
	return err
}

// awaitRecovery waits until the expected topology holds again. Recovered
// counts from ev.At.
func (m *Mesh) awaitRecovery(ctx context.Context, ev *Event) error {
	took, err := m.awaitExpected(ctx, ev, "the mesh did not recover")
	ev.Recovered = took
	ev.Recovery = "every node up connected to exactly its neighbours in the topology, by " + m.proofMethod()
	return err
}

// awaitExpected proves the topology the faults leave and says how long
// after ev.At it held; failing, says what did not happen.
func (m *Mesh) awaitExpected(ctx context.Context, ev *Event, failing string) (time.Duration, error) {
	g, skip := m.expectedNow()
	_, err := m.prove(ctx, g, skip, m.Config.ConvergeTimeout, fmt.Sprintf("after %s %s, %s", ev.Kind, strings.Join(ev.Nodes, ","), failing))
	return time.Since(ev.At), err
}

// proofMethod says how connections are proven, for an Event's Recovery.
func (m *Mesh) proofMethod() string {
	var ways []string
	for _, n := range m.Nodes {
		if w := verification(n.spec); !slices.Contains(ways, w) {
			ways = append(ways, w)
		}
	}
	return strings.Join(ways, " and ")
}

// bringBack undoes what took nodes down: the engine's action, then the new
// address and the helper the node's new network namespace needs, then the
// shape of every node (whose rules name addresses).
func (m *Mesh) bringBack(ctx context.Context, kind FaultKind, nodes []*Node, ev *Event) error {
	action := map[FaultKind]backend.Action{FaultStart: backend.Start, FaultRestart: backend.Restart,
		FaultUnpause: backend.Unpause, FaultConnect: backend.Connect}[kind]
	// A node dials its neighbours as soon as it runs, long before it is
	// proven up: from the engine's action on, its edges are in doubt.
	m.setReturning(nodes, kind)
	for _, n := range nodes {
		if kind == FaultRestart {
			m.expectExit(n.Name)
		}
		if err := m.run.Act(ctx, n.Name, action); err != nil {
			return err
		}
	}
	// Recovery counts from the engine's action: the node's own time to
	// start and reconnect is what it measures.
	ev.At = time.Now()
	if kind != FaultUnpause {
		// Start and Restart give a node a new network namespace (and maybe
		// address), Connect a new interface: its helper's rules went with
		// the old one. It stays down, unsampled, until it answers again.
		if err := m.awaitUp(ctx, nodes); err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i, n := range nodes {
			wg.Go(func() { errs[i] = m.restartShaper(ctx, n) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	m.setUp(nodes, kind != FaultUnpause)
	return m.reshape(ctx)
}

// setReturning records nodes as on their way back: still down (not
// sampled; a restarted node is down from now on), their edges in doubt
// until setUp.
func (m *Mesh) setReturning(nodes []*Node, kind FaultKind) {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if m.faults.down == nil {
		m.faults.down = map[string]FaultKind{}
	}
	if m.faults.returning == nil {
		m.faults.returning = map[string]bool{}
	}
	for _, n := range nodes {
		if _, ok := m.faults.down[n.Name]; !ok {
			m.faults.down[n.Name] = kind
		}
		m.faults.returning[n.Name] = true
	}
	m.expectLocked(true)
}

// setUp records nodes as back, and the topology expected with them; anew
// says they were started again (a new address, a new cgroup), which tells
// Record to reopen their target and cost reader.
func (m *Mesh) setUp(nodes []*Node, anew bool) {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	if m.faults.gen == nil {
		m.faults.gen = map[string]int{}
	}
	for _, n := range nodes {
		delete(m.faults.down, n.Name)
		delete(m.faults.returning, n.Name)
		if anew {
			m.faults.gen[n.Name]++
		}
	}
	m.expectLocked(true)
}

// replace removes each node (and its helper) and starts a newcomer under
// its name and in its place in the topology, with a new identity: churn
// as a network sees it, where a peer that leaves is not the one that
// joins. A node others dial by its peer ID cannot be replaced: they
// would dial the old identity forever.
func (m *Mesh) replace(ctx context.Context, nodes []*Node, ev *Event) error {
	m.setDown(nodes, FaultReplace)
	for _, n := range nodes {
		m.shapeMu.Lock()
		helper := m.shapers[n.Name]
		delete(m.shapers, n.Name)
		m.shapeMu.Unlock()
		if helper != nil {
			m.expectExit(shaperName(n))
			if err := m.run.Act(ctx, shaperName(n), backend.Remove); err != nil {
				return err
			}
		}
		m.expectExit(n.Name)
		if err := m.run.Act(ctx, n.Name, backend.Remove); err != nil {
			return err
		}
	}
	ev.At = time.Now()
	if err := m.awaitEffect(ctx, ev); err != nil {
		return err
	}
	m.settle() // gone for good: until the newcomer starts, exactly without it
	m.setReturning(nodes, FaultReplace)
	old := make([]string, len(nodes))
	for i, n := range nodes {
		old[i] = n.PeerID
		n.key, n.PeerID = "", "" // a newcomer: assigned anew, or learned once it runs
	}
	if err := m.assignIdentities(); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := m.startNode(ctx, n.Index); err != nil {
			return err
		}
	}
	if err := m.awaitUp(ctx, nodes); err != nil {
		return err
	}
	ev.Detail = "new identities: "
	for i, n := range nodes {
		ev.Detail += fmt.Sprintf("%s %s → %s; ", n.Name, short(old[i]), short(n.PeerID))
	}
	ev.Detail = strings.TrimSuffix(ev.Detail, "; ")
	m.setUp(nodes, true)
	// A helper for each newcomer, and rules naming its address.
	return m.reshape(ctx)
}

// short is the tail of a peer ID, enough to tell two apart in a log.
func short(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}

// awaitUp waits until the nodes run again and answer on their new address.
func (m *Mesh) awaitUp(ctx context.Context, nodes []*Node) error {
	deadline := time.Now().Add(m.Config.ConvergeTimeout)
	for {
		status, err := m.run.Status(ctx)
		if err != nil {
			return err
		}
		ok := true
		for _, n := range nodes {
			st := status[n.Name]
			if !st.Running || st.MetricsAddr == "" {
				ok = false
				continue
			}
			m.setAddr(n, st)
		}
		if ok {
			return m.awaitNodes(ctx, nodes2idx(nodes))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes %s not running again within %v", names(nodes), m.Config.ConvergeTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// setAddr records where node n is reached now: a restart or reconnect may
// give it a new address.
func (m *Mesh) setAddr(n *Node, st backend.Status) {
	m.addrMu.Lock()
	defer m.addrMu.Unlock()
	n.IP, n.MetricsURL, n.Engine = st.IP, "http://"+st.MetricsAddr, st.Engine
}

// engineOf is node n's Engine, read under addrMu.
func (m *Mesh) engineOf(n *Node) string {
	m.addrMu.RLock()
	defer m.addrMu.RUnlock()
	return n.Engine
}

// metricsURL is node n's MetricsURL, read under addrMu: a fault in a
// schedule may change it while Record samples.
func (m *Mesh) metricsURL(n *Node) string {
	m.addrMu.RLock()
	defer m.addrMu.RUnlock()
	return n.MetricsURL
}

func nodes2idx(nodes []*Node) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n.Index
	}
	return out
}

func names(nodes []*Node) string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = n.Name
	}
	return strings.Join(s, ", ")
}

// generation counts the times node n was started again by a fault: a new
// address, a new cgroup.
func (m *Mesh) generation(n *Node) int {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	return m.faults.gen[n.Name]
}

// timeline is a copy of the expected topology over time.
func (m *Mesh) timeline() []expected {
	m.faultMu.Lock()
	defer m.faultMu.Unlock()
	return slices.Clone(m.faults.timeline)
}

// degreeRange is how many connections node i may hold under ex: its degree
// in ex.graph, up to the edges in doubt that touch it.
func (ex *expected) degreeRange(i int) (lo, hi float64) {
	for _, e := range ex.graph.Edges {
		if e.From == i || e.To == i {
			lo++
		}
	}
	hi = lo
	for e := range ex.doubt {
		if e.From == i || e.To == i {
			hi++
		}
	}
	return lo, hi
}

// runSchedule injects the steps' faults at their times from start, in
// order, on its own goroutine, and reports on the returned channel when it
// is done. A failed step ends the window (cancel) with its error.
func (m *Mesh) runSchedule(ctx context.Context, start time.Time, steps []Step, cancel context.CancelCauseFunc) <-chan error {
	done := make(chan error, 1)
	if len(steps) == 0 {
		done <- nil
		return done
	}
	go func() {
		for i, st := range steps {
			select {
			case <-ctx.Done():
				done <- nil // the window's own end or error says why
				return
			case <-time.After(time.Until(start.Add(st.At))):
			}
			if _, err := m.inject(ctx, st.Fault); err != nil {
				err = fmt.Errorf("schedule step %d (%s at %v): %w", i, st.Fault, st.At, err)
				cancel(err)
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}
