package meshtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// MaxNodes is the most containers one Linux bridge network can hold: a bridge
// takes at most 1024 ports and the gateway is one of them.
const MaxNodes = 1023

// MaxNetworks bounds the bridge networks one mesh spreads over (see
// Config.NetworkSize).
const MaxNetworks = 16

// Config describes one experiment's mesh. The zero value of every field but
// Peers is usable; WithDefaults says what it becomes. A Config maps
// one-to-one to the experiment flags (see RegisterFlags) and is saved in the
// summary, durations in seconds.
type Config struct {
	// Name names the experiment in container names, labels and artifact
	// file names, e.g. "star". Default "mesh" (NewGraph: the topology's
	// slug). Letters, digits and '-'.
	Name string `json:"name"`

	// Peers is the number of nodes besides the bootstrap. NewGraph sets it
	// from the topology. More than NetworkSize spread over several bridge
	// networks (see NetworkSize).
	Peers int `json:"peers"`

	// NetworkSize is the most peers on one bridge network; 0 means
	// DefaultNetworkSize, all one bridge holds (1022 beside the bootstrap).
	// A mesh of more peers spreads them over as many networks as it takes,
	// in blocks by index, with the bootstrap (and services) on every one:
	// Docker routes nothing between bridges, so every edge must stay within
	// a block or touch the bootstrap (a star does), and link conditions
	// need one network. At most MaxNetworks.
	NetworkSize int `json:"network_size,omitempty"`

	// Spec says how to run every node; nil means spec.Bundled(), the node
	// in node/ built from source into a FROM scratch image.
	Spec *spec.Spec `json:"spec,omitempty"`
	// BootstrapSpec, when set, runs the bootstrap (node 0) instead of Spec.
	BootstrapSpec *spec.Spec `json:"bootstrap_spec,omitempty"`
	// Groups split the peers between specs, in order: the first Count peers
	// run Groups[0].Spec, and so on; the counts must add up to Peers. Each
	// group's peers take the group's name as their role, so a test compares
	// groups the way TestStar compares the bootstrap with the peers.
	Groups []Group `json:"groups,omitempty"`

	// Image, when set, replaces the image of every node's spec: the same
	// node contract, another build of it. Services keep their own.
	Image string `json:"image,omitempty"`

	// Env is added to every node's environment, e.g.
	// {"MESHNODE_CONN_HIGH": "50"}. Services keep their own.
	Env map[string]string `json:"env,omitempty"`

	// Parallelism bounds how many nodes are started at once. Default 4:
	// measured here, the engine starts 1.5-6 containers/s and more does not
	// help.
	Parallelism int `json:"parallelism"`

	// ConvergeTimeout bounds the wait for every node to be ready and every
	// edge of the topology to be connected. Default 60 s plus 200 ms per
	// node.
	ConvergeTimeout time.Duration `json:"-"`

	// Interval is the sampling period of Record. Default 1 s.
	Interval time.Duration `json:"-"`

	// SampleStride samples each peer (of any group) every SampleStride
	// rounds, the peers in turn (node i in the rounds r with
	// r % SampleStride == i % SampleStride), and the bootstrap each round. 0 picks it: 1 up to
	// PeersPerRound peers, then the smallest stride that reads at most that
	// many peers a round, so that a 1000-node mesh costs the harness what a
	// 200-node one does. Every peer is still sampled throughout the window;
	// summary.json says the stride.
	SampleStride int `json:"sample_stride,omitempty"`

	// MetricsEvery scrapes a peer's metrics endpoint every MetricsEvery-th
	// time the peer is read, the peers staggered; its container figures
	// (the cgroup files) are read every time, and the bootstrap's both
	// every round. A scrape is most of the harness's cost: at 100 nodes
	// here ~260 µs of its CPU (kernel included) against ~80 µs for the
	// cgroup files, and a peer's metrics move slowly. 0 picks it: 1 while
	// a round reads at most PeerScrapesPerRound peers, then the smallest
	// value that scrapes at most that many a round (a 100-peer star: 5).
	MetricsEvery int `json:"metrics_every,omitempty"`

	// Keep leaves the mesh running after the test and prints how to remove it.
	Keep bool `json:"keep,omitempty"`

	// ResultsDir, when set, receives a copy of the artifacts in
	// ResultsDir/<test name>/ (that directory is emptied first), for runs
	// without `go test -artifacts`, whose artifact directory is temporary.
	ResultsDir string `json:"results_dir,omitempty"`

	// PublishPorts reaches nodes through their metrics port published on
	// 127.0.0.1 (never 0.0.0.0) instead of their container IPs: needed
	// where the host cannot route to container IPs (Docker Desktop on macOS
	// and Windows), where it is the default. It costs a docker-proxy
	// process per node, and the mesh network then cannot be internal. It
	// applies to the default Docker backend; a Backend given in Backend is
	// configured by whoever made it.
	PublishPorts bool `json:"publish_ports,omitempty"`

	// Conditions are the network's links: latency, jitter, loss and rate,
	// by default for every link, per node (uplink and downlink) and per
	// link or region pair (see meshtest/conditions). The zero value is the
	// engine's perfect LAN. When set, a helper beside every node shapes
	// its links (only the helper gets NET_ADMIN), and before New returns a
	// calibration measures the network it built and fails the mesh when it
	// is not the one asked for. The harness's own traffic (readiness,
	// metrics, Prometheus) is not shaped.
	Conditions conditions.Conditions `json:"conditions,omitzero"`

	// Workloads turns on in every node what the workloads a test drives
	// need (Mesh.Publish, RecordGossip, Perf, Ping): a pubsub topic, the
	// perf and ping endpoints. Each node's spec says how (spec.WorkloadAPI);
	// off, a node runs exactly as idle as without them.
	Workloads Workloads `json:"workloads,omitzero"`

	// WarmUp is the wait before a mesh's first sampling window, since a
	// node's memory rises for ~20 s after it starts: 0 (the default) waits
	// until every role's mean container memory holds within 2 % over 5
	// samples, at most 30 s; a positive value waits exactly that long; a
	// negative one not at all. The summary and the report say what it
	// waited for.
	WarmUp time.Duration `json:"-"`

	// RaiseHostLimits lets a harness running as root raise the kernel
	// settings the host preflight finds too low for the mesh (neighbour
	// table, inotify, threads) for the run, putting them back afterwards.
	// Off, a shortfall only fails the mesh with the command that fixes it.
	RaiseHostLimits bool `json:"raise_host_limits,omitempty"`

	// Monitor deploys a real Prometheus server (built from source) into the
	// mesh, scraping every node and the harness's container samples; its
	// TSDB snapshot goes into the artifacts. Off: nothing of it is built.
	Monitor bool `json:"monitor,omitempty"`
	// Services are started on the mesh's network once it has converged:
	// other tools (a collector, a log store) that are not nodes.
	Services []*spec.Spec `json:"services,omitempty"`

	// MeasureFloor makes New first create and start Peers+1 plain containers
	// straight through the backend's raw API, so bring-up is reported
	// against the raw engine measured in the same run. Backends that cannot
	// (backend.FloorMeasurer) say so, and the summary has no floor.
	MeasureFloor bool `json:"measure_floor,omitempty"`

	// Backend runs the nodes. Nil means Docker (meshtest/backend/docker),
	// found as testcontainers-go finds it, or the swarm Swarm names.
	Backend backend.Backend `json:"-"`
	// Swarm runs the mesh on a Docker Swarm instead (docker.Swarm): the
	// engines file that names each engine's API, address and role, as
	// scripts/swarm.sh writes /run/mtswarm/engines. Images are built on
	// the local engine and moved to every engine. Link conditions, Monitor
	// and more than one network are not available there. Empty: the local
	// engine alone.
	Swarm string `json:"swarm,omitempty"`
}

// Workloads are the workloads a mesh's nodes are ready for.
type Workloads struct {
	// Topic is the pubsub topic every node joins; "" for no pubsub.
	Topic string `json:"gossip_topic,omitempty"`
	Perf  bool   `json:"perf,omitempty"` // answer /perf/1.0.0 and serve the perf endpoint
	Ping  bool   `json:"ping,omitempty"` // serve the ping endpoint
}

// Group is a share of the peers running one spec.
type Group struct {
	Name  string     `json:"name"` // the peers' role; default the spec's name
	Spec  *spec.Spec `json:"spec"`
	Count int        `json:"count"`
}

// configJSON is how a Config encodes: durations in seconds, in keys ending
// in _s, as everywhere in summary.json.
type configJSON struct {
	configFields
	ConvergeTimeoutS float64 `json:"converge_timeout_s"`
	IntervalS        float64 `json:"interval_s"`
	Backend          string  `json:"backend,omitempty"`
}

type configFields Config // Config without its methods

// MarshalJSON writes durations as seconds and the backend by name.
func (c Config) MarshalJSON() ([]byte, error) {
	j := configJSON{configFields: configFields(c), ConvergeTimeoutS: c.ConvergeTimeout.Seconds(), IntervalS: c.Interval.Seconds()}
	if c.Backend != nil {
		j.Backend = c.Backend.Name()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes (the backend stays nil).
func (c *Config) UnmarshalJSON(data []byte) error {
	var j configJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*c = Config(j.configFields)
	c.ConvergeTimeout = time.Duration(j.ConvergeTimeoutS * float64(time.Second))
	c.Interval = time.Duration(j.IntervalS * float64(time.Second))
	return nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*$`)

// PeersPerRound is how many peers a round reads at most when
// Config.SampleStride is left to meshtest: at ~150 µs of the harness's CPU
// per node and sample (scrape and cgroup files), 200 a second is 3 % of a
// core.
const PeersPerRound = 200

// sampleStride is SampleStride, or the one meshtest picks for peers peers.
func (c Config) sampleStride(peers int) int {
	if c.SampleStride > 0 {
		return c.SampleStride
	}
	return max(1, (peers+PeersPerRound-1)/PeersPerRound)
}

// PeerScrapesPerRound is how many peers' metrics endpoints a round scrapes
// at most when Config.MetricsEvery is left to meshtest. Measured here at
// 100 nodes, the harness's CPU is ~1.6 % of a core for the cgroup files of
// every node each round and the bootstrap's scrape, plus ~0.018 % per
// peer scraped each round: 20 keeps it within 2 %.
const PeerScrapesPerRound = 20

// metricsEvery is MetricsEvery, or the one meshtest picks when a round
// reads read peers.
func (c Config) metricsEvery(read int) int {
	if c.MetricsEvery > 0 {
		return c.MetricsEvery
	}
	return max(1, (read+PeerScrapesPerRound-1)/PeerScrapesPerRound)
}

// WithDefaults returns c with every unset field at its default: Name
// "mesh", Parallelism 4, ConvergeTimeout 60 s + 200 ms per node, Interval
// 1 s, and PublishPorts on where the host cannot route to containers
// (outside Linux).
func (c Config) WithDefaults() Config {
	if runtime.GOOS != "linux" {
		c.PublishPorts = true
	}
	c.Name = cmp.Or(c.Name, "mesh")
	c.Parallelism = cmp.Or(c.Parallelism, 4)
	c.ConvergeTimeout = cmp.Or(c.ConvergeTimeout, 60*time.Second+time.Duration(c.Peers+1)*200*time.Millisecond)
	c.Interval = cmp.Or(c.Interval, time.Second)
	return c
}

// Check reports what is wrong with c, as New would, without starting
// anything: experiments call it first so that bad input fails fast and
// clearly even on a machine without an engine. Errors name the Config field,
// its value and the fix.
func (c Config) Check() error {
	return c.WithDefaults().validate()
}

// FieldError is a Config field with a value New refuses: it names the
// field, the value, why, and the fix. Flags turn it into the flag's name.
type FieldError struct {
	Field string // "Peers"
	Value string // as given: "0"
	Why   string
	Fix   string // with %s where the field's name goes: "set %s between 1 and 1022"
}

func (e *FieldError) Error() string { return e.In("Config." + e.Field) }

// In is the error with the field called name: "-peers=0: …; set -peers …".
func (e *FieldError) In(name string) string {
	sep := " = "
	if strings.HasPrefix(name, "-") {
		sep = "="
	}
	msg := name + sep + e.Value + ": " + e.Why
	if e.Fix != "" {
		msg += "; " + fmt.Sprintf(e.Fix, name)
	}
	return msg
}

func (c Config) validate() error {
	bad := func(field string, value any, why, fix string) error {
		v := fmt.Sprint(value)
		if s, ok := value.(string); ok {
			v = strconv.Quote(s)
		}
		return &FieldError{Field: field, Value: v, Why: why, Fix: fix}
	}
	peers := fmt.Sprintf("set %%s between 1 and %d", MaxNetworks*c.networkSize())
	switch {
	case c.Peers < 1:
		return bad("Peers", c.Peers, "a mesh needs at least 1 peer besides the bootstrap", peers)
	case c.NetworkSize < 0 || c.NetworkSize > DefaultNetworkSize:
		return bad("NetworkSize", c.NetworkSize, fmt.Sprintf("one Docker bridge network holds at most %d containers (a Linux bridge has 1024 ports), the bootstrap and %d peers", MaxNodes, DefaultNetworkSize),
			fmt.Sprintf("set %%s between 1 and %d, or 0 for that", DefaultNetworkSize))
	case c.networks() > MaxNetworks:
		return bad("Peers", c.Peers, fmt.Sprintf("%d peers take %d bridge networks of %d; meshtest spreads a mesh over at most %d (Docker's default address pools hold about 30 networks for everyone on the engine)", c.Peers, c.networks(), c.networkSize(), MaxNetworks), peers)
	case !validName.MatchString(c.Name):
		return bad("Name", c.Name, "use letters, digits and '-' (it becomes part of container names)", "")
	case c.Parallelism < 1:
		return bad("Parallelism", c.Parallelism, "must be at least 1", "")
	case c.Interval < 100*time.Millisecond:
		return bad("Interval", c.Interval, "sample at most every 100ms; a scrape of every node must fit in one interval", "set %s to 100ms or more")
	case c.MetricsEvery < 0:
		return bad("MetricsEvery", c.MetricsEvery, "it counts reads", "set %s to 1 (every read) or more, or 0 to let meshtest pick")
	case c.SampleStride < 0:
		return bad("SampleStride", c.SampleStride, "a stride counts rounds", "set %s to 1 or more, or 0 to let meshtest pick")
	case c.ConvergeTimeout < time.Second:
		return bad("ConvergeTimeout", c.ConvergeTimeout, "allow at least 1s", "")
	}
	if err := c.Conditions.Validate(); err != nil {
		return fmt.Errorf("Config.Conditions: %w", err)
	}
	if err := c.checkSwarm(bad); err != nil {
		return err
	}
	if !c.Conditions.IsZero() && c.networks() > 1 {
		// The helpers' rules name each node by its one address.
		return bad("Conditions", "set", fmt.Sprintf("%d peers span %d bridge networks of %d, and link conditions are shaped on one network only", c.Peers, c.networks(), c.networkSize()),
			fmt.Sprintf("leave %%s empty, or run at most %d peers", c.networkSize()))
	}
	if !c.Conditions.IsZero() && c.PublishPorts {
		return bad("PublishPorts", c.PublishPorts, "link conditions need the harness to reach each node's network helper at the node's own address, which published ports do not give", "run on Linux with %s off")
	}
	for _, f := range []struct {
		field string
		s     *spec.Spec
	}{{"Config.Spec", c.Spec}, {"Config.BootstrapSpec", c.BootstrapSpec}} {
		if f.s != nil {
			if err := f.s.Check(); err != nil {
				return fmt.Errorf("%s: %w", f.field, err)
			}
		}
	}
	if err := c.checkWorkloads(); err != nil {
		return err
	}
	for i, s := range c.Services {
		if s == nil {
			return fmt.Errorf("Config.Services[%d] is nil", i)
		}
		if err := serviceSpec(s).Check(); err != nil {
			return fmt.Errorf("Config.Services[%d]: %w", i, err)
		}
	}
	if len(c.Groups) > 0 {
		sum := 0
		seen := map[string]bool{"bootstrap": true}
		for i, g := range c.Groups {
			if g.Spec == nil {
				return fmt.Errorf("Config.Groups[%d] (%q) has no Spec", i, g.Name)
			}
			if err := g.Spec.Check(); err != nil {
				return fmt.Errorf("Config.Groups[%d]: %w", i, err)
			}
			name := cmp.Or(g.Name, g.Spec.Name)
			if seen[name] {
				return fmt.Errorf("Config.Groups: name %q is used twice (or is \"bootstrap\"): give each group its own name", name)
			}
			seen[name] = true
			if g.Count < 1 {
				return fmt.Errorf("Config.Groups[%d] (%q): Count %d, need at least 1", i, name, g.Count)
			}
			sum += g.Count
		}
		if sum != c.Peers {
			return fmt.Errorf("Config.Groups hold %d peers in all, but Config.Peers = %d: make the counts add up", sum, c.Peers)
		}
	}
	return nil
}

// checkWorkloads: every spec a node runs keeps the contract of each
// workload asked for.
func (c Config) checkWorkloads() error {
	w := c.Workloads
	if w == (Workloads{}) {
		return nil
	}
	type used struct {
		field string
		s     *spec.Spec
	}
	specs := []used{{"Config.Spec", cmp.Or(c.Spec, spec.Bundled())}}
	if c.BootstrapSpec != nil {
		specs = append(specs, used{"Config.BootstrapSpec", c.BootstrapSpec})
	}
	for i, g := range c.Groups {
		if g.Spec != nil {
			specs = append(specs, used{fmt.Sprintf("Config.Groups[%d].Spec", i), g.Spec})
		}
	}
	for _, u := range specs {
		api := u.s.Workloads
		missing := ""
		switch {
		case w.Topic != "" && (api == nil || api.Gossip == nil):
			missing = `"gossip"`
		case w.Perf && (api == nil || api.PerfPath == ""):
			missing = `"perf_path"`
		case w.Ping && (api == nil || api.PingPath == ""):
			missing = `"ping_path"`
		}
		if missing != "" {
			return fmt.Errorf("Config.Workloads asks for %+v, but %s (spec %q) has no workloads %s: add it to the spec (see spec.WorkloadAPI) or drop the workload", w, u.field, u.s.Name, missing)
		}
	}
	return nil
}

// serviceSpec is s as a service runs it: a service has no identity to learn.
func serviceSpec(s *spec.Spec) *spec.Spec {
	c := *s
	c.Identity.From = cmp.Or(c.Identity.From, "assigned")
	return &c
}

// swarmMaxUnits is what a swarm run's one overlay network holds: a /24,
// less the network's own addresses, the gateway and the engines' endpoints
// on it (one per engine with a task).
const swarmMaxUnits = 240

// checkSwarm refuses, before anything is made, what the swarm backend
// does not run.
func (c Config) checkSwarm(bad func(field string, value any, why, fix string) error) error {
	if c.Swarm == "" {
		return nil
	}
	switch {
	case c.Backend != nil:
		return bad("Swarm", c.Swarm, "Backend is set too, and it is the one that would run", "set one of Backend and %s")
	case !c.Conditions.IsZero():
		return bad("Swarm", c.Swarm, "link conditions need the network helper beside each node, in its network namespace, and a swarm service cannot join another's", "leave Conditions empty (no -latency, -loss, -rate, -conditions), or %s empty")
	case c.Monitor:
		return bad("Monitor", c.Monitor, "Prometheus scrapes the harness's exporter on the harness's host, which the overlay has no route to", "run %s on the Docker backend")
	case c.Peers+len(c.Services) >= swarmMaxUnits:
		return bad("Peers", c.Peers, fmt.Sprintf("a swarm run has one overlay network, a /24 that holds about %d units", swarmMaxUnits), fmt.Sprintf("set %%s below %d on a swarm", swarmMaxUnits-len(c.Services)))
	}
	return nil
}
