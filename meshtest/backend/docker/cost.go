package docker

import (
	"context"
	"encoding/json"
	"errors"
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
	return openStatsStreams(units, "docker-stats-api (cgroupfs: "+why+")"), nil
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

// statsStreams reads each unit's figures from its engine's stats stream,
// one stream per unit for the window, as `docker stats` does. The engine
// samples every container on its own one-second tick and a request for
// one sample waits for the next tick (Docker 20.10, measured here: 1.0 s a
// call, one-shot or not, after the first), which no 1 s sampling interval
// survives; a stream instead delivers every tick, and Read returns the
// latest at once, with the engine's time of it in Stats.At.
type statsStreams struct {
	source string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	streams map[string]*statsStream
}

// statsStream is one unit's stream: its latest sample, or why there is
// none.
type statsStream struct {
	first  chan struct{} // closed at the first sample or the stream's end
	latest cgroup.Stats
	got    bool
	err    error // why the stream ended
}

// statsUnit is a unit's container and the engine that runs it.
type statsUnit struct {
	cli *client.Client
	id  string
}

// openStatsStreams opens a stream for each unit; they run until Close.
func openStatsStreams(units map[string]statsUnit, source string) *statsStreams {
	ctx, cancel := context.WithCancel(context.Background())
	c := &statsStreams{source: source, cancel: cancel, streams: map[string]*statsStream{}}
	for name, u := range units {
		st := &statsStream{first: make(chan struct{})}
		c.streams[name] = st
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			err := c.follow(ctx, u, st)
			c.mu.Lock()
			st.err = fmt.Errorf("stats of %s: %w", name, err)
			c.mu.Unlock()
			select {
			case <-st.first:
			default:
				close(st.first)
			}
		}()
	}
	return c
}

// follow decodes one stream until it ends.
func (c *statsStreams) follow(ctx context.Context, u statsUnit, st *statsStream) error {
	res, err := u.cli.ContainerStats(ctx, u.id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			if ctx.Err() != nil {
				return errors.New("the window is closed")
			}
			return fmt.Errorf("the engine's stream ended: %w", err)
		}
		if s.Read.IsZero() || (s.CPUStats.CPUUsage.TotalUsage == 0 && s.MemoryStats.Usage == 0) {
			continue // a container that is not running streams empty samples
		}
		stats := statsFromAPI(&s)
		stats.At = s.Read
		c.mu.Lock()
		first := !st.got
		st.latest, st.got = stats, true
		c.mu.Unlock()
		if first {
			close(st.first)
		}
	}
}

func (c *statsStreams) Source() string { return c.source }

// Close ends every stream.
func (c *statsStreams) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// Read returns the unit's latest sample; before the first it waits for it,
// within ctx.
func (c *statsStreams) Read(ctx context.Context, name string) (cgroup.Stats, error) {
	st, ok := c.streams[name]
	if !ok {
		return cgroup.Stats{}, fmt.Errorf("stats of %s: not a unit of this window", name)
	}
	select {
	case <-st.first:
	case <-ctx.Done():
		return cgroup.Stats{}, fmt.Errorf("stats of %s: no sample from its engine yet: %w", name, ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.err != nil { // ended: its last figures, if any, are stale
		return cgroup.Stats{}, st.err
	}
	return st.latest, nil
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
