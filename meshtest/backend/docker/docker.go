package docker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// Labels put on every container and network this backend creates. The run
// label is what removal and the sweep select on; the process label lets a
// later run tell a live run (leave it alone) from a killed one (remove what
// it left).
const (
	LabelRun     = "meshtest.run"
	LabelTest    = "meshtest.test"
	LabelNode    = "meshtest.node"
	LabelRole    = "meshtest.role"
	LabelGroup   = "meshtest.group"
	labelHost    = "meshtest.host"
	labelPID     = "meshtest.pid"
	labelProcess = "meshtest.process" // host/pid/start time: see process.go

	labelMetricsPort = "meshtest.metrics-port" // the port Status reports as MetricsAddr
)

// Options configure the Docker backend.
type Options struct {
	// PublishPorts reaches units through their metrics port published on
	// 127.0.0.1 (never 0.0.0.0) instead of their container IPs: for hosts
	// that cannot route to container IPs (Docker Desktop on macOS and
	// Windows). It costs a docker-proxy process per unit, and the run's
	// network then cannot be internal: Docker publishes no ports from
	// internal networks.
	PublishPorts bool
	// Parallelism bounds concurrent removals. Default 8.
	Parallelism int
}

// Backend runs meshes as containers of one Docker engine, through
// testcontainers-go for creation and the engine's API for the rest.
type Backend struct {
	cli  *testcontainers.DockerClient
	opts Options

	infoOnce sync.Once
	info     backend.Info
}

var _ backend.Backend = (*Backend)(nil)
var _ backend.FloorMeasurer = (*Backend)(nil)

// disableReaper turns off testcontainers' Ryuk reaper before its configuration
// is first read: its image cannot be pulled offline, and meshtest removes what
// it starts itself (by label, on every exit path, and by sweeping killed runs).
func disableReaper() {
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

// New connects to the engine testcontainers-go finds (DOCKER_HOST, Docker
// contexts, ~/.testcontainers.properties, rootless sockets).
func New(ctx context.Context, opts Options) (*Backend, error) {
	disableReaper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to Docker: %w (is the engine running? `docker info` must work)", err)
	}
	if opts.Parallelism == 0 {
		opts.Parallelism = 8
	}
	return &Backend{cli: cli, opts: opts}, nil
}

// Available reports whether a Docker engine answers, found the way New finds
// it, with the reason when none does.
func Available(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := New(ctx, Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("no Docker engine answers: %w", err)
	}
	return nil
}

// Require skips t when no Docker engine answers, saying why, so that
// `go test ./...` passes on a machine without one. With
// MESHTEST_REQUIRE_DOCKER=1 (as in CI) a missing engine fails t instead:
// there a skip would hide that nothing was tested.
func Require(t testing.TB) {
	t.Helper()
	err := Available(t.Context())
	if err == nil {
		return
	}
	if os.Getenv("MESHTEST_REQUIRE_DOCKER") == "1" {
		t.Fatalf("meshtest: MESHTEST_REQUIRE_DOCKER=1 but %v", err)
	}
	t.Skipf("meshtest: skipping, this test deploys containers: %v (set MESHTEST_REQUIRE_DOCKER=1 to fail instead)", err)
}

// Close releases the connection to the engine.
func (b *Backend) Close() error { return b.cli.Close() }

// Name is "docker".
func (b *Backend) Name() string { return "docker" }

// Info describes the engine; it asks once per Backend.
func (b *Backend) Info(ctx context.Context) backend.Info {
	b.infoOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		b.info = engineInfo(ctx, b.cli.Client)
		b.info.Backend = "docker"
	})
	return b.info
}

// engineInfo is what an engine says of itself; a figure it does not give
// stays empty.
func engineInfo(ctx context.Context, cli *client.Client) backend.Info {
	var out backend.Info
	if v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		out.ServerVersion, out.APIVersion = v.Version, v.APIVersion
	}
	if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil {
		out.StorageDriver, out.CgroupVersion, out.CgroupDriver = info.Info.Driver, info.Info.CgroupVersion, info.Info.CgroupDriver
	}
	return out
}

// runLabels are the labels that mark a resource as this run's, and this
// process's.
func runLabels(run, test string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelRun:     run,
		LabelTest:    test,
		labelHost:    host,
		labelPID:     strconv.Itoa(os.Getpid()),
		labelProcess: self.String(),
	}
}

func runFilter(run string) client.Filters {
	return make(client.Filters).Add("label", LabelRun+"="+run)
}

// networkName is the run's network: fresh for every run, because a network
// the engine refuses to remove must not block the next run's.
func networkName(run string) string { return "meshtest-" + run }
