package meshtest

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// Flags are the experiment flags of this repository's experiments, for any
// test package: register them once, and every experiment in the package
// runs with -peers, -duration, -topology, -spec like ours.
//
//	var flags = meshtest.RegisterFlags(flag.CommandLine)
//
//	func TestMine(t *testing.T) {
//		cfg, err := flags.Config("mine")
//		if err != nil {
//			t.Fatal(err)
//		}
//		g, err := flags.Graph("star") // -topology, -seed; a star by default
//		if err != nil {
//			t.Fatal(err)
//		}
//		mesh := meshtest.NewGraph(t, cfg, g)
//		mesh.Record(t, flags.Duration).WriteArtifacts(t)
//	}
//
// Config leaves the topology to Graph: a test that calls New runs a star
// whatever -topology says.
//
// Fields hold the parsed values once `go test` has parsed the flags.
type Flags struct {
	Peers         int
	NetworkSize   int
	Duration      time.Duration
	Interval      time.Duration
	SampleStride  int
	MetricsEvery  int
	Keep          bool
	Results       string
	Floor         bool
	Spec          string
	BootstrapSpec string
	Topology      string
	Seed          uint64
	Monitor       bool
	// Backend is "docker" or "swarm"; Swarm the swarm's engines file.
	Backend, Swarm string
	// RaiseHostLimits is Config.RaiseHostLimits, WarmUp Config.WarmUp.
	RaiseHostLimits bool
	WarmUp          time.Duration
	// Link is every link's condition from -latency, -jitter, -loss and
	// -rate; Conditions the file -conditions names.
	Link       shape.Link
	Conditions string
	// Transport and Security set every node spec's (see spec.Spec).
	Transport, Security string
	// GossipRate and GossipSize are a gossip experiment's load: messages
	// a second from the whole mesh, and bytes each (see GossipLoad).
	GossipRate float64
	GossipSize int
	// Base and Head are the two sides of an A/B gate (see ABSide); ABRuns
	// the runs of each; ABRepo and ABPackage what a revision builds.
	Base, Head, ABRepo, ABPackage string
	ABRuns                        int
}

// RegisterFlags defines the experiment flags on fs (flag.CommandLine in a
// test package) and returns where their values land. Defaults keep an
// experiment small: ten peers, fifteen seconds.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.IntVar(&f.Peers, "peers", 10, fmt.Sprintf("number of peers besides the bootstrap (1..%d; more than -network-size spread over several bridge networks)", MaxNetworks*DefaultNetworkSize))
	fs.IntVar(&f.NetworkSize, "network-size", 0, fmt.Sprintf("most peers on one bridge network; 0: all one bridge holds (%d)", DefaultNetworkSize))
	fs.DurationVar(&f.Duration, "duration", 15*time.Second, "sampling window once the mesh has converged")
	fs.DurationVar(&f.Interval, "interval", time.Second, "time between two samples of every node")
	fs.IntVar(&f.MetricsEvery, "metrics-every", 0, fmt.Sprintf("scrape a peer's metrics endpoint every N of its reads, its cgroup figures every read; the bootstrap's both every round (0: 1 up to %d peers a round, then enough that a round scrapes at most %d)", PeerScrapesPerRound, PeerScrapesPerRound))
	fs.IntVar(&f.SampleStride, "sample-stride", 0, fmt.Sprintf("sample each peer every N rounds, in turn (0: 1 up to %d peers, then enough that a round reads at most %d)", PeersPerRound, PeersPerRound))
	fs.BoolVar(&f.Keep, "keep", false, "leave the mesh running after the test and print how to remove it")
	fs.StringVar(&f.Results, "results", "results", "directory (relative to the test's package) that also receives each experiment's artifacts, in <dir>/<test name>/; empty: only t.ArtifactDir")
	fs.BoolVar(&f.Floor, "floor", false, "before the mesh, start the same number of plain containers through the engine's API and report bring-up against it")
	fs.StringVar(&f.Spec, "spec", "", "JSON node spec to run instead of the bundled node (relative to the package or the module root)")
	fs.StringVar(&f.BootstrapSpec, "bootstrap-spec", "", "JSON node spec for the bootstrap only (default: -spec)")
	fs.StringVar(&f.Topology, "topology", "", "topology: star, line, ring, full, tree, random-regular, erdos-renyi, barabasi-albert, watts-strogatz or file:PATH, with NAME:key=value,... parameters")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of the random topologies")
	fs.DurationVar(&f.WarmUp, "warm-up", 0, "wait before the first sampling window: 0 until every role's container memory settles (at most 30s), a duration to wait exactly that, negative for none")
	fs.BoolVar(&f.RaiseHostLimits, "raise-host-limits", false, "as root, raise the kernel settings the host preflight finds too low for the mesh (neighbour table, inotify, threads) for the run, and put them back afterwards")
	fs.StringVar(&f.Backend, "backend", "docker", "what runs the nodes: docker (the local engine) or swarm (the Docker Swarm -swarm names)")
	fs.StringVar(&f.Swarm, "swarm", cmp.Or(os.Getenv("MESHTEST_SWARM"), "/run/mtswarm/engines"), "with -backend=swarm: the swarm's engines file, one \"name socket address manager|worker\" line per engine (scripts/swarm.sh up writes it; default $MESHTEST_SWARM)")
	fs.BoolVar(&f.Monitor, "monitor", false, "deploy a Prometheus server (built from source) into the mesh; its snapshot goes into the artifacts")
	fs.Func("latency", "one-way delay added to every link between two nodes, e.g. 50ms (so a round trip gains 100ms)", func(v string) (err error) {
		f.Link.Latency, err = shape.ParseDuration(v)
		return err
	})
	fs.Func("jitter", "spread of each packet's delay, ± e.g. 5ms (at most -latency)", func(v string) (err error) {
		f.Link.Jitter, err = shape.ParseDuration(v)
		return err
	})
	fs.Func("loss", "packet loss on every link, each direction, e.g. 1% or 0.01", func(v string) (err error) {
		f.Link.Loss, err = shape.ParseLoss(v)
		return err
	})
	fs.Func("rate", "bandwidth of every link, each direction, in bits: 10mbit, 500kbit, 1gbit", func(v string) (err error) {
		f.Link.Rate, err = shape.ParseRate(v)
		return err
	})
	fs.StringVar(&f.Transport, "transport", "", "what the nodes' p2p port speaks: tcp (default), quic-v1 or websocket")
	fs.StringVar(&f.Security, "security", "", "the nodes' security handshake: noise (default) or tls; QUIC has its own")
	fs.Float64Var(&f.GossipRate, "gossip-rate", 1, "gossip experiments: messages a second published by the whole mesh, the nodes in turn")
	fs.IntVar(&f.GossipSize, "gossip-size", 1024, "gossip experiments: bytes of each message, its 24-byte header included")
	fs.StringVar(&f.Base, "base", "", "A/B gate: the base side, a git revision (built from -ab-repo) or a spec file (.json); empty: the working tree's bundled node")
	fs.StringVar(&f.Head, "head", "", "A/B gate: the head side, as -base")
	fs.IntVar(&f.ABRuns, "ab-runs", 5, "A/B gate: runs of each side, alternated (at least 4 for a 5 % test to be able to say anything)")
	fs.StringVar(&f.ABRepo, "ab-repo", "", "A/B gate: the git repository a revision of -base or -head is built from (default: this module, whose bundled node is built)")
	fs.StringVar(&f.ABPackage, "ab-package", "", "A/B gate: the Go main package built at a revision of -ab-repo, e.g. ./cmd/mynode; the node runs under -spec with its build replaced")
	fs.StringVar(&f.Conditions, "conditions", "", "link conditions file: JSON (per node, per link, regions; see meshtest/conditions) or a Shadow-style .gml graph of regions; -latency, -jitter, -loss, -rate then set its default link")
	return f
}

// flagOf names the flag of each Config field a flag sets.
var flagOf = map[string]string{"Swarm": "-backend=swarm", "Monitor": "-monitor", "Peers": "-peers", "NetworkSize": "-network-size", "Interval": "-interval", "SampleStride": "-sample-stride", "MetricsEvery": "-metrics-every", "Name": "the experiment's name"}

// Config is the mesh the flags describe, for the experiment called name.
// Relative spec paths are found in the test's package directory or else in
// the module root. Errors name the flag and its fix.
func (f *Flags) Config(name string) (Config, error) {
	cfg := Config{
		Name:            name,
		Peers:           f.Peers,
		NetworkSize:     f.NetworkSize,
		Interval:        f.Interval,
		SampleStride:    f.SampleStride,
		MetricsEvery:    f.MetricsEvery,
		Keep:            f.Keep,
		ResultsDir:      f.Results,
		MeasureFloor:    f.Floor,
		Monitor:         f.Monitor,
		RaiseHostLimits: f.RaiseHostLimits,
		WarmUp:          f.WarmUp,
	}
	switch f.Backend {
	case "docker", "":
	case "swarm":
		if f.Swarm == "" {
			return cfg, errors.New("-backend=swarm: -swarm names no engines file; run scripts/swarm.sh up (it writes /run/mtswarm/engines) or name a swarm's")
		}
		cfg.Swarm = f.Swarm
	default:
		return cfg, fmt.Errorf("-backend=%s: no such backend; use docker or swarm", f.Backend)
	}
	if f.Conditions != "" {
		path, err := FindFile(f.Conditions)
		if err != nil {
			return cfg, fmt.Errorf("-conditions: %w", err)
		}
		if cfg.Conditions, err = conditions.Load(path); err != nil {
			return cfg, fmt.Errorf("-conditions: %w", err)
		}
	}
	if !f.Link.IsZero() {
		if err := f.Link.Validate(); err != nil {
			return cfg, fmt.Errorf("-latency, -jitter, -loss, -rate: %w", err)
		}
		cfg.Conditions.Link = f.Link
	}
	for _, sf := range []struct {
		flag, path string
		dst        **spec.Spec
	}{{"-spec", f.Spec, &cfg.Spec}, {"-bootstrap-spec", f.BootstrapSpec, &cfg.BootstrapSpec}} {
		if sf.path == "" {
			continue
		}
		var err error
		if *sf.dst, err = findSpec(sf.path); err != nil {
			return cfg, fmt.Errorf("%s: %w", sf.flag, err)
		}
	}
	if f.Transport != "" || f.Security != "" {
		if cfg.Spec == nil {
			cfg.Spec = spec.Bundled()
		}
		for _, p := range []**spec.Spec{&cfg.Spec, &cfg.BootstrapSpec} {
			if *p == nil {
				continue
			}
			c := **p
			c.Transport, c.Security = f.Transport, f.Security
			*p = &c
		}
	}
	if err := cfg.Check(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) && flagOf[fe.Field] != "" {
			return cfg, errors.New(fe.In(flagOf[fe.Field]))
		}
		return cfg, err
	}
	return cfg, nil
}

// Graph is the topology -topology names (fallback when it is empty), with
// -peers+1 nodes where the topology does not fix the count itself. A
// relative file: path is found as spec paths are.
func (f *Flags) Graph(fallback string) (topology.Graph, error) {
	return f.GraphOf(fallback, f.Peers+1)
}

// ABSide is the node one side of an A/B gate runs, from -base or -head's
// value: empty, the bundled node of the working tree; a path ending in
// .json, that spec; anything else, a git revision: of this module's
// bundled node (BundledAt), or with -ab-repo and -ab-package of that
// repository's package, run under -spec with its build replaced by the
// binary. The second result names the side in the report.
func (f *Flags) ABSide(t testing.TB, flagName, value string) (*spec.Spec, string) {
	t.Helper()
	switch {
	case value == "":
		return spec.Bundled(), "working tree"
	case strings.HasSuffix(value, ".json"):
		s, err := findSpec(value)
		if err != nil {
			t.Fatalf("-%s=%s: %v", flagName, value, err)
		}
		return s, value
	case f.ABRepo == "" && f.ABPackage == "":
		return BundledAt(t, value)
	case f.ABRepo == "" || f.ABPackage == "" || f.Spec == "":
		t.Fatalf("-%s=%s: a revision of another repository needs -ab-repo (its directory), -ab-package (its node's main package) and -spec (how to run it)", flagName, value)
	}
	s, err := findSpec(f.Spec)
	if err != nil {
		t.Fatalf("-spec: %v", err)
	}
	repo, err := FindFile(f.ABRepo) // typed from the repository's top, like the other paths
	if err != nil {
		t.Fatalf("-ab-repo: %v", err)
	}
	bin, name, err := BuildAt(t.TempDir(), repo, f.ABPackage, value, t.Logf)
	if err != nil {
		t.Fatalf("-%s=%s: %v", flagName, value, err)
	}
	s.Build, s.Image = &spec.Build{Binary: bin}, ""
	return s, name
}

// GraphOf is Graph with nodes nodes where the topology does not fix the
// count: for an experiment whose default size is not -peers'.
func (f *Flags) GraphOf(fallback string, nodes int) (topology.Graph, error) {
	s := f.Topology
	if s == "" {
		s = fallback
	}
	if path, ok := strings.CutPrefix(s, "file:"); ok {
		found, err := FindFile(path)
		if err != nil {
			return topology.Graph{}, fmt.Errorf("-topology: %w", err)
		}
		s = "file:" + found
	}
	g, err := topology.Parse(s, nodes, f.Seed)
	if err != nil {
		return g, fmt.Errorf("-topology: %w", err)
	}
	return g, nil
}

// findSpec loads the spec file a flag names, found as FindFile finds it.
func findSpec(path string) (*spec.Spec, error) {
	found, err := FindFile(path)
	if err != nil {
		return nil, err
	}
	return spec.Load(found)
}

// FindFile resolves a path given on the command line: as it is when
// absolute or present relative to the working directory (the test's
// package: `go test` runs there), else relative to the module root, since
// people type paths from the repository's top. The error names both places.
func FindFile(path string) (string, error) {
	if _, err := os.Stat(path); err == nil || filepath.IsAbs(path) {
		return path, err
	}
	wd, _ := os.Getwd()
	root, rerr := findModuleRoot(wd)
	if rerr == nil {
		if _, err := os.Stat(filepath.Join(root, path)); err == nil {
			return filepath.Join(root, path), nil
		}
	}
	where := fmt.Sprintf("neither in the test's package directory %s", wd)
	if rerr == nil {
		where += " nor in the module root " + root
	}
	return "", fmt.Errorf("%s: no such file, %s", path, where)
}

// findModuleRoot is the nearest directory at or above dir with a go.mod.
func findModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}
