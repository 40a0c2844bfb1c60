package experiments_test

import (
	"flag"

	"github.com/meshtest/meshtest/meshtest"
)

// flags are the experiment flags, all in one place: the ones any test
// package gets from meshtest.RegisterFlags (-peers, -duration, -interval,
// -keep, -results, -floor, -spec, -bootstrap-spec, -topology, -seed,
// -monitor), and this package's own below. Defaults keep `go test ./...`
// small (ten peers, fifteen seconds); the main job sets -peers=100.
var flags = meshtest.RegisterFlags(flag.CommandLine)
