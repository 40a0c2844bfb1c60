package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// RemoveRun removes every container of the run, sidecars before the units
// whose namespace they share, then its network, going on past errors. Each
// container is stopped with no grace period before it is removed: force-removing many running containers at once was seen to leave
// a bridge that refuses removal, and stopping first is no slower. A network
// the engine refuses to remove for good is a *StuckNetworkError, tried only
// briefly.
func (b *Backend) RemoveRun(ctx context.Context, id string, logf backend.Logf) error {
	list, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(id)})
	if err != nil {
		return fmt.Errorf("list containers of run %s: %w", id, err)
	}
	errs := b.removeContainers(ctx, list.Items)
	nets, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(id)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks of run %s: %w", id, err))...)
	}
	for _, n := range nets.Items {
		err := b.removeNetwork(ctx, n.ID, n.Name, 3*time.Second)
		_, stuck := errors.AsType[*StuckNetworkError](err)
		_, held := errors.AsType[*HeldNetworkError](err)
		if stuck || held {
			stuckReported.Store(n.ID, true) // the caller says so; the sweep need not again
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeContainers removes containers with bounded parallelism, sidecars
// (NetworkMode container:<id>) in a first wave and the rest after, and
// returns every error. The engine lets a sidecar's parent go first, but the
// sidecar then runs on in a namespace no container owns, pointing at a
// container that no longer exists (it cannot even be restarted); removing
// sidecars first means that no moment, not even an interrupted removal,
// leaves one orphaned.
func (b *Backend) removeContainers(ctx context.Context, items []container.Summary) []error {
	var (
		mu   sync.Mutex
		errs []error
	)
	for _, sidecars := range []bool{true, false} {
		g := new(errgroup.Group)
		g.SetLimit(b.opts.Parallelism)
		for _, c := range items {
			if container.NetworkMode(c.HostConfig.NetworkMode).IsContainer() != sidecars {
				continue
			}
			g.Go(func() error {
				if err := b.removeContainer(ctx, c.ID); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				return nil
			})
		}
		g.Wait()
	}
	return errs
}

// removeContainer removes a container with one forced removal, as
// `docker rm -f` does: the engine kills it (SIGKILL, as a stop with no grace
// would) and removes it in the same call. A stop before it, as this used to
// do, was a second API call per container for the same kill: at 1001 nodes
// the teardown took 220.8 s against the engine's 173.8 s for as many plain
// containers removed this way.
func (b *Backend) removeContainer(ctx context.Context, id string) error {
	if _, err := b.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

// StuckNetworkError is a network the engine will not remove: it reports
// "active endpoints" with no container attached, its own store counts none,
// and no API call clears it. This is a Docker engine bug (seen here on
// 20.10 after bulk removals); only a daemon restart clears it.
type StuckNetworkError struct {
	Name, ID string
	Err      error
}

func (e *StuckNetworkError) Error() string {
	return fmt.Sprintf("network %s (%.12s) is stuck in the engine (\"has active endpoints\" with no container): "+
		"a Docker bug that only a daemon restart clears (`sudo systemctl restart docker`); meshtest leaves it and uses a fresh network for every run", e.Name, e.ID)
}

func (e *StuckNetworkError) Unwrap() error { return e.Err }

// Is makes the error a backend.ErrStuckNetwork.
func (e *StuckNetworkError) Is(target error) bool { return target == backend.ErrStuckNetwork }

// networkRemoves counts removal attempts by network ID, for tests that check
// a stuck network is not waited for. It is keyed by network, not kept on the
// Backend, because a sweep also removes other processes' dead runs from the
// shared engine; an entry is dropped once its network is gone.
var networkRemoves sync.Map // network ID -> *atomic.Int64

// removeNetwork retries for up to patience while the engine still counts
// endpoints of just-removed containers, which usually clears within a
// second, then says why it could not: a *HeldNetworkError when containers
// are still attached (not this run's: someone attached them), else a
// *StuckNetworkError. Retrying a stuck network longer only made every later
// run wait for it (52 s a network), and nothing but a daemon restart
// removes it.
func (b *Backend) removeNetwork(ctx context.Context, id, name string, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for attempt := 0; ; attempt++ {
		n, _ := networkRemoves.LoadOrStore(id, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		_, err := b.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		if err == nil || cerrdefs.IsNotFound(err) {
			networkRemoves.Delete(id)
			return nil
		}
		if !activeEndpoints(err) {
			return fmt.Errorf("remove network %s: %w", name, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return b.refusal(ctx, id, name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove network %s: %w (last error: %v)", name, ctx.Err(), err)
		case <-time.After(min(time.Duration(attempt+1)*250*time.Millisecond, left)):
		}
	}
}

// refusal says why the engine keeps refusing to remove a network: the
// containers still attached to it, or none, which is the engine's bug.
func (b *Backend) refusal(ctx context.Context, id, name string, err error) error {
	var attached []string
	if ins, ierr := b.cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{}); ierr == nil {
		for cid, ep := range ins.Network.Containers {
			attached = append(attached, cmp.Or(ep.Name, cid[:min(12, len(cid))]))
		}
	}
	return classifyRefusal(id, name, attached, err)
}

// classifyRefusal is refusal's decision, apart from the engine.
func classifyRefusal(id, name string, attached []string, err error) error {
	if len(attached) > 0 {
		slices.Sort(attached)
		return &HeldNetworkError{Name: name, ID: id, Containers: attached, Err: err}
	}
	return &StuckNetworkError{Name: name, ID: id, Err: err}
}

// HeldNetworkError is a run's network that containers not of the run are
// still attached to: removing or disconnecting them frees it.
type HeldNetworkError struct {
	Name, ID   string
	Containers []string
	Err        error
}

func (e *HeldNetworkError) Error() string {
	return fmt.Sprintf("network %s is held by containers that are not of its run (%s): disconnect or remove them (`docker network disconnect -f %s <container>`) and the next run removes it",
		e.Name, strings.Join(e.Containers, ", "), e.Name)
}

func (e *HeldNetworkError) Unwrap() error { return e.Err }

// activeEndpoints tells the engine's refusal to remove a network that still
// has endpoints: it answers 403 (errdefs' PermissionDenied) for it, as for
// other refusals, so the message tells them apart.
func activeEndpoints(err error) bool {
	return cerrdefs.IsPermissionDenied(err) && strings.Contains(err.Error(), "active endpoints")
}

// Leftovers lists the run's containers and networks still on the engine.
func (b *Backend) Leftovers(ctx context.Context, id string) ([]string, error) {
	return b.labelled(ctx, runFilter(id), "run "+id)
}

// labelled lists the containers and networks that filter selects, as
// "container NAME" and "network NAME"; what names them in errors.
func (b *Backend) labelled(ctx context.Context, filter client.Filters, what string) ([]string, error) {
	var out []string
	cs, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", what, err)
	}
	for _, c := range cs.Items {
		out = append(out, "container "+strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	ns, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list networks of %s: %w", what, err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out, nil
}

// stuckReported remembers the networks this process has named as stuck or
// held, so each is reported once and not again by every later sweep.
// Like the engine's bug it describes, it outlives any one test.
var stuckReported sync.Map

// RemoveAbandoned removes what killed runs left behind: resources labelled by a
// meshtest process on this host that no longer exists (PID and start time,
// so a reused PID does not keep them). Runs of live processes, on this host
// or another sharing the engine, are left alone. A network stuck in the
// engine is tried once, named once, and never waited for.
func (b *Backend) RemoveAbandoned(ctx context.Context, logf backend.Logf) {
	dead := map[string]bool{}
	consider := func(labels map[string]string) {
		if run, ok := abandonedRun(labels); ok {
			dead[run] = true
		}
	}
	all := make(client.Filters).Add("label", LabelRun)
	list, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: all})
	if err != nil {
		logf("meshtest: sweep: list containers: %v (what killed runs left is not removed this time)", err)
		return
	}
	for _, c := range list.Items {
		consider(c.Labels)
	}
	nets, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: all})
	if err != nil {
		logf("meshtest: sweep: list networks: %v (what killed runs left is not removed this time)", err)
		return
	}
	for _, n := range nets.Items {
		consider(n.Labels)
	}
	for run := range dead {
		if err := b.removeDeadRun(ctx, run, logf); err != nil {
			logf("meshtest: sweep of run %s: %v", run, err)
		}
	}
}

// abandonedRun reads a resource's labels: the run it belongs to, and
// whether that run's process, on this host, no longer exists.
func abandonedRun(labels map[string]string) (string, bool) {
	run := labels[LabelRun]
	if run == "" || labels[labelHost] != self.host {
		return "", false
	}
	p, ok := parseProcess(labels[labelProcess])
	if !ok {
		// A label of an older meshtest: its PID alone.
		var pid int
		if _, err := fmt.Sscan(labels[labelPID], &pid); err != nil || pid <= 0 {
			return "", false
		}
		p = process{host: labels[labelHost], pid: pid}
	}
	if p == self || p.alive() {
		return "", false
	}
	return run, true
}

// removeDeadRun removes a killed run's containers as RemoveRun does
// (sidecars first, in parallel), then tries each of its networks once. A
// network that stays (stuck in the engine, or held by someone's container)
// is named once per process and tried again by later sweeps, one attempt
// each: it costs a few milliseconds, and it may have been freed meanwhile.
func (b *Backend) removeDeadRun(ctx context.Context, run string, logf backend.Logf) error {
	list, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(run)})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	nets, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(run)})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	news := len(list.Items) > 0
	for _, n := range nets.Items {
		if _, seen := stuckReported.Load(n.ID); !seen {
			news = true
		}
	}
	if news {
		logf("meshtest: removing run %s left by a process that no longer exists (%d containers, %d networks)", run, len(list.Items), len(nets.Items))
	}
	errs := b.removeContainers(ctx, list.Items)
	for _, n := range nets.Items {
		err := b.removeNetwork(ctx, n.ID, n.Name, 0)
		_, stuck := errors.AsType[*StuckNetworkError](err)
		_, held := errors.AsType[*HeldNetworkError](err)
		if stuck || held {
			if _, seen := stuckReported.LoadOrStore(n.ID, true); !seen {
				logf("meshtest: %v", err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunsByTest lists the runs whose containers or networks are labelled with
// the test's name: what a test that ran another process's mesh can remove.
func (b *Backend) RunsByTest(ctx context.Context, test string) ([]string, error) {
	filter := make(client.Filters).Add("label", LabelTest+"="+test)
	runs := map[string]bool{}
	cs, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers of test %s: %w", test, err)
	}
	for _, c := range cs.Items {
		runs[c.Labels[LabelRun]] = true
	}
	ns, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list networks of test %s: %w", test, err)
	}
	for _, n := range ns.Items {
		runs[n.Labels[LabelRun]] = true
	}
	delete(runs, "")
	return slices.Sorted(maps.Keys(runs)), nil
}

// ByTest lists every container and network labelled with the test's name,
// of any run: what a test that must create nothing can check.
func (b *Backend) ByTest(ctx context.Context, test string) ([]string, error) {
	return b.labelled(ctx, make(client.Filters).Add("label", LabelTest+"="+test), "test "+test)
}
