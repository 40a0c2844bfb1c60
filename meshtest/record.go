package meshtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/metrics"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// Figures a Recording holds for every node. Container figures come from the
// cgroup, node figures from the node's own /metrics.
const (
	FigCPUCores   = "cpu_cores"     // cgroup CPU over the last interval, in cores (1 = one core busy)
	FigCPUSeconds = "cpu_seconds"   // cgroup CPU since the container started
	FigMemBytes   = "mem_bytes"     // cgroup memory minus inactive file cache, as `docker stats` shows
	FigMemRSS     = "mem_rss_bytes" // cgroup anonymous memory
	FigPIDs       = "pids"          // tasks in the cgroup
	FigNetRx      = "net_rx_bytes"  // received since start, all interfaces but lo
	FigNetTx      = "net_tx_bytes"
	FigGoroutines = "goroutines"       // go_goroutines
	FigHeapInuse  = "heap_inuse_bytes" // go_memstats_heap_inuse_bytes
	FigRSS        = "rss_bytes"        // process_resident_memory_bytes
	FigOpenFDs    = "open_fds"
	FigConns      = spec.FigureConnections // open libp2p connections (meshnode_connections)
	FigPeers      = "peers"                // connected peers (meshnode_peers)
	FigStreams    = "streams"
)

// Recording is what Record saw: every node's samples, and the facts of the
// mesh as it was when they were taken (a mesh that grows afterwards does not
// change them). Its embedded series.Table answers the questions tests ask
// (rec.Role("bootstrap").Mean("goroutines")).
type Recording struct {
	*series.Table
	Mesh   *Mesh          // the mesh recorded, which may have grown since
	Config Config         // the mesh's Config when recorded
	Graph  topology.Graph // the topology proven before the window
	// BringUp, Converge and Floor are the mesh's timings when recorded:
	// with Grow, those of the step that made this size.
	BringUp, Converge, Floor time.Duration
	FloorRemove              time.Duration // the raw engine's removal of the floor's containers

	Started  time.Time
	Duration time.Duration
	// CostSource says where container figures came from, and why not from
	// the cgroup files if it fell back: "cgroupfs", or
	// "docker-stats-api (cgroupfs: …)".
	CostSource string

	// HarnessCPU is this process's own CPU time while sampling: the cost of
	// measuring, which must stay small beside what is measured.
	HarnessCPU time.Duration
	// HarnessSysCPU is the part of HarnessCPU spent in the kernel.
	HarnessSysCPU time.Duration
	// HarnessHeapBytes is this process's Go heap in use at the window's end,
	// and HarnessPeakRSSBytes its peak resident memory so far (bring-up
	// included; the kernel's high-water mark, getrusage's maxrss).
	HarnessHeapBytes, HarnessPeakRSSBytes uint64
	// LateRounds counts rounds whose scrapes did not finish within one interval.
	LateRounds int
	// SampleStride is the rounds between two samples of one peer
	// (Config.SampleStride, as picked): 1 reads every node every round.
	// MetricsEvery is Config.MetricsEvery as applied.
	SampleStride, MetricsEvery int
	// Drift lists every sample whose connection count differed from the
	// topology's degree for that node.
	Drift []series.Violation
	// ScrapeErrors counts failed reads, by node. A read that misses its
	// interval on a loaded machine leaves a gap in the samples and is
	// tolerated; see Unresponsive.
	ScrapeErrors map[string]int
	// Unresponsive describes nodes that missed too many reads to be called
	// alive: 3 rounds in a row, more than a fifth of all rounds, or an exit.
	Unresponsive []string

	// Shaping is how the links were conditioned and calibrated (nil on a
	// perfect LAN), and DelayLine what the helpers' delay lines did and
	// cost during the window.
	Shaping   *Shaping
	DelayLine *DelayLine

	// Events are the faults done to the mesh up to the end of the window
	// (those before it too); those within it are also event rows of the
	// samples.
	Events []Event

	// WarmUp is what the mesh waited for before its first window.
	WarmUp *WarmUp

	// Gossip is what a gossip workload did (RecordGossip); nil otherwise.
	Gossip *GossipReport

	// Regression, when a test sets it (as Markdown, from regress.Report),
	// is shown in report.html.
	Regression string

	timeline     []expected        // the topology faults left, over time
	experiment   string            // the test or benchmark that recorded
	nodes        []nodeFact        // the nodes recorded, in topology order
	verification map[string]string // group -> how its connections were proven
	charts       []string          // file names written by WriteArtifacts
	svgs         map[string][]byte // its SVG charts by title, for report.html
}

// nodeFact is a node as it was when recorded.
type nodeFact struct {
	Index             int
	Name, Role, Group string
	Image             string
	Engine            string // on a backend of several: the engine that ran it
}

// PerConnection is a star's bootstrap figure beyond an average peer's, per
// connection the bootstrap holds: (bootstrap mean − peer mean) / n, with n
// the peers. It is the one definition of every per-connection figure a
// benchmark reports (B/conn, goroutines/conn, cpu-s/conn/s): subtracting a
// peer takes out what any node costs idle, so what remains is what the
// connections cost. NaN where either role has no sample of the figure.
func (r *Recording) PerConnection(figure string) float64 {
	boot, peer := r.Role("bootstrap"), r.Role("peer")
	if boot.Stats(figure).N == 0 || peer.Stats(figure).N == 0 || r.Config.Peers < 1 {
		return math.NaN()
	}
	return (boot.Mean(figure) - peer.Mean(figure)) / float64(r.Config.Peers)
}

// metricsEndpoint is the URL of node n's metrics for families: with name[]
// parameters where its spec says the endpoint honours them. The sampler's
// Target decodes only those families either way.
func (m *Mesh) metricsEndpoint(n *Node, families []string) string {
	u := m.metricsURL(n) + cmp.Or(n.spec.MetricsPath, "/metrics")
	if n.spec.FilterMetrics {
		u = metrics.FilterURL(u, families)
	}
	return u
}

// HarnessCPUPercent is HarnessCPU as a percentage of one core over the window.
func (r *Recording) HarnessCPUPercent() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return 100 * r.HarnessCPU.Seconds() / r.Duration.Seconds()
}

// Record samples every node each Config.Interval for d and returns what it
// saw. The topology must hold throughout: a node whose connection count
// leaves its degree, or that stops answering, fails the test (after the
// window, so the samples still reach the artifacts).
func (m *Mesh) Record(t testing.TB, d time.Duration) *Recording {
	t.Helper()
	return m.RecordSchedule(t, d)
}

// Step is one fault of a schedule: Fault is injected At after the start of
// the sampling window.
type Step struct {
	At    time.Duration
	Fault Fault
}

// RecordSchedule is Record with faults injected during the window, in
// order, each at its Step.At (a step starts no earlier than its At, and
// not before the one ahead of it has taken effect or recovered). Every
// fault is an event in the samples, charts and report; drift is judged
// against the topology each fault leaves (a partition's cut edges are
// expected to vanish, and only those), with the edges in transition while
// a fault takes effect or the mesh recovers left unjudged. Nodes a fault
// took down are not sampled while down.
func (m *Mesh) RecordSchedule(t testing.TB, d time.Duration, steps ...Step) *Recording {
	t.Helper()
	rec, err := m.record(d, t.Logf, steps)
	if rec != nil {
		rec.experiment = t.Name() // a sweep's sub-benchmark, not the test that made the mesh
	}
	if err != nil {
		t.Fatalf("meshtest: record: %v", err)
	}
	m.judge(t, rec)
	return rec
}

// judge fails the test, after the window, when the topology did not hold
// or a node stopped answering.
func (m *Mesh) judge(t testing.TB, rec *Recording) {
	t.Helper()
	if len(rec.Drift) > 0 {
		t.Errorf("meshtest: the topology did not hold during the window: %d samples differ from their degree, first: %s",
			len(rec.Drift), violationList(rec.Drift, 5))
	}
	if len(rec.Unresponsive) > 0 {
		t.Errorf("meshtest: nodes stopped answering during the window: %s", strings.Join(rec.Unresponsive, "; "))
	}
}

func violationList(vs []series.Violation, limit int) string {
	var parts []string
	for _, v := range vs[:min(limit, len(vs))] {
		parts = append(parts, v.String())
	}
	return strings.Join(parts, "; ")
}

func (m *Mesh) record(d time.Duration, logf func(string, ...any), steps []Step) (*Recording, error) {
	m.busy.Lock()
	defer m.busy.Unlock()
	if err := m.alive(); err != nil {
		return nil, err
	}
	interval := m.Config.Interval
	if d < interval {
		return nil, fmt.Errorf("duration %v is shorter than the sampling interval %v: nothing would be sampled", d, interval)
	}
	for i, st := range steps {
		switch {
		case st.At < 0 || st.At >= d:
			return nil, fmt.Errorf("step %d (%s) at %v: outside the window [0, %v)", i, st.Fault, st.At, d)
		case i > 0 && st.At < steps[i-1].At:
			return nil, fmt.Errorf("step %d (%s) at %v: before step %d at %v; order the steps by time", i, st.Fault, st.At, i-1, steps[i-1].At)
		}
	}
	// The schedule's errors end the window early, with their cause.
	ctx, cancelWindow := context.WithCancelCause(m.ctx)
	defer cancelWindow(nil)
	names := make([]string, len(m.Nodes))
	for i, n := range m.Nodes {
		names[i] = n.Name
	}
	if err := m.warmUpOnce(ctx, logf); err != nil {
		return nil, m.why(err)
	}
	cost, err := m.run.Cost(ctx, names)
	if err != nil {
		return nil, m.why(err)
	}
	defer cost.Close()
	if src := cost.Source(); src != "cgroupfs" {
		logf("meshtest: container figures from %s", src)
	}
	queries := make([][]metrics.Query, len(m.Nodes))
	targets := make([]*metrics.Target, len(m.Nodes))
	for i, n := range m.Nodes {
		queries[i] = n.spec.Queries()
		fams := metrics.FamilyNames(queries[i])
		if targets[i], err = metrics.NewTarget(m.metricsEndpoint(n, fams), fams...); err != nil {
			return nil, err
		}
		targets[i].Dial = m.dial()
	}
	defer func() {
		for _, tg := range targets {
			tg.Close()
		}
	}()
	// Scrapes give up within the interval, so one stuck node costs a missing
	// sample, not a late round for everyone.
	scrapeTimeout := interval * 9 / 10

	// A node a fault starts again gets a new address and a new cgroup: its
	// target and cost reader are made anew (gens tells when).
	gens := make([]int, len(m.Nodes))
	reopened := make([]backend.CostReader, len(m.Nodes))
	for i, n := range m.Nodes {
		gens[i] = m.generation(n)
	}
	defer func() {
		for _, c := range reopened {
			if c != nil {
				c.Close()
			}
		}
	}()
	costOf := func(i int) backend.CostReader {
		if c := reopened[i]; c != nil {
			return c
		}
		return cost
	}
	reopen := func(i int, n *Node) error {
		fams := metrics.FamilyNames(queries[i])
		tg, err := metrics.NewTarget(m.metricsEndpoint(n, fams), fams...)
		if err != nil {
			return err
		}
		tg.Dial = m.dial()
		c, err := m.run.Cost(ctx, []string{n.Name})
		if err != nil {
			tg.Close()
			return err
		}
		targets[i].Close()
		targets[i] = tg
		if reopened[i] != nil {
			reopened[i].Close()
		}
		reopened[i] = c
		return nil
	}

	rec := m.newRecording()
	rec.WarmUp = m.warmUp
	rec.Table.Interval = interval
	rec.CostSource = cost.Source()
	rounds := int(d / interval)
	peers := 0
	for _, n := range m.Nodes {
		if n.Role != "bootstrap" {
			peers++
		}
	}
	stride := m.Config.sampleStride(peers)
	metricsEvery := m.Config.metricsEvery((peers + stride - 1) / stride)
	rec.SampleStride, rec.MetricsEvery = stride, metricsEvery
	sampledIn := func(i, r int) bool { return readInRound(m.Nodes[i], r, stride) }
	how := ""
	if stride > 1 {
		how += fmt.Sprintf("; the %d peers in turn, each every %d rounds (-sample-stride)", peers, stride)
	}
	if metricsEvery > 1 && peers > 0 {
		how += fmt.Sprintf("; a peer's metrics endpoint every %d of its reads (-metrics-every)", metricsEvery)
	}
	logf("meshtest: sampling %d nodes every %v for %v (%d rounds)%s", len(m.Nodes), interval, d, rounds, how)
	prevCPU := make([]float64, len(m.Nodes))
	prevAt := make([]time.Time, len(m.Nodes))
	missedInARow := make([]int, len(m.Nodes))
	var mu sync.Mutex
	// Each target's first scrape opens its connection, and on a host that
	// has not talked to the node since its readiness check it may resolve
	// its neighbour entry anew: at 1000 nodes two such first contacts
	// outlasted the scrape timeout inside the window, each a late round and
	// a missed read. Pay them here, where a slow one costs nothing.
	primeTargets(ctx, targets, func(i int) bool { return !m.isDown(m.Nodes[i]) })
	// Bring-up leaves garbage that the runtime would collect and hand back to
	// the OS during the window, charging it to the sampler: settle it first.
	debug.FreeOSMemory()
	var line0 DelayLine
	if m.shaping() != nil {
		line0 = m.readDelayLine(ctx)
	}
	cpu0 := processCPU()
	rec.Started = time.Now()
	scheduleDone := m.runSchedule(ctx, rec.Started, steps, cancelWindow)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for round := range rounds {
		roundStart := time.Now()
		// One deadline for the round's cost reads, like the scrapes': on the
		// stats API fallback a busy daemon costs a sample, not a late round.
		// (cgroupfs reads ignore it; one context a round, not one a read.)
		roundCtx, cancelRound := context.WithTimeout(ctx, scrapeTimeout)
		elapsed := roundStart.Sub(rec.Started)
		sample := func(i int, n *Node, scrape bool) (series.Sample, bool) {
			if m.isDown(n) {
				return series.Sample{}, false // a fault took it away: its silence is expected
			}
			if g := m.generation(n); g != gens[i] {
				// Started again: a new address, and cgroup counters from zero.
				if err := reopen(i, n); err != nil {
					mu.Lock()
					rec.ScrapeErrors[n.Name]++
					mu.Unlock()
					return series.Sample{}, false
				}
				gens[i], prevAt[i] = g, time.Time{}
			}
			values := map[string]float64{}
			var serr error
			if scrape {
				var fams metrics.Families
				fams, serr = targets[i].Scrape(ctx, scrapeTimeout)
				if serr == nil {
					vals, _ := metrics.Extract(fams, queries[i])
					for k, v := range vals {
						values[k] = v
					}
				}
			}
			st, cerr := costOf(i).Read(roundCtx, n.Name)
			now := time.Now()
			if cerr == nil {
				m.exportCost(n, st)
			}
			if cerr == nil {
				values[FigCPUSeconds] = st.CPUSeconds
				values[FigMemBytes] = st.MemoryBytes
				values[FigMemRSS] = st.MemoryRSSBytes
				values[FigPIDs] = st.PIDs
				values[FigNetRx] = st.NetRxBytes
				values[FigNetTx] = st.NetTxBytes
				at := now
				if !st.At.IsZero() {
					at = st.At // the engine's sample time, not the read's
				}
				// A figure not taken anew since the last read (an
				// engine's stream between two of its samples) gives no
				// rate, rather than a zero and then a double.
				if !prevAt[i].IsZero() && at.After(prevAt[i]) {
					values[FigCPUCores] = (st.CPUSeconds - prevCPU[i]) / at.Sub(prevAt[i]).Seconds()
				}
				prevCPU[i], prevAt[i] = st.CPUSeconds, at
			}
			mu.Lock()
			defer mu.Unlock()
			if serr != nil || cerr != nil {
				rec.ScrapeErrors[n.Name]++
				missedInARow[i]++
				if missedInARow[i] == 3 {
					rec.Unresponsive = append(rec.Unresponsive, fmt.Sprintf("%s missed 3 rounds in a row from round %d (last error: %v)", n.Name, round-2, errors.Join(serr, cerr)))
				}
			} else {
				missedInARow[i] = 0
			}
			return series.Sample{Round: round, Elapsed: elapsed, Node: n.Name, Role: n.Role, Values: values}, true
		}
		var todo []int
		for i := range m.Nodes {
			if sampledIn(i, round) {
				todo = append(todo, i)
			}
		}
		// A few workers, each reading its share of the round in turn: the
		// cost of sampling is mostly per-request overhead, which a goroutine
		// per node and round only adds to, and so do idle threads woken
		// for a handful of nodes. A read takes a few hundred microseconds,
		// so one worker per 50 nodes (at most eight) ends a round within
		// tens of milliseconds.
		workers := min(8, max(1, (len(todo)+49)/50))
		var wg sync.WaitGroup
		perWorker := make([][]series.Sample, workers)
		for w := range workers {
			wg.Go(func() {
				for j := w; j < len(todo); j += workers {
					i := todo[j]
					if s, ok := sample(i, m.Nodes[i], scrapeIn(m.Nodes[i], round, stride, metricsEvery)); ok {
						perWorker[w] = append(perWorker[w], s)
					}
				}
			})
		}
		wg.Wait()
		cancelRound()
		for _, ss := range perWorker {
			rec.Samples = append(rec.Samples, ss...)
		}
		if ctx.Err() != nil {
			return rec, m.why(context.Cause(ctx))
		}
		if time.Since(roundStart) > interval {
			rec.LateRounds++
		}
		if round == rounds-1 {
			break
		}
		select {
		case <-ctx.Done():
			return rec, m.why(context.Cause(ctx))
		case <-ticker.C:
		}
	}
	rec.Duration = time.Since(rec.Started)
	if err := <-scheduleDone; err != nil {
		return rec, m.why(err)
	}
	used := processCPU().sub(cpu0)
	rec.HarnessCPU, rec.HarnessSysCPU = used.total(), used.sys
	rec.HarnessHeapBytes, rec.HarnessPeakRSSBytes = processMemory()
	if sh := m.shaping(); sh != nil {
		rec.Shaping = sh
		line := m.readDelayLine(ctx)
		line.Packets -= line0.Packets
		line.CPU -= line0.CPU
		rec.DelayLine = &line
	}
	for i, n := range m.Nodes {
		read := 0
		for r := range rounds {
			if sampledIn(i, r) {
				read++
			}
		}
		if k := rec.ScrapeErrors[n.Name]; k > read/5 && k > 1 {
			rec.Unresponsive = append(rec.Unresponsive, fmt.Sprintf("%s missed %d of the %d rounds it was read in", n.Name, k, read))
		}
	}
	if n, err := m.exited(ctx); err == nil && n != nil {
		rec.Unresponsive = append(rec.Unresponsive, fmt.Sprintf("%s exited%s", n.Name, m.lastLogs(ctx, n)))
	}
	rec.addEvents(m.Events())
	rec.Drift = rec.drift()
	if k := len(rec.ScrapeErrors); k > 0 && len(rec.Unresponsive) == 0 {
		logf("meshtest: %d nodes missed a read now and then (gaps in their samples, e.g. a scrape slower than the interval on a loaded machine): %v", k, rec.ScrapeErrors)
	}
	logf("meshtest: sampled %d rounds in %.1f s; harness CPU %.2f%% of one core (%.0f%% of it in the kernel), heap %.1f MB, peak RSS %.1f MB; %d late rounds",
		rounds, rec.Duration.Seconds(), rec.HarnessCPUPercent(), 100*rec.HarnessSysCPU.Seconds()/max(rec.HarnessCPU.Seconds(), 1e-9),
		float64(rec.HarnessHeapBytes)/1e6, float64(rec.HarnessPeakRSSBytes)/1e6, rec.LateRounds)
	return rec, nil
}

// primeTimeout bounds a target's first scrape before the window: long
// enough for a lost SYN's retransmission (1 s) and a second try.
const primeTimeout = 5 * time.Second

// primeTargets scrapes once every target whose node is up, a few at a
// time, so that each opens its connection before the window. A node that
// fails here is left for the window to count.
func primeTargets(ctx context.Context, targets []*metrics.Target, up func(i int) bool) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	for i, tg := range targets {
		if !up(i) {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			_, _ = tg.Scrape(ctx, primeTimeout)
		})
	}
	wg.Wait()
}

// readInRound says whether node n is read in round r at this stride: the
// peers (of any group) in turn, the bootstrap every round.
func readInRound(n *Node, r, stride int) bool {
	return stride <= 1 || n.Role == "bootstrap" || n.Index%stride == r%stride
}

// scrapeIn says whether node n, read in round r, has its metrics endpoint
// scraped too: the bootstrap every time, a peer every `every`-th of its
// reads, the peers staggered so that each round scrapes 1/every of those
// it reads.
func scrapeIn(n *Node, r, stride, every int) bool {
	if every <= 1 || n.Role == "bootstrap" {
		return true
	}
	read := r / max(stride, 1) // how many times n was read before this round
	return (read+n.Index)%every == 0
}

// cpuTime is CPU time spent by this process, split because most of the
// harness's cost is system time: each scrape crosses the kernel's network
// stack and each cgroup read is a system call.
type cpuTime struct{ user, sys time.Duration }

func (c cpuTime) total() time.Duration { return c.user + c.sys }

func (c cpuTime) sub(d cpuTime) cpuTime { return cpuTime{c.user - d.user, c.sys - d.sys} }

// drift lists samples whose connection or peer count differs from what the
// topology expects of the node at that moment: its degree, or, once faults
// changed the mesh, its degree in the topology they left, give or take the
// edges in transition (cut but not yet gone, healed but not yet back, or
// those of a paused node that the far end has not dropped). A missing value
// is a missed read, not drift: it is counted in ScrapeErrors instead.
func (r *Recording) drift() []series.Violation {
	deg := r.Graph.Degrees()
	index := map[string]int{}
	for _, n := range r.nodes {
		index[n.Name] = n.Index
	}
	var out []series.Violation
	for _, s := range r.Samples {
		i, ok := index[s.Node]
		if s.IsEvent() || !ok {
			continue
		}
		lo, hi := float64(deg[i]), float64(deg[i])
		if ex := r.expectation(r.Started.Add(s.Elapsed)); ex != nil {
			if ex.down[s.Node] {
				continue
			}
			lo, hi = ex.degreeRange(i)
		}
		for _, fig := range []string{FigConns, FigPeers} {
			got, ok := s.Values[fig]
			if !ok || math.IsNaN(got) || (got >= lo && got <= hi) {
				continue
			}
			want := lo
			if got > hi {
				want = hi
			}
			out = append(out, series.Violation{Round: s.Round, Elapsed: s.Elapsed, Node: s.Node, Role: s.Role, Figure: fig, Got: got, Want: want})
		}
	}
	return out
}

// expectation is the expected topology at t, or nil where no fault had
// changed it.
func (r *Recording) expectation(t time.Time) *expected {
	var out *expected
	for i := range r.timeline {
		if !r.timeline[i].at.After(t) {
			out = &r.timeline[i]
		}
	}
	return out
}

// addEvents keeps the mesh's events and marks those within the window as
// event rows of the samples.
func (r *Recording) addEvents(evs []Event) {
	r.Events = evs
	r.timeline = r.Mesh.timeline()
	end := r.Started.Add(r.Duration)
	for _, ev := range evs {
		if ev.At.Before(r.Started) || ev.At.After(end) {
			continue
		}
		el := ev.At.Sub(r.Started)
		node := ""
		if len(ev.Nodes) == 1 {
			node = ev.Nodes[0]
		}
		r.Samples = append(r.Samples, series.Sample{
			Round: int(el / r.Table.Interval), Elapsed: el, Node: node,
			Event: Fault{Kind: ev.Kind, Nodes: ev.Nodes}.String(),
		})
	}
}

// newRecording captures the facts of the mesh as it is now, for a
// recording about to be made.
func (m *Mesh) newRecording() *Recording {
	r := &Recording{
		Table:        &series.Table{Interval: m.Config.Interval},
		Mesh:         m,
		Config:       m.Config,
		Graph:        m.Graph,
		BringUp:      m.BringUp,
		Converge:     m.Converge,
		Floor:        m.Floor,
		FloorRemove:  m.FloorRemove,
		ScrapeErrors: map[string]int{},
		verification: m.Verification(),
	}
	for _, n := range m.Nodes {
		r.nodes = append(r.nodes, nodeFact{Index: n.Index, Name: n.Name, Role: n.Role, Group: n.Group, Image: n.Instance.Image, Engine: m.engineOf(n)})
	}
	return r
}

// processMemory is this process's Go heap in use and its peak resident
// memory so far.
func processMemory() (heap, peakRSS uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		peakRSS = uint64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	return ms.HeapInuse, peakRSS
}

// processCPU is this process's CPU time so far.
func processCPU() cpuTime {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTime{}
	}
	return cpuTime{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}
