package meshtest

import (
	"cmp"
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/cgroup"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/summary"
)

// environment is what a summary says of where the run happened. It does
// not change during a run, so it is read once per mesh.
type environment struct {
	gitRevision string
	host        summary.Host
	engine      backend.Info
}

func (m *Mesh) environment() environment {
	m.envOnce.Do(func() {
		m.envFacts = environment{gitRevision: gitRevision(), host: hostInfo(), engine: m.backend.Info(context.WithoutCancel(m.ctx))}
	})
	return m.envFacts
}

// Summary builds the run's summary.json document from what was recorded
// and the mesh's facts at the time.
func (r *Recording) Summary() *summary.File {
	m := r.Mesh
	env := m.environment()
	cfg, _ := json.Marshal(r.Config) // a Config always encodes
	s := &summary.File{
		Schema:        summary.Schema,
		SchemaVersion: summary.Version,
		Experiment:    cmp.Or(r.experiment, m.test),
		Run:           m.Run,
		Created:       r.Started.UTC(),
		Config:        cfg,
		Topology:      summary.Topology{Name: r.Graph.Name, Nodes: r.Graph.N, Edges: len(r.Graph.Edges)},
		Images:        map[string]string{},
		GitRevision:   env.gitRevision,
		Host:          env.host,
		Backend:       env.engine,
		SamplesFile:   "samples.csv",
		Charts:        r.charts,
	}
	for _, n := range r.nodes {
		s.Images[n.Group] = n.Image
		if n.Engine != "" {
			if s.Placement == nil {
				s.Placement = map[string][]string{}
			}
			s.Placement[n.Engine] = append(s.Placement[n.Engine], n.Name)
		}
	}
	s.Timings = summary.Timings{
		FloorS:    r.Floor.Seconds(),
		BringUpS:  r.BringUp.Seconds(),
		ConvergeS: r.Converge.Seconds(),
		SamplingS: r.Duration.Seconds(),
		TeardownS: m.Teardown().Seconds(),
	}
	if w := r.WarmUp; w != nil {
		s.Timings.WarmUpS = w.Waited.Seconds()
		s.Timings.WarmUp = w.Criterion
		if !w.Settled {
			s.Timings.WarmUp += ": not settled by the cap"
		}
	}
	if r.Floor > 0 {
		s.Timings.BringUpRatio = r.BringUp.Seconds() / r.Floor.Seconds()
	}
	if r.FloorRemove > 0 {
		s.Timings.FloorRemoveS = r.FloorRemove.Seconds()
		s.Timings.TeardownRatio = s.Timings.TeardownS / s.Timings.FloorRemoveS
	}
	rounds := 0
	for _, smp := range r.Samples {
		if !smp.IsEvent() {
			rounds = max(rounds, smp.Round+1) // event rows come last, and may fall in any round
		}
	}
	s.Harness = summary.Harness{
		CPUSeconds:        r.HarnessCPU.Seconds(),
		SysCPUSeconds:     r.HarnessSysCPU.Seconds(),
		CPUPercentOneCore: r.HarnessCPUPercent(),
		HeapBytes:         r.HarnessHeapBytes,
		PeakRSSBytes:      r.HarnessPeakRSSBytes,
		IntervalS:         r.Interval.Seconds(),
		Rounds:            rounds,
		LateRounds:        r.LateRounds,
		SampleStride:      r.SampleStride,
		MetricsEvery:      r.MetricsEvery,
		CostSource:        r.CostSource,
		ScrapeErrors:      r.ScrapeErrors,
		Unresponsive:      r.Unresponsive,
	}
	s.Convergence = r.convergence()
	s.Network = r.network()
	s.Gossip = r.gossipSummary()
	m.workMu.Lock()
	s.Perf, s.Ping = slices.Clone(m.perfs), slices.Clone(m.pings)
	m.workMu.Unlock()
	for _, ev := range r.Events {
		s.Events = append(s.Events, summary.Event{
			At: ev.At.UTC(), ElapsedS: ev.At.Sub(r.Started).Seconds(), Kind: string(ev.Kind), Nodes: ev.Nodes,
			Detail: ev.Detail, EffectS: ev.Effect.Seconds(), RecoveredS: ev.Recovered.Seconds(), Recovery: ev.Recovery,
		})
	}
	s.Roles, s.Spread, s.OverTime = map[string]map[string]series.Stats{}, map[string]map[string]series.Stats{}, map[string]map[string][]summary.RoundPoint{}
	for _, role := range r.Roles() {
		rs := r.Role(role)
		s.Roles[role], s.Spread[role], s.OverTime[role] = map[string]series.Stats{}, map[string]series.Stats{}, map[string][]summary.RoundPoint{}
		for _, fig := range r.Figures() {
			st := rs.Stats(fig)
			if st.N == 0 {
				continue // a figure this role never reported is absent, not zero
			}
			s.Roles[role][fig] = st
			s.Spread[role][fig] = rs.Spread(fig)
			for _, p := range r.RoleOverTime(role, fig) {
				s.OverTime[role][fig] = append(s.OverTime[role][fig], summary.RoundPoint{
					Round: p.Round, ElapsedS: p.Elapsed.Seconds(),
					Mean: p.Mean, P50: p.P50, P95: p.P95, Max: p.Max, NodeCount: p.N,
				})
			}
		}
	}
	return s
}

// network is the summary's account of the link conditions: nil on a
// perfect LAN.
func (r *Recording) network() *summary.Network {
	sh := r.Shaping
	if sh == nil {
		return nil
	}
	n := &summary.Network{Mechanism: sh.Mechanism, Kernel: sh.Kernel, Passed: true}
	n.Note = "the kernel has sch_netem, but the netem path is not built: delay and jitter in user space (NFQUEUE), rate with HTB, loss with nftables"
	if sh.Kernel == string(shape.DelayLine) {
		n.Note = "the kernel has no sch_netem: delay and jitter in user space (NFQUEUE), rate with HTB, loss with nftables"
	}
	for _, c := range sh.Calibration {
		n.Calibration = append(n.Calibration, summary.Calibration{
			From: c.From, To: c.To, WantRTTMs: ms(c.WantRTT), GotRTTMs: ms(c.GotRTT),
			WantLoss: c.WantLoss, GotLoss: c.GotLoss, Probes: c.Probes,
			WantRateBitsPerS: c.WantRate, GotRateBitsPerS: c.GotRate,
			Verdict: c.Verdict, Mismatches: c.Mismatches,
		})
		if c.Verdict == summary.CalibrationMismatch {
			n.Passed = false
		}
	}
	n.DelayLine = r.DelayLine.cost()
	n.CalibrationDelayLine = sh.CalibrationDelayLine.cost()
	return n
}

// convergence says what was proven, role by role: a mesh is proven only
// when every role's connections were, by peer ID or by count.
func (r *Recording) convergence() summary.Convergence {
	c := summary.Convergence{Proven: r.Converge > 0, Roles: r.verification, DriftSamples: len(r.Drift)}
	for _, n := range r.nodes {
		if r.verification[n.Role] == summary.NotVerified && !slices.Contains(c.Unverified, n.Role) {
			c.Unverified = append(c.Unverified, n.Role)
		}
	}
	if len(c.Unverified) > 0 {
		c.Proven = false
	}
	return c
}

// newSweepSummary starts the summary of a benchmark sweep: the schema,
// parameters and environment every summary carries.
func newSweepSummary(experiment string, cfg Config) *summary.File {
	data, _ := json.Marshal(cfg.WithDefaults())
	return &summary.File{
		Schema:        summary.Schema,
		SchemaVersion: summary.Version,
		Experiment:    experiment,
		Created:       time.Now().UTC(),
		Config:        data,
		GitRevision:   gitRevision(),
		Host:          hostInfo(),
		Sweep:         &summary.Sweep{Sizes: map[string]map[string]summary.SweepFigure{}, Fits: map[string]series.Line{}},
	}
}

func gitRevision() string {
	root, err := backend.ModuleRoot()
	if err != nil {
		return ""
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if err := exec.Command("git", "-C", root, "diff", "--quiet", "HEAD").Run(); err != nil {
		rev += "-dirty"
	}
	return rev
}

func hostInfo() summary.Host {
	h := summary.Host{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var b strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		h.Kernel = b.String()
	}
	if mem, err := cgroup.MemTotal("/proc"); err == nil {
		h.MemoryBytes = mem
	}
	return h
}
