package experiments_test

import (
	"flag"
	"fmt"
	"time"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// Experiment flags, all in one place. Defaults keep `go test ./...` small
// (ten peers, fifteen seconds); the main job sets -peers=100.
var (
	peers    = flag.Int("peers", 10, "number of peers besides the bootstrap (1..1022)")
	duration = flag.Duration("duration", 15*time.Second, "sampling window once the mesh has converged")
	interval = flag.Duration("interval", time.Second, "time between two samples of every node")
	keep     = flag.Bool("keep", false, "leave the mesh running after the test and print how to remove it")
	results  = flag.String("results", "results", "directory that also receives each experiment's charts, samples and summary (empty: only t.ArtifactDir)")
	floor    = flag.Bool("floor", false, "before the mesh, start the same number of plain containers through the Docker API and report bring-up against it")
	specFile = flag.String("spec", "", "JSON node spec to run instead of the bundled node (see README: running another image)")
	bootSpec = flag.String("bootstrap-spec", "", "JSON node spec for the bootstrap only (default: -spec)")
	topo     = flag.String("topology", "", "topology for TestTopology: star, line, ring, full, tree, random-regular, erdos-renyi, barabasi-albert, watts-strogatz or file:PATH, with NAME:key=value,... parameters (default barabasi-albert:m=2)")
	seed     = flag.Uint64("seed", 1, "seed of the random topologies")
	monitor  = flag.Bool("monitor", false, "deploy a Prometheus server (built from source) into the mesh; its snapshot goes into the artifacts")
)

// config is the mesh the flags describe, for the experiment called name.
func config(name string) (meshtest.Config, error) {
	cfg := meshtest.Config{
		Name:         name,
		Peers:        *peers,
		Interval:     *interval,
		Keep:         *keep,
		ResultsDir:   *results,
		MeasureFloor: *floor,
		Monitor:      *monitor,
	}
	if *specFile != "" {
		s, err := meshtest.LoadSpec(*specFile)
		if err != nil {
			return cfg, fmt.Errorf("-spec: %w", err)
		}
		cfg.Spec = s
	}
	if *bootSpec != "" {
		s, err := meshtest.LoadSpec(*bootSpec)
		if err != nil {
			return cfg, fmt.Errorf("-bootstrap-spec: %w", err)
		}
		cfg.BootstrapSpec = s
	}
	return cfg, cfg.Check()
}

// graph is the topology the flags describe: -peers+1 nodes where the
// topology does not fix the count itself.
func graph(fallback string) (topology.Graph, error) {
	spec := *topo
	if spec == "" {
		spec = fallback
	}
	g, err := topology.Parse(spec, *peers+1, *seed)
	if err != nil {
		return g, fmt.Errorf("-topology: %w", err)
	}
	return g, nil
}
