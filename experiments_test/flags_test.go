package experiments_test

import (
	"flag"
	"time"

	"github.com/meshtest/meshtest/meshtest"
)

// Experiment flags, all in one place. Defaults keep `go test ./...` small
// (ten peers, ten seconds); the main job sets -peers=100.
var (
	peers    = flag.Int("peers", 10, "number of peers besides the bootstrap (1..1022)")
	duration = flag.Duration("duration", 15*time.Second, "sampling window once the mesh has converged")
	interval = flag.Duration("interval", time.Second, "time between two samples of every node")
	keep     = flag.Bool("keep", false, "leave the mesh running after the test and print how to remove it")
	results  = flag.String("results", "results", "directory that also receives each experiment's charts, samples and summary (empty: only t.ArtifactDir)")
	floor    = flag.Bool("floor", false, "before the mesh, start the same number of plain containers through the Docker API and report bring-up against it")
)

// config is the mesh the flags describe, for the experiment called name.
func config(name string) meshtest.Config {
	return meshtest.Config{
		Name:         name,
		Peers:        *peers,
		Interval:     *interval,
		Keep:         *keep,
		ResultsDir:   *results,
		MeasureFloor: *floor,
	}
}
