package backend

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/meshtest/meshtest/meshtest/cgroup"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// ErrStuckNetwork is wrapped by RemoveRun's error when the engine refuses to
// remove a run's network for good (Docker's "has active endpoints" with no
// container left): retrying does not help, so callers neither wait for it
// nor retry it, and the error says what clears it.
var ErrStuckNetwork = errors.New("network stuck in the engine")

// Logf prints a line of progress, as testing.TB.Logf does.
type Logf func(format string, args ...any)

// Backend runs the nodes and services of meshes. A Backend is safe for
// concurrent use; one serves every mesh of a test process.
type Backend interface {
	// Name names the backend in logs and in summary.json: "docker".
	Name() string
	// Image returns what Start runs for s: its image, checked to exist, or
	// the image its build makes, built on first use and reused after. A
	// non-empty override replaces the spec's image (Config.Image).
	Image(ctx context.Context, s *spec.Spec, override string, logf Logf) (string, error)
	// NewRun creates the run's network: isolated, with no route out, and
	// reachable from the harness. Everything the run creates carries its ID.
	NewRun(ctx context.Context, opts RunOptions) (Run, error)
	// RemoveRun removes everything of the run with this ID: units first,
	// then its network. It keeps going past errors and returns them all. A
	// run that has nothing left is not an error.
	RemoveRun(ctx context.Context, id string, logf Logf) error
	// Leftovers lists what of run id the backend still holds ("container
	// meshtest-star-1a2b-peer-001", "network meshtest-star-1a2b"): empty
	// after RemoveRun.
	Leftovers(ctx context.Context, id string) ([]string, error)
	// RemoveAbandoned removes what runs of processes that no longer exist left behind,
	// and leaves the runs of live processes (anyone's) alone.
	RemoveAbandoned(ctx context.Context, logf Logf)
	// Info describes the engine, for the summary. It is read once.
	Info(ctx context.Context) Info
}

// RunOptions describe a run to NewRun.
type RunOptions struct {
	ID   string // unique to this run: "star-1a2b3c4d"
	Test string // the test that owns it, for labels and for people
}

// Run is one mesh's share of a backend: its network and what runs on it.
type Run interface {
	// ID is the run's RunOptions.ID.
	ID() string
	// Network names the run's network, for people and for -keep.
	Network() string
	// Start creates and starts one unit and returns once it is started,
	// not ready. On error the returned Instance names what was created, so
	// that its logs can be read; RemoveRun removes it.
	Start(ctx context.Context, u Unit) (Instance, error)
	// Status reports every started unit of the run, by name, with one call.
	Status(ctx context.Context) (map[string]Status, error)
	// Logs returns a unit's output, stdout and stderr interleaved; tail > 0
	// keeps only its last lines.
	Logs(ctx context.Context, name string, tail int) (string, error)
	// Cost opens the cost readers of the named units for a sampling window.
	Cost(ctx context.Context, names []string) (CostReader, error)
	// HostAddr is an address of the harness's host that units on the run's
	// network reach, for a listener of the harness (Prometheus's exporter).
	HostAddr(ctx context.Context) (string, error)
	// CopyFrom streams a path out of a unit as a tar archive.
	CopyFrom(ctx context.Context, name, path string) (io.ReadCloser, error)
	// RemoveCommand is the shell command that removes the run by hand.
	RemoveCommand() string
}

// Unit is one node or service as a backend runs it: a spec rendered for one
// node, with its image resolved.
type Unit struct {
	Name  string // unique in the run; also its DNS name on the run's network
	Role  string // "bootstrap", "peer", a group's name, or "service"
	Group string // the spec's name
	Image string // from Backend.Image
	spec.Rendered
	Tmpfs       map[string]string // path -> mount options
	MetricsPort int               // the port the harness reaches the unit on
	MemoryBytes int64             // 0: no limit
	CPUs        float64           // 0: no limit
	CapAdd      []string          // beyond none
}

// Instance is a started unit as the backend knows it.
type Instance struct {
	Name string
	// Handle is the backend's own name for the unit: a Docker container ID.
	Handle string
	Image  string
}

// Status is a unit's state as Status last saw it.
type Status struct {
	Running bool
	State   string // the backend's word: "running", "exited", "dead", …
	IP      string // address on the run's network, "" while unknown
	// MetricsAddr is host:port where the harness reaches the unit's metrics
	// port: its IP on the run's network, or a port on 127.0.0.1 where the
	// host cannot route to unit addresses.
	MetricsAddr string
}

// CostReader reads units' cgroup figures during a sampling window. A figure
// the backend cannot read is NaN, never zero.
type CostReader interface {
	Read(ctx context.Context, name string) (cgroup.Stats, error)
	// Source says where the figures come from, and why not from somewhere
	// better: "cgroupfs", or "docker-stats-api (cgroupfs: …)".
	Source() string
	Close() error
}

// Info describes the engine a mesh ran on.
type Info struct {
	Backend       string `json:"backend"`
	ServerVersion string `json:"server_version,omitempty"`
	APIVersion    string `json:"api_version,omitempty"`
	StorageDriver string `json:"storage_driver,omitempty"`
	CgroupVersion string `json:"cgroup_version,omitempty"`
	CgroupDriver  string `json:"cgroup_driver,omitempty"`
}

// FloorMeasurer is a backend that can measure its own raw speed: n plain
// units of image created and started with no harness in between, and
// removed again before it returns. The harness's bring-up is reported
// against it, measured in the same run.
type FloorMeasurer interface {
	Floor(ctx context.Context, opts RunOptions, image string, n, parallelism int, logf Logf) (time.Duration, error)
}
