package meshtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"golang.org/x/sync/errgroup"
)

// Labels put on every container and network meshtest creates. The run label
// is what teardown and the sweep select on; pid and host let a later run tell
// a live run (leave it alone) from a killed one (remove what it left).
const (
	LabelRun   = "meshtest.run"
	LabelTest  = "meshtest.test"
	LabelNode  = "meshtest.node"
	LabelRole  = "meshtest.role"
	LabelGroup = "meshtest.group"
	labelPID   = "meshtest.pid"
	labelHost  = "meshtest.host"
)

// engine is the Docker API as meshtest uses it: the client testcontainers-go
// configures (DOCKER_HOST, ~/.testcontainers.properties), for the calls that
// testcontainers has no verb for (lists, stats, logs, bulk removal).
type engine struct {
	*testcontainers.DockerClient
}

// disableReaper turns off testcontainers' Ryuk reaper before its configuration
// is first read: its image cannot be pulled offline, and meshtest removes what
// it starts itself (by label, on every exit path, and by sweeping killed runs).
func disableReaper() {
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

func newEngine(ctx context.Context) (*engine, error) {
	disableReaper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to Docker: %w (is the engine running? `docker info` must work)", err)
	}
	return &engine{cli}, nil
}

// DockerAvailable reports whether a Docker engine answers, with the reason
// when it does not.
func DockerAvailable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	disableReaper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("no Docker engine answers: %w", err)
	}
	return nil
}

// runLabels are the labels that mark a resource as this run's.
func runLabels(run, test string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelRun:  run,
		LabelTest: test,
		labelPID:  strconv.Itoa(os.Getpid()),
		labelHost: host,
	}
}

func runFilter(run string) client.Filters {
	return make(client.Filters).Add("label", LabelRun+"="+run)
}

// removeRun removes every container and then the network of one run. It
// stops each container with no grace period before removing it: force-removing
// many running containers at once was seen to leave a bridge that refuses
// removal ("has active endpoints"), stopping first was not, and is no slower.
// It keeps going past errors and returns them all.
func (e *engine) removeRun(ctx context.Context, run string, parallelism int) error {
	list, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(run)})
	if err != nil {
		return fmt.Errorf("list containers of run %s: %w", run, err)
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	g := new(errgroup.Group)
	g.SetLimit(max(parallelism, 4))
	for _, c := range list.Items {
		g.Go(func() error {
			if err := e.removeContainer(ctx, c.ID); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	nets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(run)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks of run %s: %w", run, err))...)
	}
	for _, n := range nets.Items {
		if err := e.removeNetwork(ctx, n.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *engine) removeContainer(ctx context.Context, id string) error {
	zero := 0
	// A container that already exited makes Stop a no-op; errors from Stop
	// are not fatal because the forced removal below settles it either way.
	_, _ = e.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &zero})
	if _, err := e.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

// removeNetwork retries while the engine still counts endpoints of removed
// containers: seen here after bulk removals, it clears within seconds, and
// disconnecting the stale endpoints by force clears it sooner.
func (e *engine) removeNetwork(ctx context.Context, id string) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		_, err = e.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		if err == nil || isNotFound(err) {
			return nil
		}
		if strings.Contains(err.Error(), "active endpoints") {
			if ins, ierr := e.NetworkInspect(ctx, id, client.NetworkInspectOptions{}); ierr == nil {
				for cid := range ins.Network.Containers {
					_, _ = e.NetworkDisconnect(ctx, id, client.NetworkDisconnectOptions{Container: cid, Force: true})
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove network %.12s: %w (last error: %v)", id, ctx.Err(), err)
		case <-time.After(time.Duration(attempt+1) * 250 * time.Millisecond):
		}
	}
	return fmt.Errorf("remove network %.12s: %w", id, err)
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}

// sweep removes what killed runs left behind: resources labelled by a
// meshtest process on this host that no longer exists. Runs of live
// processes, on this host or another sharing the engine, are left alone.
func (e *engine) sweep(ctx context.Context, logf func(string, ...any)) {
	host, _ := os.Hostname()
	dead := map[string]bool{}
	consider := func(labels map[string]string) {
		run := labels[LabelRun]
		if run == "" || labels[labelHost] != host {
			return
		}
		pid, err := strconv.Atoi(labels[labelPID])
		if err != nil || pid == os.Getpid() {
			return
		}
		if processAlive(pid) {
			return
		}
		dead[run] = true
	}
	all := make(client.Filters).Add("label", LabelRun)
	if list, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: all}); err == nil {
		for _, c := range list.Items {
			consider(c.Labels)
		}
	}
	if nets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: all}); err == nil {
		for _, n := range nets.Items {
			consider(n.Labels)
		}
	}
	for run := range dead {
		logf("meshtest: removing run %s left by a process that no longer exists", run)
		if err := e.removeRun(ctx, run, 8); err != nil {
			logf("meshtest: sweep of run %s: %v", run, err)
		}
	}
}

// processAlive reports whether a process with this PID exists. EPERM means
// it exists but belongs to someone else.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ContainerInspectIP returns a container's address on a network.
func (e *engine) ContainerInspectIP(ctx context.Context, id, network string) (string, error) {
	ins, err := e.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", err
	}
	if ins.Container.NetworkSettings != nil {
		if ep := ins.Container.NetworkSettings.Networks[network]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String(), nil
		}
	}
	return "", fmt.Errorf("no address on network %s", network)
}
