package meshtest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/cgroup"
)

// containerCost reads one container's cgroup figures.
type containerCost interface {
	read(ctx context.Context, n *Node) (cgroup.Stats, error)
	// kind names the source in the summary: "cgroupfs" or "docker-stats-api".
	kind() string
	close()
}

// newContainerCost prefers reading each container's cgroup files on the
// host: a few small file reads per node, against a round trip through the
// Docker daemon (which then does the same reads and encodes them as JSON).
// At 100 nodes a second that is the difference between the harness disturbing
// what it measures and not. Where the files are out of reach (Docker Desktop,
// a remote engine) it falls back to the stats API.
func newContainerCost(ctx context.Context, e *engine, nodes []*Node) (containerCost, error) {
	if runtime.GOOS == "linux" {
		if r, err := cgroup.NewReader("/sys/fs/cgroup", "/proc"); err == nil {
			src := &cgroupCost{byNode: map[*Node]*cgroup.Handle{}}
			if err := src.resolve(ctx, e, r, nodes); err == nil {
				return src, nil
			}
			src.close()
		}
	}
	return &apiCost{e: e}, nil
}

// cgroupCost keeps each container's cgroup files open for the window: on
// this kind of VM the open and close calls were 80 % of a read's cost.
type cgroupCost struct {
	mu     sync.Mutex
	byNode map[*Node]*cgroup.Handle
}

func (c *cgroupCost) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.byNode {
		h.Close()
	}
}

func (c *cgroupCost) kind() string { return "cgroupfs" }

// resolve finds each container's cgroup and init PID once, before sampling.
func (c *cgroupCost) resolve(ctx context.Context, e *engine, r *cgroup.Reader, nodes []*Node) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, n := range nodes {
		g.Go(func() error {
			ins, err := e.ContainerInspect(gctx, n.Container, client.ContainerInspectOptions{})
			if err != nil {
				return fmt.Errorf("inspect %s: %w", n.Name, err)
			}
			if ins.Container.State == nil || ins.Container.State.Pid == 0 {
				return fmt.Errorf("%s is not running", n.Name)
			}
			cg, err := r.Find(n.Container)
			if err != nil {
				return err
			}
			// Opening also reads /proc/<pid>/net/dev, which the harness
			// cannot see when it runs in a container itself.
			h, err := cg.Open(ins.Container.State.Pid)
			if err != nil {
				return err
			}
			c.mu.Lock()
			n.pid = ins.Container.State.Pid
			c.byNode[n] = h
			c.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func (c *cgroupCost) read(_ context.Context, n *Node) (cgroup.Stats, error) {
	c.mu.Lock()
	h, ok := c.byNode[n]
	c.mu.Unlock()
	if !ok {
		return cgroup.Stats{}, fmt.Errorf("no cgroup known for %s", n.Name)
	}
	return h.Read()
}

// apiCost asks the Docker daemon for one-shot stats: no second sample, so a
// call returns at once; CPU rates come from consecutive rounds like above.
type apiCost struct{ e *engine }

func (a *apiCost) kind() string { return "docker-stats-api" }

func (a *apiCost) close() {}

func (a *apiCost) read(ctx context.Context, n *Node) (cgroup.Stats, error) {
	res, err := a.e.ContainerStats(ctx, n.Container, client.ContainerStatsOptions{})
	if err != nil {
		return cgroup.Stats{}, fmt.Errorf("stats of %s: %w", n.Name, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return cgroup.Stats{}, fmt.Errorf("stats of %s: %w", n.Name, err)
	}
	return statsFromAPI(&s), nil
}

// statsFromAPI maps the engine's stats to the cgroup figures, subtracting
// the inactive file cache from memory as `docker stats` does (v1 and v2 name
// it differently).
func statsFromAPI(s *container.StatsResponse) cgroup.Stats {
	mem := float64(s.MemoryStats.Usage)
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := s.MemoryStats.Stats[k]; ok && float64(v) < mem {
			mem -= float64(v)
			break
		}
	}
	rss := float64(s.MemoryStats.Stats["total_rss"])
	if rss == 0 {
		rss = float64(s.MemoryStats.Stats["anon"])
	}
	out := cgroup.Stats{
		CPUSeconds:     float64(s.CPUStats.CPUUsage.TotalUsage) / 1e9,
		MemoryBytes:    mem,
		MemoryRSSBytes: rss,
		PIDs:           float64(s.PidsStats.Current),
	}
	for _, nw := range s.Networks {
		out.NetRxBytes += float64(nw.RxBytes)
		out.NetTxBytes += float64(nw.TxBytes)
	}
	return out
}
