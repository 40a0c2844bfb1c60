package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/cgroup"
)

// Cost prefers reading each container's cgroup files on the host: a few
// small file reads per node, against a round trip through the Docker daemon
// (which then does the same reads and encodes them as JSON). At 100 nodes a
// second that is the difference between the harness disturbing what it
// measures and not. Where the files are out of reach (Docker Desktop, a
// remote engine, a harness in a container without the host's /sys) it falls
// back to the stats API and says why in Source.
func (r *run) Cost(ctx context.Context, names []string) (backend.CostReader, error) {
	ids := map[string]string{}
	for _, name := range names {
		id, err := r.container(name)
		if err != nil {
			return nil, err
		}
		ids[name] = id
	}
	why := "cgroup files are read on Linux hosts only"
	if runtime.GOOS == "linux" {
		src, err := openCgroups(ctx, r.b, ids)
		if err == nil {
			return src, nil
		}
		why = err.Error()
	}
	units := map[string]statsUnit{}
	for name, id := range ids {
		units[name] = statsUnit{cli: r.b.cli.Client, id: id}
	}
	return &apiCost{units: units, source: "docker-stats-api (cgroupfs: " + why + ")"}, nil
}

// cgroupCost keeps each container's cgroup files open for the window: on
// this kind of VM the open and close calls were 80 % of a read's cost.
type cgroupCost struct {
	mu     sync.Mutex
	byName map[string]*cgroup.Handle
}

func (c *cgroupCost) Source() string { return "cgroupfs" }

func (c *cgroupCost) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.byName {
		h.Close()
	}
	return nil
}

// openCgroups finds each container's cgroup and init PID once, before
// sampling.
func openCgroups(ctx context.Context, b *Backend, ids map[string]string) (*cgroupCost, error) {
	r, err := cgroup.NewReader("/sys/fs/cgroup", "/proc")
	if err != nil {
		return nil, err
	}
	c := &cgroupCost{byName: map[string]*cgroup.Handle{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for name, id := range ids {
		g.Go(func() error {
			ins, err := b.cli.ContainerInspect(gctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return fmt.Errorf("inspect %s: %w", name, err)
			}
			if ins.Container.State == nil || ins.Container.State.Pid == 0 {
				return fmt.Errorf("%s is not running", name)
			}
			cg, err := r.Find(id)
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
			c.byName[name] = h
			c.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *cgroupCost) Read(_ context.Context, name string) (cgroup.Stats, error) {
	c.mu.Lock()
	h, ok := c.byName[name]
	c.mu.Unlock()
	if !ok {
		return cgroup.Stats{}, fmt.Errorf("no cgroup known for %s", name)
	}
	return h.Read()
}

// apiCost asks each unit's engine for one-shot stats: no second sample, so
// a call returns at once; CPU rates come from consecutive rounds as above.
type apiCost struct {
	units  map[string]statsUnit
	source string
}

// statsUnit is a unit's container and the engine that runs it.
type statsUnit struct {
	cli *client.Client
	id  string
}

func (a *apiCost) Source() string { return a.source }

func (a *apiCost) Close() error { return nil }

func (a *apiCost) Read(ctx context.Context, name string) (cgroup.Stats, error) {
	u, ok := a.units[name]
	if !ok {
		return cgroup.Stats{}, fmt.Errorf("stats of %s: not a unit of this window", name)
	}
	res, err := u.cli.ContainerStats(ctx, u.id, client.ContainerStatsOptions{})
	if err != nil {
		return cgroup.Stats{}, fmt.Errorf("stats of %s: %w", name, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return cgroup.Stats{}, fmt.Errorf("stats of %s: %w", name, err)
	}
	return statsFromAPI(&s), nil
}

// statsFromAPI maps the engine's stats to the cgroup figures, subtracting
// the inactive file cache from memory as `docker stats` does (v1 and v2 name
// it differently). A figure the engine did not report is NaN, never zero: a
// running container has at least one task, and its memory statistics name
// its anonymous memory.
func statsFromAPI(s *container.StatsResponse) cgroup.Stats {
	mem := float64(s.MemoryStats.Usage)
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := s.MemoryStats.Stats[k]; ok && float64(v) < mem {
			mem -= float64(v)
			break
		}
	}
	rss := math.NaN()
	for _, k := range []string{"total_rss", "anon"} {
		if v, ok := s.MemoryStats.Stats[k]; ok {
			rss = float64(v)
			break
		}
	}
	out := cgroup.Stats{
		CPUSeconds:     float64(s.CPUStats.CPUUsage.TotalUsage) / 1e9,
		MemoryBytes:    mem,
		MemoryRSSBytes: rss,
		PIDs:           math.NaN(),
		NetRxBytes:     math.NaN(),
		NetTxBytes:     math.NaN(),
	}
	if s.PidsStats.Current > 0 {
		out.PIDs = float64(s.PidsStats.Current)
	}
	if len(s.Networks) > 0 {
		out.NetRxBytes, out.NetTxBytes = 0, 0
		for _, nw := range s.Networks {
			out.NetRxBytes += float64(nw.RxBytes)
			out.NetTxBytes += float64(nw.TxBytes)
		}
	}
	return out
}
