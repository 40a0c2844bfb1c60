package meshtest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/meshtest/meshtest/meshtest/series"
)

// SummarySchemaVersion is the version of the summary.json layout. Readers
// reject versions they do not know; bump it on any incompatible change.
const SummarySchemaVersion = 1

// Summary is the JSON document every experiment writes as summary.json: what
// was run, where, how long each phase took, what the measuring cost, and the
// per-role figures over the window.
type Summary struct {
	Schema        string    `json:"schema"` // "meshtest/summary"
	SchemaVersion int       `json:"schema_version"`
	Experiment    string    `json:"experiment"` // the test's name
	Run           string    `json:"run"`
	Created       time.Time `json:"created"`
	Config        Config    `json:"config"`
	Topology      struct {
		Name  string `json:"name"`
		Nodes int    `json:"nodes"`
		Edges int    `json:"edges"`
	} `json:"topology"`
	Images      map[string]string `json:"images"` // group -> image
	GitRevision string            `json:"git_revision,omitempty"`
	Host        HostInfo          `json:"host"`
	Docker      DockerInfo        `json:"docker"`
	Timings     Timings           `json:"timings"`
	Harness     HarnessCost       `json:"harness"`
	Convergence struct {
		Proven       bool     `json:"proven"`               // every verifiable edge connected before sampling
		Unverified   []string `json:"unverified,omitempty"` // groups whose connections could not be counted
		DriftSamples int      `json:"drift_samples"`        // samples whose connection count left the node's degree
	} `json:"convergence"`
	// Roles holds, per role and figure, the summary over every sample of the
	// role's nodes in the window.
	Roles map[string]map[string]series.Stats `json:"roles"`
	// Spread holds, per role and figure, the summary of the per-node time
	// means: how alike the role's nodes are.
	Spread map[string]map[string]series.Stats `json:"spread"`
	// OverTime holds, per role and figure, one point per round.
	OverTime    map[string]map[string][]RoundPoint `json:"over_time"`
	SamplesFile string                             `json:"samples_file,omitempty"`
	Charts      []string                           `json:"charts"`

	// Sweep is set in the summary of a benchmark sweep (BenchmarkStar):
	// the headline figures at each size, and the model fitted over them.
	Sweep *Sweep `json:"sweep,omitempty"`
}

// Sweep is what a benchmark sweep of n found.
type Sweep struct {
	// Sizes maps "peers=N" to each headline figure over the runs at that size.
	Sizes map[string]map[string]SweepFigure `json:"sizes"`
	// Fits are cost against n over every run: "bootstrap_mem_bytes",
	// "bootstrap_goroutines".
	Fits map[string]series.Line `json:"fits"`
	// Noise is the largest coefficient of variation of a gated figure
	// over repeated runs at one size: how noisy the machine was.
	Noise float64 `json:"noise"`
	Mode  string  `json:"mode"` // "fresh mesh per size" or "one mesh grown"
}

// SweepFigure is one headline figure over repeated runs.
type SweepFigure struct {
	Mean float64 `json:"mean"`
	CV   float64 `json:"cv"` // coefficient of variation; 0 for one run
	Runs int     `json:"runs"`
}

// NewSweepSummary starts the summary of a benchmark sweep: the schema,
// parameters and environment every summary carries.
func NewSweepSummary(experiment string, cfg Config) *Summary {
	s := &Summary{
		Schema:        "meshtest/summary",
		SchemaVersion: SummarySchemaVersion,
		Experiment:    experiment,
		Created:       time.Now().UTC(),
		Config:        cfg.withDefaults(),
		GitRevision:   gitRevision(),
		Host:          hostInfo(),
		Sweep:         &Sweep{Sizes: map[string]map[string]SweepFigure{}, Fits: map[string]series.Line{}},
	}
	if e, err := newEngine(context.Background()); err == nil {
		s.Docker = (&Mesh{e: e}).dockerInfo()
	}
	return s
}

// Write saves the summary as indented JSON.
func (s *Summary) Write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// RoundPoint is a role's figure in one sampling round, across its nodes.
type RoundPoint struct {
	Round     int     `json:"round"`
	ElapsedS  float64 `json:"elapsed_s"`
	Mean      float64 `json:"mean"`
	P50       float64 `json:"p50"`
	P95       float64 `json:"p95"`
	Max       float64 `json:"max"`
	NodeCount int     `json:"nodes"`
}

// HostInfo is the machine the harness ran on.
type HostInfo struct {
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
}

// DockerInfo is the engine the mesh ran on.
type DockerInfo struct {
	ServerVersion string `json:"server_version"`
	APIVersion    string `json:"api_version"`
	StorageDriver string `json:"storage_driver"`
	CgroupVersion string `json:"cgroup_version"`
	CgroupDriver  string `json:"cgroup_driver"`
}

// Timings are the phases of a run, in seconds.
type Timings struct {
	// FloorS is the time the raw Docker API took to create and start the same
	// number of plain containers in this run (0 unless measured), and
	// BringUpRatio is BringUpS over it: the harness's own overhead.
	FloorS       float64 `json:"floor_s,omitempty"`
	BringUpS     float64 `json:"bring_up_s"`
	BringUpRatio float64 `json:"bring_up_ratio,omitempty"`
	ConvergeS    float64 `json:"converge_s"`
	SamplingS    float64 `json:"sampling_s"`
	TeardownS    float64 `json:"teardown_s"` // 0 until the mesh is removed; summary.json is rewritten then
}

// HarnessCost is what the measuring cost this process.
type HarnessCost struct {
	CPUSeconds        float64        `json:"cpu_seconds"`
	SysCPUSeconds     float64        `json:"sys_cpu_seconds"` // the part spent in the kernel
	CPUPercentOneCore float64        `json:"cpu_percent_of_one_core"`
	IntervalS         float64        `json:"interval_s"`
	Rounds            int            `json:"rounds"`
	LateRounds        int            `json:"late_rounds"`
	CostSource        string         `json:"cost_source"`
	ScrapeErrors      map[string]int `json:"scrape_errors,omitempty"`
	Unresponsive      []string       `json:"unresponsive,omitempty"`
}

// Summary builds the run's summary document.
func (r *Recording) Summary() *Summary {
	m := r.Mesh
	s := &Summary{
		Schema:        "meshtest/summary",
		SchemaVersion: SummarySchemaVersion,
		Experiment:    m.test,
		Run:           m.Run,
		Created:       time.Now().UTC(),
		Config:        m.Config,
		Images:        m.images(),
		GitRevision:   gitRevision(),
		Host:          hostInfo(),
		Docker:        m.dockerInfo(),
		SamplesFile:   "samples.csv",
	}
	s.Topology.Name, s.Topology.Nodes, s.Topology.Edges = m.Graph.Name, m.Graph.N, len(m.Graph.Edges)
	s.Timings = Timings{
		FloorS:    m.Floor.Seconds(),
		BringUpS:  m.BringUp.Seconds(),
		ConvergeS: m.Converge.Seconds(),
		SamplingS: r.Duration.Seconds(),
		TeardownS: m.Teardown.Seconds(),
	}
	if m.Floor > 0 {
		s.Timings.BringUpRatio = m.BringUp.Seconds() / m.Floor.Seconds()
	}
	rounds := 0
	if n := len(r.Samples); n > 0 {
		rounds = r.Samples[n-1].Round + 1
	}
	s.Harness = HarnessCost{
		CPUSeconds:        r.HarnessCPU.Seconds(),
		SysCPUSeconds:     r.HarnessSysCPU.Seconds(),
		CPUPercentOneCore: r.HarnessCPUPercent(),
		IntervalS:         r.Interval.Seconds(),
		Rounds:            rounds,
		LateRounds:        r.LateRounds,
		CostSource:        r.CostSource,
		ScrapeErrors:      r.ScrapeErrors,
		Unresponsive:      r.Unresponsive,
	}
	s.Convergence.Proven = m.Converge > 0
	s.Convergence.Unverified = m.Unverified
	s.Convergence.DriftSamples = len(r.Drift)
	s.Roles, s.Spread, s.OverTime = map[string]map[string]series.Stats{}, map[string]map[string]series.Stats{}, map[string]map[string][]RoundPoint{}
	for _, role := range r.Roles() {
		rs := r.Role(role)
		s.Roles[role], s.Spread[role], s.OverTime[role] = map[string]series.Stats{}, map[string]series.Stats{}, map[string][]RoundPoint{}
		for _, fig := range r.Figures() {
			s.Roles[role][fig] = rs.Stats(fig)
			s.Spread[role][fig] = rs.Spread(fig)
			for _, p := range r.RoleOverTime(role, fig) {
				s.OverTime[role][fig] = append(s.OverTime[role][fig], RoundPoint{
					Round: p.Round, ElapsedS: p.Elapsed.Seconds(),
					Mean: p.Mean, P50: p.P50, P95: p.P95, Max: p.Max, NodeCount: p.N,
				})
			}
		}
	}
	return s
}

// ReadSummary decodes a summary.json, rejecting a schema it does not know.
func ReadSummary(data []byte) (*Summary, error) {
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	if s.Schema != "meshtest/summary" || s.SchemaVersion != SummarySchemaVersion {
		return nil, &SchemaError{Schema: s.Schema, Version: s.SchemaVersion}
	}
	return &s, nil
}

// SchemaError is a summary written in a layout this version cannot read.
type SchemaError struct {
	Schema  string
	Version int
}

func (e *SchemaError) Error() string {
	return "summary has schema " + strconv.Quote(e.Schema) + " version " + strconv.Itoa(e.Version) +
		", this meshtest reads \"meshtest/summary\" version " + strconv.Itoa(SummarySchemaVersion) + ": re-run the experiment to regenerate it"
}

func gitRevision() string {
	root, err := moduleRoot()
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

func hostInfo() HostInfo {
	h := HostInfo{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
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
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				h.MemoryBytes = kb * 1024
			}
		}
	}
	return h
}

func (m *Mesh) images() map[string]string {
	out := map[string]string{}
	for _, n := range m.Nodes {
		out[n.Group] = n.Image
	}
	return out
}

func (m *Mesh) dockerInfo() DockerInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d DockerInfo
	if v, err := m.e.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		d.ServerVersion, d.APIVersion = v.Version, v.APIVersion
	}
	if info, err := m.e.Info(ctx, client.InfoOptions{}); err == nil {
		d.StorageDriver, d.CgroupVersion, d.CgroupDriver = info.Info.Driver, info.Info.CgroupVersion, info.Info.CgroupDriver
	}
	return d
}
