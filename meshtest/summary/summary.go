package summary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/workload"
)

// Schema and Version identify the layout of summary.json. Readers reject
// layouts they do not know; Version is bumped on any incompatible change.
//
// Version 2 (this one) writes every key in snake_case and every duration as
// seconds in a key ending in _s (the network section's round-trip times and
// lateness, which are milliseconds, in keys ending in _ms); version 1 wrote
// "Mean", "P95", "R2" and nanoseconds in config, and named the engine
// "docker". Read still reads version 1. Sections added since (network,
// events, gossip, perf, ping) are optional and left out when empty, so a reader of version 2
// that predates them reads a file that has them, and this one reads a file
// without them: neither needed a new version.
const (
	Schema  = "meshtest/summary"
	Version = 2
)

// File is the JSON document every experiment writes as summary.json: what
// was run, where, how long each phase took, what the measuring cost, and the
// per-role figures over the window. Every key is documented in the README.
type File struct {
	Schema        string    `json:"schema"` // Schema
	SchemaVersion int       `json:"schema_version"`
	Experiment    string    `json:"experiment"` // the test's name
	Run           string    `json:"run"`
	Created       time.Time `json:"created"`
	// Config is the run's meshtest.Config as it encodes itself: its
	// parameters, durations in seconds.
	Config      json.RawMessage   `json:"config"`
	Topology    Topology          `json:"topology"`
	Images      map[string]string `json:"images"` // group -> image
	GitRevision string            `json:"git_revision,omitempty"`
	Host        Host              `json:"host"`
	Backend     backend.Info      `json:"backend"`
	// Placement names, on a backend of several engines (a swarm), the
	// nodes each engine ran, in topology order.
	Placement   map[string][]string `json:"placement,omitempty"`
	Timings     Timings             `json:"timings"`
	Harness     Harness             `json:"harness"`
	Convergence Convergence         `json:"convergence"`
	// Roles holds, per role and figure, the statistics over every sample of
	// the role's nodes in the window.
	Roles map[string]map[string]series.Stats `json:"roles"`
	// Spread holds, per role and figure, the statistics of the per-node
	// time means: how alike the role's nodes are.
	Spread map[string]map[string]series.Stats `json:"spread"`
	// OverTime holds, per role and figure, one point per round.
	OverTime    map[string]map[string][]RoundPoint `json:"over_time"`
	SamplesFile string                             `json:"samples_file,omitempty"`
	Charts      []string                           `json:"charts"`

	// Sweep is set in the summary of a benchmark sweep: the headline
	// figures at each size, and the model fitted over them.
	Sweep *Sweep `json:"sweep,omitempty"`

	// Network is set when the run shaped its links (latency, loss, rate):
	// how the conditions were made and whether they measured as asked.
	Network *Network `json:"network,omitempty"`
	// Events are the faults the run injected (kills, pauses, partitions,
	// heals, churn) and changes of link conditions, in the order they
	// happened. samples.csv marks the same events in its event column.
	Events []Event `json:"events,omitempty"`

	// Gossip is set when the run drove a gossip workload (RecordGossip):
	// what was published, how it spread, what it cost.
	Gossip *Gossip `json:"gossip,omitempty"`
	// Perf holds each series of perf runs between two nodes; Ping the
	// round trips of the topology's edges.
	Perf []Perf `json:"perf,omitempty"`
	Ping []Ping `json:"ping,omitempty"`
}

// Gossip is a gossip workload: the load, the propagation and duplicates
// (workload.GossipResult, flattened) and the nodes' cost per message.
type Gossip struct {
	Topic         string  `json:"topic"`
	RatePerS      float64 `json:"rate_per_s"` // messages a second from the whole mesh
	SizeBytes     int     `json:"size_bytes"`
	WarmS         float64 `json:"warm_s"`    // idle before the first publish, in the window
	PublishS      float64 `json:"publish_s"` // publishing, in the window
	DrainS        float64 `json:"drain_s"`   // after the last publish, in the window
	Publishers    int     `json:"publishers"`
	PublishErrors int     `json:"publish_errors"`
	// Source says how deliveries were learned: "records" (each node's own
	// record, read at the end) or "subscribe" (a stream the harness read,
	// timestamped on arrival; duplicates unknown).
	Source string `json:"source"`
	// Clock says whose clocks the delays were taken with, and so what they
	// can be trusted for.
	Clock string `json:"clock"`
	// Diameter and MeanHops are of the topology: the most relays a message
	// needs, and the mean over publishers and receivers.
	Diameter int     `json:"diameter"`
	MeanHops float64 `json:"mean_hops"`
	// MeshD is GossipSub's target mesh degree D; MeshDegreeSource says
	// whether the duplicates floor used each node's own count of its mesh
	// or assumed min(D, topology degree).
	MeshD            int    `json:"mesh_d"`
	MeshDegreeSource string `json:"mesh_degree_source"`

	workload.GossipResult

	// Cost is per role, over the role's nodes, per message a node
	// delivered: see GossipCost.
	Cost map[string]GossipCost `json:"cost"`
	// ControlBytesSent is, over nodes, the control bytes each sent in the
	// window (GRAFT, PRUNE, IHAVE, IWANT, IDONTWANT), when the spec counts them.
	ControlBytesSent series.Stats `json:"control_bytes_sent"`
	// DeliveriesFile holds every delivery read, one row each.
	DeliveriesFile string `json:"deliveries_file"`
}

// GossipCost is what a delivered message cost a node, from its cgroup:
// the figure no simulator gives.
type GossipCost struct {
	// CPUSecondsPerMessage is the node's CPU while messages flowed
	// (publish start to window end) over the messages it delivered: an
	// upper bound, idle work included.
	CPUSecondsPerMessage series.Stats `json:"cpu_s_per_message"`
	// CPUSecondsPerMessageAboveIdle takes out the node's idle CPU rate,
	// measured over the warm-up before the first publish; noisy when the
	// messages cost little beside idle.
	CPUSecondsPerMessageAboveIdle series.Stats `json:"cpu_s_per_message_above_idle"`
	// MemBytesPerMessage is the growth of the node's memory over the same
	// span over its messages: what holding message state (seen cache,
	// history, records) costs.
	MemBytesPerMessage series.Stats `json:"mem_bytes_per_message"`
}

// Perf is one series of perf runs from one node to another.
type Perf struct {
	From          string `json:"from"`
	To            string `json:"to"`
	Transport     string `json:"transport"`
	Security      string `json:"security,omitempty"`
	UploadBytes   uint64 `json:"upload_bytes"`
	DownloadBytes uint64 `json:"download_bytes"`
	NewConnection bool   `json:"new_connection"` // each run dialed (and closed) a connection of its own
	// PathRTTS is the round trip the link conditions set between the two,
	// 0 on a perfect LAN; ConnectionRoundTrips is the median connection
	// time in those round trips.
	PathRTTS             float64 `json:"path_rtt_s,omitempty"`
	ConnectionRoundTrips float64 `json:"connection_round_trips,omitempty"`
	workload.PerfResult
}

// Ping is the round trips of the topology's edges, each asked from its
// dialing end over the connection the topology made.
type Ping struct {
	Count  int          `json:"count"` // round trips per edge
	Edges  int          `json:"edges"`
	Failed []string     `json:"failed,omitempty"` // "peer-003→bootstrap: error"
	RTTS   series.Stats `json:"rtt_s"`            // over every round trip of every edge
	// PerEdgeMedianS is, over edges, each edge's median round trip.
	PerEdgeMedianS series.Stats `json:"per_edge_median_s"`
}

// Topology names the graph the mesh was proven against.
type Topology struct {
	Name  string `json:"name"`
	Nodes int    `json:"nodes"`
	Edges int    `json:"edges"`
}

// Host is the machine the harness ran on.
type Host struct {
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
}

// Timings are the phases of a run, in seconds.
type Timings struct {
	// FloorS is the time the raw engine took to create and start the same
	// number of plain containers in this run (0 unless measured), and
	// BringUpRatio is BringUpS over it: the harness's own overhead.
	FloorS       float64 `json:"floor_s,omitempty"`
	BringUpS     float64 `json:"bring_up_s"`
	BringUpRatio float64 `json:"bring_up_ratio,omitempty"`
	ConvergeS    float64 `json:"converge_s"`
	SamplingS    float64 `json:"sampling_s"`
	TeardownS    float64 `json:"teardown_s"` // 0 until the mesh is removed; summary.json is rewritten then
	// FloorRemoveS is the raw engine's forced removal of the floor's
	// containers (0 unless measured), and TeardownRatio is TeardownS over
	// it (0 until the mesh is removed).
	FloorRemoveS  float64 `json:"floor_remove_s,omitempty"`
	TeardownRatio float64 `json:"teardown_ratio,omitempty"`
	// WarmUpS is the wait before the mesh's first window (Config.WarmUp),
	// and WarmUp says what it waited for.
	WarmUpS float64 `json:"warm_up_s,omitempty"`
	WarmUp  string  `json:"warm_up,omitempty"`
}

// Harness is what the measuring cost this process.
type Harness struct {
	CPUSeconds        float64 `json:"cpu_seconds"`
	SysCPUSeconds     float64 `json:"sys_cpu_seconds"` // the part spent in the kernel
	CPUPercentOneCore float64 `json:"cpu_percent_of_one_core"`
	// HeapBytes is the harness's Go heap in use at the window's end, and
	// PeakRSSBytes the test process's peak resident memory, bring-up
	// included.
	HeapBytes    uint64  `json:"heap_bytes,omitempty"`
	PeakRSSBytes uint64  `json:"peak_rss_bytes,omitempty"`
	IntervalS    float64 `json:"interval_s"`
	Rounds       int     `json:"rounds"`
	LateRounds   int     `json:"late_rounds"`
	// SampleStride is the rounds between two samples of one peer: 1 reads
	// every node every round; above 1 the peers are read in turn (each
	// round's peer figures are then a 1/stride sample of the peers), the
	// bootstrap every round.
	SampleStride int `json:"sample_stride,omitempty"`
	// MetricsEvery is how many reads of a peer make one scrape of its
	// metrics endpoint (its cgroup figures are read every time).
	MetricsEvery int `json:"metrics_every,omitempty"`
	// CostSource says where container figures came from, and why not from
	// the cgroup files when it fell back: "cgroupfs", or
	// "docker-stats-api (cgroupfs: …)".
	CostSource   string         `json:"cost_source"`
	ScrapeErrors map[string]int `json:"scrape_errors,omitempty"`
	Unresponsive []string       `json:"unresponsive,omitempty"`
}

// Convergence says what was proven before sampling, per role, and how the
// topology held during the window.
type Convergence struct {
	// Proven is true when every role's connections were proven: by peer
	// ID or by connection count. A mesh with an unverified role is not
	// proven, whatever its other roles showed.
	Proven bool `json:"proven"`
	// Roles says, per role ("bootstrap", "peer", a group's name), how its
	// nodes' connections were checked: "peer-ids" (each node's set of
	// connected peer IDs equals its neighbours), "connection-count" (each
	// node's connection metric equals its degree) or "unverified" (the
	// spec gives no way to count).
	Roles        map[string]string `json:"roles"`
	Unverified   []string          `json:"unverified,omitempty"` // the roles whose method is "unverified"
	DriftSamples int               `json:"drift_samples"`        // samples whose connection count left the node's degree
}

// Ways a role's connections are checked, in Convergence.Roles.
const (
	ByPeerIDs         = "peer-ids"
	ByConnectionCount = "connection-count"
	NotVerified       = "unverified"
)

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

// Sweep is what a benchmark sweep of n found.
type Sweep struct {
	// Sizes maps "peers=N" to each headline figure over the runs at that size.
	Sizes map[string]map[string]SweepFigure `json:"sizes"`
	// Fits are cost against n over every run, e.g. "bootstrap_mem_bytes".
	Fits map[string]series.Line `json:"fits"`
	// Noise is the largest coefficient of variation of a gated figure
	// over repeated runs at one size: how noisy the machine was.
	Noise float64 `json:"noise"`
	Mode  string  `json:"mode"` // "a fresh mesh per size" or "one mesh grown through the sizes"
}

// SweepFigure is one headline figure over the repeated runs at one size.
type SweepFigure struct {
	Mean float64 `json:"mean"`
	CV   float64 `json:"cv"` // coefficient of variation; 0 for one run
	Runs int     `json:"runs"`
}

// Network is how a run's link conditions were made and what calibrating
// them measured.
type Network struct {
	// Mechanism is what delays packets: "nfqueue-delay-line" (a delay line
	// in user space), "netem" (the kernel's sch_netem) or "none" (the run
	// asked for no delay).
	Mechanism string `json:"mechanism"`
	// Kernel is what the kernel allows, as detected, e.g. "sch_netem
	// missing; nfqueue, ifb, htb".
	Kernel string `json:"kernel"`
	// Note says in one line why the mechanism was chosen, e.g. "the kernel
	// has no sch_netem: delay in user space".
	Note string `json:"note,omitempty"`
	// Calibration holds, per measured path, what was asked and what was
	// measured before the window.
	Calibration []Calibration `json:"calibration,omitempty"`
	// Passed is true when every path calibrated "ok".
	Passed bool `json:"passed"`
	// DelayLine is what the user-space delay line cost during the
	// sampling window; nil when it did not run.
	DelayLine *DelayLineCost `json:"delay_line,omitempty"`
	// CalibrationDelayLine is what it cost during the calibration, whose
	// probes are most of the packets an idle mesh's delay lines see.
	CalibrationDelayLine *DelayLineCost `json:"calibration_delay_line,omitempty"`
}

// Calibration is one path's conditions, asked for and measured. Loss is a
// fraction of the round trips (0.02 = 2 %), so a path with 1 % loss each
// way wants about 0.0199; a rate of 0 was not asked for or not measured.
type Calibration struct {
	From string `json:"from"` // node or group the probes left from
	To   string `json:"to"`
	// WantRTTMs is the round-trip time the conditions add up to, and
	// GotRTTMs the median measured, in milliseconds.
	WantRTTMs float64 `json:"want_rtt_ms"`
	GotRTTMs  float64 `json:"got_rtt_ms"`
	WantLoss  float64 `json:"want_loss"`
	GotLoss   float64 `json:"got_loss"`
	Probes    int     `json:"probes"` // round trips GotLoss and GotRTTMs are over
	// WantRateBitsPerS and GotRateBitsPerS are the path's rate in bits per
	// second; 0 is not measured.
	WantRateBitsPerS float64 `json:"want_rate_bits_per_s"`
	GotRateBitsPerS  float64 `json:"got_rate_bits_per_s"`
	// Verdict is CalibrationOK, CalibrationMismatch or
	// CalibrationUndecided (too few probes to tell).
	Verdict string `json:"verdict"`
	// Mismatches says what differed beyond its tolerance, one line each:
	// "rtt 61.2 ms, want 40 ms ± 5 ms".
	Mismatches []string `json:"mismatches,omitempty"`
}

// Verdicts of a Calibration.
const (
	CalibrationOK        = "ok"
	CalibrationMismatch  = "mismatch"
	CalibrationUndecided = "undecided"
)

// DelayLineCost is what the user-space delay line cost the host: the price
// of shaping without netem, to weigh against the figures it shaped.
type DelayLineCost struct {
	Packets uint64 `json:"packets"` // packets it held and released
	// CPUSeconds is the helpers' CPU time, idle work included (their
	// control servers and timers), so per 1000 packets it is an upper
	// bound, and 0 (omitted) below 1000 packets, where idle work would
	// be most of it.
	CPUSeconds          float64 `json:"cpu_seconds"`
	CPUMsPer1000Packets float64 `json:"cpu_ms_per_1000_packets,omitempty"`
	// MeanLateMs and MaxLateMs are how late packets left against their due
	// time, in milliseconds: the delay line's own error, on top of the
	// delay asked for.
	MeanLateMs float64 `json:"mean_late_ms"`
	MaxLateMs  float64 `json:"max_late_ms"`
}

// Event is one fault or change the run made to the mesh.
type Event struct {
	At time.Time `json:"at"`
	// ElapsedS is seconds from the start of sampling, as samples.csv's
	// elapsed_s; negative for an event before the window.
	ElapsedS float64 `json:"elapsed_s"`
	// Kind is what happened: "kill", "stop", "start", "restart", "pause",
	// "unpause", "disconnect", "connect", "partition", "heal", "cut",
	// "churn" or "conditions".
	Kind   string   `json:"kind"`
	Nodes  []string `json:"nodes,omitempty"`  // the nodes it was done to; none for the whole mesh
	Detail string   `json:"detail,omitempty"` // e.g. "{peer-1..peer-5} | {rest}", "latency 50ms"
	// EffectS is the seconds from the event until what it cut had vanished
	// from both ends of every cut edge (and nothing else had); 0 when the
	// fault cuts nothing or its effect was not waited for.
	EffectS float64 `json:"effect_s,omitempty"`
	// RecoveredS is the seconds from the event until the topology was
	// proven again, or the node was back with its degree; 0 when it did not
	// recover or nothing was waited for.
	RecoveredS float64 `json:"recovered_s,omitempty"`
	// Recovery says what proved the recovery ("peer-ids", "connection-count"),
	// or why there is none ("not awaited", "not recovered in 30 s").
	Recovery string `json:"recovery,omitempty"`
}

// Write saves the file as indented JSON.
func (f *File) Write(path string) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// Marshal encodes the file as summary.json holds it.
func (f *File) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode summary: %w", err)
	}
	return append(data, '\n'), nil
}

// Read decodes a summary.json, rejecting a schema or version it does not
// know with a *SchemaError. Version 1 files are read too: their keys differ
// only in case, which decoding ignores, and their "docker" section becomes
// Backend.
func Read(data []byte) (*File, error) {
	var head struct {
		Schema        string        `json:"schema"`
		SchemaVersion int           `json:"schema_version"`
		Docker        *backend.Info `json:"docker"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	if head.Schema != Schema || head.SchemaVersion < 1 || head.SchemaVersion > Version {
		return nil, &SchemaError{Schema: head.Schema, Version: head.SchemaVersion}
	}
	var f File
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	if head.SchemaVersion == 1 && head.Docker != nil {
		f.Backend = *head.Docker
		f.Backend.Backend = "docker"
	}
	return &f, nil
}

// SchemaError is a summary written in a layout this version cannot read.
type SchemaError struct {
	Schema  string
	Version int
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("summary has schema %q version %d, this meshtest reads %q versions 1 to %d: re-run the experiment to regenerate it",
		e.Schema, e.Version, Schema, Version)
}
