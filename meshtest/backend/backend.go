package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	// HelperImage returns the image of meshtest's own network helper,
	// meshshaper (meshtest/shape/cmd/meshshaper of this module), that the
	// fixture runs next to a node as a sidecar (Unit.NetworkOf): built from
	// source on first use, reused after, and rebuilt only when it changes.
	HelperImage(ctx context.Context, logf Logf) (string, error)
}

// RunOptions describe a run to NewRun.
type RunOptions struct {
	ID   string // unique to this run: "star-1a2b3c4d"
	Test string // the test that owns it, for labels and for people
	// Networks is how many networks the run spreads its units over, for
	// meshes larger than one network holds (a Linux bridge takes 1023
	// containers); 0 means 1. Units say which they join (Unit.Networks).
	Networks int
}

// Run is one mesh's share of a backend: its network and what runs on it.
type Run interface {
	// ID is the run's RunOptions.ID.
	ID() string
	// Network names the run's (first) network, for people and for -keep.
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
	// Act does a to the named unit, sidecars included, and returns once the
	// engine has done it: after Kill and Stop the unit has exited, after
	// Start it runs (not ready), and Status shows the new state and address.
	// What each Action does to the unit's network namespace and address is
	// documented with it. Errors name the action and the unit ("kill
	// peer-003: …"); an action the backend does not know, or lacks, wraps
	// errors.ErrUnsupported.
	Act(ctx context.Context, name string, a Action) error
	// Exits reports every death of a unit of the run, sidecars included, from
	// the moment it is called until ctx ends: an exit, a kill (Act's own
	// too: Kill, Stop and Restart are deaths), an OOM kill, and RemoveRun's
	// stops, so end ctx before removing the run. Deaths are sent in the
	// order the engine saw them, as they happen, and none is dropped for a
	// slow receiver. The channel closes when ctx ends; if the backend loses
	// its view of deaths first (the engine goes away), its last value is an
	// Exit with Err set and Name "", and then it closes. An error from Exits
	// itself means nothing is watched.
	Exits(ctx context.Context) (<-chan Exit, error)
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
	// Networks are the run's networks the unit joins, by index below
	// RunOptions.Networks; nil joins the first. Units on different
	// networks reach each other only through a unit on both.
	Networks []int
	// NetworkOf makes the unit a sidecar: it joins the network namespace of
	// the named unit of the same run, started before it, instead of the
	// run's network. It has no address, alias or published port of its own
	// (MetricsPort is not reached), and sees its parent's interfaces and
	// address. It is for meshtest's own helpers, such as the shaper, which
	// gets CapAdd NET_ADMIN and keeps every other restriction. A sidecar
	// stays in the namespace it joined: when its parent is stopped or killed
	// it keeps running with only lo, and after the parent's Start or
	// Restart it must be restarted (Act Restart) to join the parent's new
	// namespace. RemoveRun removes sidecars before their parents.
	NetworkOf string
}

// Action is a fault Run.Act does to one unit. What the constants say of
// namespaces and addresses was measured on Docker 20.10 (API 1.41), a
// bridge network per run:
//
//   - A unit that gets an address again (Start, Restart, Connect) gets the
//     lowest free address of the run's subnet, not its old one: the same
//     only if its old address was not taken and no lower one freed
//     meanwhile (measured: a unit at .5 stopped and started again came back
//     at .2, freed by a stop in between). Read it again from Status.
//   - Stop, Kill, Start and Restart end or replace the unit's network
//     namespace: it starts in a NEW one (new interfaces, no tc or nftables
//     state). A sidecar (Unit.NetworkOf) is left behind in the old one with
//     only lo, still running, and must be restarted to join the new one;
//     while its parent is down, starting it fails and leaves it exited.
//   - Disconnect and Connect keep the namespace, its processes and
//     sidecars, but Connect makes a new interface whose name counts up
//     (eth0, then eth1, eth2, …: measured), so a helper that named the old
//     interface, or put tc state on it, must be started again.
//   - Pause and Unpause change nothing of the network: the unit keeps its
//     namespace, interface, address and open connections, and answers
//     nothing while paused.
type Action string

// The actions every backend names the same way.
const (
	// Kill sends SIGKILL: the unit exits with code 137 and its namespace and
	// address are gone.
	Kill Action = "kill"
	// Stop sends SIGTERM (or the image's stop signal) and SIGKILL after
	// StopGrace; then as Kill. Stopping a unit that is not running does
	// nothing.
	Stop Action = "stop"
	// Start starts a stopped or killed unit again: the same container, so the
	// same name, alias, files, settings and identity, in a new namespace with
	// a new address. Starting a running unit does nothing.
	Start Action = "start"
	// Restart is Stop then Start.
	Restart Action = "restart"
	// Pause freezes every process of the unit (the cgroup freezer); Status
	// shows State "paused" and Running true.
	Pause Action = "pause"
	// Unpause thaws a paused unit.
	Unpause Action = "unpause"
	// Disconnect detaches the unit from the run's network, forced: its
	// interface there and its address are gone, its processes keep running.
	// A sidecar has no network of its own to detach: ErrUnsupported.
	Disconnect Action = "disconnect"
	// Connect attaches a disconnected unit to the run's network again, with
	// its Name as its DNS alias, on a new interface and address.
	Connect Action = "connect"
	// Remove kills the unit and deletes it, so that Start can create a new
	// unit of the same name: a node replaced by a newcomer (churn with new
	// identities). Remove a unit's sidecars before the unit.
	Remove Action = "remove"
)

// StopGrace is how long Stop and Restart wait after SIGTERM before they
// kill: a node that handles SIGTERM exits well within it, and the engine's
// own default (10 s) would make every stop of a node that ignores SIGTERM
// cost ten seconds of the experiment.
const StopGrace = 2 * time.Second

// Exit is one death of a unit, as Run.Exits reports it.
type Exit struct {
	Name string // the unit; "" only on a last Exit that carries Err
	// Code is the unit's exit code: 137 (128+SIGKILL) when it was killed,
	// by Kill, by Stop past its grace, or by the OOM killer.
	Code int
	// OOMKilled says the kernel's OOM killer killed a process of the unit
	// since its previous death (a unit past its MemoryBytes). False is not
	// proof: an engine can lose the kernel's notice of a kill when the
	// killed process was the unit's last (Docker's does under load), so a
	// 137 with OOMKilled false may still have been one.
	OOMKilled bool
	At        time.Time // when the engine saw it die
	// Err, on the last value the channel carries before it closes, says
	// why the backend stopped watching before ctx ended: deaths after it
	// are not reported. It is nil on every other Exit.
	Err error
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
	// Running is true while the unit's processes exist: running, or paused
	// (Act Pause), which State tells apart. A sidecar whose parent died is
	// still running, in a namespace with nothing but lo.
	Running bool
	State   string // the backend's word: "running", "paused", "exited", "dead", …
	// IP is the unit's address on the run's network, "" while unknown,
	// while it is disconnected (Act Disconnect) or not running, and always
	// for a sidecar: its parent's Status has the address they share.
	IP string
	// MetricsAddr is host:port where the harness reaches the unit's metrics
	// port: its IP on the run's network, or a port on 127.0.0.1 where the
	// host cannot route to unit addresses.
	MetricsAddr string
	// Engine names the engine that runs the unit, on a backend of several
	// (a swarm's "e2"); "" on a backend of one engine.
	Engine string
}

// Dialer is a Run whose units' addresses the harness's host cannot route
// to (a swarm's overlay spans engines and exists only inside them): the
// harness opens every connection to a unit's MetricsAddr, or to any port
// at its IP, with DialContext, which has net.Dialer's shape. A Run that is
// no Dialer is reached directly.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
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
	// Engines names the engines of a backend of several (a swarm's), the
	// names Status.Engine gives; the other fields describe the first
	// (the swarm's manager).
	Engines []string `json:"engines,omitempty"`
	// Clocks are those engines' clocks against the harness's: what a
	// one-way time between nodes on two engines (a gossip delivery) can be
	// off by. Engines on one host share its clock, and measure so.
	Clocks []EngineClock `json:"clocks,omitempty"`
}

// EngineClock is one engine's clock offset from the harness's, read from
// the time the engine gives in its info, against the middle of the call.
type EngineClock struct {
	Engine   string  `json:"engine"`
	OffsetMs float64 `json:"offset_ms"` // engine − harness
	// UncertaintyMs is half the call's round trip: the offset is known to
	// within it.
	UncertaintyMs float64 `json:"uncertainty_ms"`
}

// String is the clock as reports print it: "e2 -0.31 ms (±0.40)".
func (c EngineClock) String() string {
	return fmt.Sprintf("%s %+.2f ms (±%.2f)", c.Engine, c.OffsetMs, c.UncertaintyMs)
}

// FloorMeasurer is a backend that can measure its own raw speed: n plain
// units of image created and started with no harness in between, and
// removed again, the same plain way, before it returns. The harness's
// bring-up and teardown are reported against it, measured in the same run.
type FloorMeasurer interface {
	Floor(ctx context.Context, opts RunOptions, image string, n, parallelism int, logf Logf) (FloorTimes, error)
}

// FloorTimes are the raw engine's times for n plain units.
type FloorTimes struct {
	Start  time.Duration // create and start all of them
	Remove time.Duration // force-remove all of them; 0 if that failed
}
