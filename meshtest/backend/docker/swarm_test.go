package docker

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/metrics"
)

// testSwarm connects to the swarm whose engines file MESHTEST_SWARM names
// (scripts/swarm.sh up writes /run/mtswarm/engines). Without one the test
// is skipped, unless MESHTEST_REQUIRE_SWARM=1 (CI) makes that a failure.
func testSwarm(t *testing.T) *Swarm {
	t.Helper()
	path := os.Getenv("MESHTEST_SWARM")
	if path == "" {
		if os.Getenv("MESHTEST_REQUIRE_SWARM") == "1" {
			t.Fatal("MESHTEST_REQUIRE_SWARM=1 but MESHTEST_SWARM names no engines file (run scripts/swarm.sh up)")
		}
		t.Skip("no swarm: run scripts/swarm.sh up and set MESHTEST_SWARM=/run/mtswarm/engines")
	}
	engines, err := ReadSwarmEngines(path)
	require.NoError(t, err)
	s, err := NewSwarm(t.Context(), testBackend(t, Options{}), engines)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.RemoveAbandoned(t.Context(), t.Logf) // what a killed test left
	return s
}

// TestSwarmRunsUnitsAcrossEngines: units started as services spread over
// the swarm's engines, reach each other by name over the overlay from one
// engine to another, are reported with their engine and overlay address,
// and RemoveRun leaves nothing on any engine.
func TestSwarmRunsUnitsAcrossEngines(t *testing.T) {
	s := testSwarm(t)
	require.GreaterOrEqual(t, len(s.engines), 2, "a swarm of one engine proves nothing across engines")
	img := sleeperImage(t, s.local)
	require.NoError(t, s.Distribute(t.Context(), img, t.Logf))
	for _, e := range s.engines {
		_, err := e.cli.ImageInspect(t.Context(), img)
		assert.NoError(t, err, "the image on engine %s", e.Name)
	}

	info := s.Info(t.Context())
	assert.Equal(t, "swarm", info.Backend)
	assert.Equal(t, s.Engines(), info.Engines)
	require.Len(t, info.Clocks, len(s.engines), "every engine's clock measured")
	for _, c := range info.Clocks {
		// The engines here share the host's clock: the offset measured must
		// be nothing but the measurement's own error.
		assert.LessOrEqual(t, math.Abs(c.OffsetMs), c.UncertaintyMs+1, "engine %s on this host's clock: %+v", c.Engine, c)
	}

	r := newSwarmRun(t, s)
	unit := func(name string, args ...string) backend.Unit {
		u := backend.Unit{Name: name, Role: "peer", Group: "sleeper", Image: img, MetricsPort: 8080, MemoryBytes: 64 << 20}
		u.Args = args
		return u
	}
	_, err := r.Start(t.Context(), unit("server", "serve"))
	require.NoError(t, err)
	fetchers := []string{"fetch-1", "fetch-2", "fetch-3", "fetch-4", "fetch-5"}
	for _, f := range fetchers {
		_, err := r.Start(t.Context(), unit(f, "fetch", "http://server:8080/"))
		require.NoError(t, err)
	}

	var sts map[string]SwarmStatus
	begin := time.Now()
	require.Eventually(t, func() bool {
		sts, err = r.Tasks(t.Context())
		require.NoError(t, err)
		for _, st := range sts {
			if !st.Running {
				return false
			}
		}
		return len(sts) == 1+len(fetchers)
	}, 90*time.Second, 250*time.Millisecond, "every task running: %+v", sts)
	t.Logf("%d tasks running %.1f s after their services were created", len(sts), time.Since(begin).Seconds())
	engines := map[string]bool{}
	for name, st := range sts {
		t.Logf("%s: engine %s, %s, metrics %s", name, st.Engine, st.IP, st.MetricsAddr)
		assert.NotEmpty(t, st.Engine, "%s's engine", name)
		assert.NotEmpty(t, st.IP, "%s's overlay address", name)
		assert.Equal(t, st.IP+":8080", st.MetricsAddr)
		engines[st.Engine] = true
	}
	assert.Len(t, engines, min(len(s.engines), 1+len(fetchers)), "the swarm spreads the units over its engines")

	crossed := 0
	for _, f := range fetchers {
		var out string
		require.Eventually(t, func() bool {
			out, err = r.Logs(t.Context(), f, 0)
			return err == nil && strings.Contains(out, "fetched: hello from server")
		}, 30*time.Second, 250*time.Millisecond, "%s reached the server by name: %q, %v", f, out, err)
		if sts[f].Engine != sts["server"].Engine {
			crossed++
		}
	}
	assert.Positive(t, crossed, "at least one fetcher reached the server from another engine")

	// The harness reaches every unit through the run's gateway, by the
	// address Status gives, and reads its cost from the unit's own engine.
	hc := metrics.NewClientVia(r.DialContext)
	status, err := r.Status(t.Context())
	require.NoError(t, err)
	for name, st := range status {
		assert.Equal(t, sts[name].Engine, st.Engine, "Status names %s's engine", name)
		code, body, err := metrics.Get(t.Context(), hc, "http://"+st.MetricsAddr+"/")
		if name != "server" { // reached, and refused: a fetcher serves nothing
			assert.ErrorContains(t, err, "refused", "GET %s's %s through the gateway", name, st.MetricsAddr)
			continue
		}
		require.NoError(t, err, "GET %s's %s through the gateway", name, st.MetricsAddr)
		assert.Equal(t, 200, code)
		assert.Equal(t, "hello from server", body, "the harness reached the server on %s", st.Engine)
	}
	_, err = r.DialContext(t.Context(), "tcp", "127.0.0.1:8080")
	assert.ErrorContains(t, err, "403", "the gateway goes nowhere but the overlay")
	names := append([]string{"server"}, fetchers...)
	cost, err := r.Cost(t.Context(), names)
	require.NoError(t, err)
	defer cost.Close()
	assert.Contains(t, cost.Source(), "each unit's engine")
	for _, name := range names {
		st, err := cost.Read(t.Context(), name)
		require.NoError(t, err, "cost of %s from %s", name, sts[name].Engine)
		assert.Positive(t, st.MemoryBytes, "%s's memory", name)
		assert.Positive(t, st.CPUSeconds, "%s's CPU time", name)
	}
}

// TestReadSwarmEngines: the engines file as scripts/swarm.sh writes it, and
// bad ones named with their line.
func TestReadSwarmEngines(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	got, err := ReadSwarmEngines(write("good", "e1 /run/mtswarm/e1.sock 192.168.213.11 manager\n\ne2 /run/mtswarm/e2.sock 192.168.213.12 worker\n"))
	require.NoError(t, err)
	assert.Equal(t, []SwarmEngine{
		{Name: "e1", Socket: "/run/mtswarm/e1.sock", Addr: "192.168.213.11", Manager: true},
		{Name: "e2", Socket: "/run/mtswarm/e2.sock", Addr: "192.168.213.12"},
	}, got)

	_, err = ReadSwarmEngines(write("short", "e1 /run/mtswarm/e1.sock manager\n"))
	assert.ErrorContains(t, err, "short:1")
	_, err = ReadSwarmEngines(write("named", "e1 /s manager.example manager\n"))
	assert.ErrorContains(t, err, `named:1: address "manager.example": want the engine's IP address`)
	_, err = ReadSwarmEngines(write("workers", "e1 /s 1.2.3.4 worker\n"))
	assert.ErrorContains(t, err, "no manager among 1 engines")
	_, err = ReadSwarmEngines(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "scripts/swarm.sh up writes the file")
}

// Swarm's context use: a cancelled context fails NewSwarm with the engine
// named, and creates nothing.
func TestNewSwarmNamesAnEngineThatDoesNotAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := NewSwarm(ctx, nil, []SwarmEngine{{Name: "e9", Socket: filepath.Join(t.TempDir(), "none.sock"), Manager: true}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "swarm engine e9")
	assert.Contains(t, err.Error(), "does not answer")
}

// newSwarmRun is a new run on the swarm, removed when t ends, with nothing
// left on any engine.
func newSwarmRun(t *testing.T, s *Swarm) *swarmRun {
	t.Helper()
	id := "swarm-" + randomHex(t, 4)
	t.Cleanup(func() {
		ctx, cancel := teardown()
		defer cancel()
		begin := time.Now()
		assert.NoError(t, s.RemoveRun(ctx, id, t.Logf))
		t.Logf("run %s removed in %.1f s", id, time.Since(begin).Seconds())
		left, err := s.Leftovers(ctx, id)
		assert.NoError(t, err)
		assert.Empty(t, left, "nothing of the run on any engine")
	})
	r, err := s.NewRun(t.Context(), backend.RunOptions{ID: id, Test: t.Name()})
	require.NoError(t, err)
	return r.(*swarmRun)
}

// startSwarmSleepers starts a run of sleepers on the swarm, removed when t
// ends with nothing left, and waits until all run.
func startSwarmSleepers(t *testing.T, s *Swarm, names ...string) (*swarmRun, map[string]SwarmStatus) {
	t.Helper()
	img := sleeperImage(t, s.local)
	require.NoError(t, s.Distribute(t.Context(), img, t.Logf))
	r := newSwarmRun(t, s)
	for _, n := range names {
		_, err := r.Start(t.Context(), backend.Unit{Name: n, Role: "peer", Group: "sleeper", Image: img, MetricsPort: 8080})
		require.NoError(t, err)
	}
	var sts map[string]SwarmStatus
	require.Eventually(t, func() bool {
		var err error
		sts, err = r.Tasks(t.Context())
		require.NoError(t, err)
		running := 0
		for _, st := range sts {
			if st.Running {
				running++
			}
		}
		return running == len(names)
	}, 90*time.Second, 250*time.Millisecond, "every task running: %+v", sts)
	return r, sts
}

// TestSwarmExitsAndActs: a kill on a task's own engine is reported by the
// merged stream with the unit's name and code, a stop with SIGTERM's exit,
// pause and unpause leave the task running, Start and Restart run a new
// task, Remove frees the unit's name; the channel closes when its context ends.
func TestSwarmExitsAndActs(t *testing.T) {
	s := testSwarm(t)
	r, sts := startSwarmSleepers(t, s, "victim", "stopped", "frozen")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exits, err := r.Exits(ctx)
	require.NoError(t, err)

	require.NoError(t, r.Act(t.Context(), "victim", backend.Kill))
	now, err := r.Status(t.Context())
	require.NoError(t, err)
	assert.False(t, now["victim"].Running, "once Kill returns, Status shows the unit down: %+v", now["victim"])
	e := nextExit(t, exits, 5*time.Second)
	assert.Equal(t, "victim", e.Name, "killed on %s", sts["victim"].Engine)
	assert.Equal(t, 137, e.Code)
	require.NoError(t, r.Act(t.Context(), "stopped", backend.Stop))
	e = nextExit(t, exits, 5*time.Second)
	assert.Equal(t, "stopped", e.Name, "stopped on %s", sts["stopped"].Engine)
	assert.Equal(t, 0, e.Code, "the sleeper exits 0 on SIGTERM")

	require.NoError(t, r.Act(t.Context(), "frozen", backend.Pause))
	require.NoError(t, r.Act(t.Context(), "frozen", backend.Unpause))
	now, err = r.Status(t.Context())
	require.NoError(t, err)
	assert.True(t, now["frozen"].Running, "paused and unpaused: %+v", now["frozen"])
	assert.False(t, now["victim"].Running, "a killed task stays down (restart condition none): %+v", now["victim"])
	assert.ErrorIs(t, r.Act(t.Context(), "frozen", backend.Disconnect), errors.ErrUnsupported)

	// Start and Restart are the swarm's: a new task, a new container, the
	// old one's death reported as on Docker.
	before, err := r.Tasks(t.Context())
	require.NoError(t, err)
	require.NoError(t, r.Act(t.Context(), "victim", backend.Start))
	require.NoError(t, r.Act(t.Context(), "frozen", backend.Restart))
	e = nextExit(t, exits, 10*time.Second)
	assert.Equal(t, "frozen", e.Name, "a restart stops the old task")
	assert.Equal(t, 0, e.Code, "stopped with SIGTERM")
	after, err := r.Tasks(t.Context())
	require.NoError(t, err)
	for _, name := range []string{"victim", "frozen"} {
		assert.True(t, after[name].Running, "%s runs again: %+v", name, after[name])
		assert.NotEqual(t, before[name].Container, after[name].Container, "%s runs in a new container", name)
		assert.NotEmpty(t, after[name].IP, "%s has an address on the overlay", name)
	}
	require.NoError(t, r.Act(t.Context(), "frozen", backend.Start), "starting a running unit does nothing")
	again, err := r.Tasks(t.Context())
	require.NoError(t, err)
	assert.Equal(t, after["frozen"].Container, again["frozen"].Container, "a Start of a running unit leaves it be")

	// Remove takes the unit away for good, so that a newcomer can take its
	// name.
	require.NoError(t, r.Act(t.Context(), "victim", backend.Remove))
	e = nextExit(t, exits, 10*time.Second)
	assert.Equal(t, "victim", e.Name, "a removal is a death")
	left, err := r.Tasks(t.Context())
	require.NoError(t, err)
	assert.NotContains(t, left, "victim")
	img := sleeperImage(t, s.local)
	_, err = r.Start(t.Context(), backend.Unit{Name: "victim", Role: "peer", Group: "sleeper", Image: img, MetricsPort: 8080})
	require.NoError(t, err, "a newcomer of the removed unit's name")

	cancel()
	requireClosed(t, exits)
}

// TestSwarmSweepsAbandonedRuns: a service labelled by a meshtest process
// that no longer exists is removed by the sweep, with its network, and so
// is a lone container of such a run on a worker (a gateway, or a task
// container, that outlived its run's services); a live run's are left
// alone.
func TestSwarmSweepsAbandonedRuns(t *testing.T) {
	s := testSwarm(t)
	live, _ := startSwarmSleepers(t, s, "alive")
	img := sleeperImage(t, s.local)

	dead := "swarm-dead-" + randomHex(t, 4)
	labels := ownerLabels(t, dead, exitedProcess(t), false)
	mgr := s.manager.cli
	net, err := mgr.NetworkCreate(t.Context(), networkName(dead), client.NetworkCreateOptions{Driver: "overlay", Scope: "swarm", Internal: true, Attachable: true, Labels: labels})
	require.NoError(t, err)
	_, err = mgr.ServiceCreate(t.Context(), client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "meshtest-" + dead + "-orphan", Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: s.taskImage(img), Labels: labels},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: net.ID}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := teardown()
		defer cancel()
		assert.NoError(t, s.RemoveRun(ctx, dead, t.Logf))
	})

	lone := "swarm-dead-" + randomHex(t, 4)
	worker := s.engines[len(s.engines)-1]
	_, err = worker.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:   "meshtest-" + lone + "-gateway",
		Config: &container.Config{Image: img, Labels: ownerLabels(t, lone, exitedProcess(t), false)},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := teardown()
		defer cancel()
		assert.NoError(t, s.RemoveRun(ctx, lone, t.Logf))
	})

	rec := &logRecorder{t: t}
	begin := time.Now()
	s.RemoveAbandoned(t.Context(), rec.logf)
	t.Logf("sweep took %.1f s", time.Since(begin).Seconds())
	said := rec.take()
	for _, run := range []string{dead, lone} {
		assert.NotEmpty(t, mentioning(said, run), "the sweep says what it removes")
		left, err := s.Leftovers(t.Context(), run)
		require.NoError(t, err)
		assert.Empty(t, left, "the dead run %s is gone from every engine", run)
	}
	sts, err := live.Status(t.Context())
	require.NoError(t, err)
	assert.True(t, sts["alive"].Running, "the live run is left alone: %+v", sts)
}

// TestPoll: poll ends when done says so, with done's error, when its
// patience runs out (errPatience), or with ctx's cause.
func TestPoll(t *testing.T) {
	calls := 0
	err := poll(t.Context(), time.Minute, time.Millisecond, func() (bool, error) {
		calls++
		return calls == 3, nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, calls)

	boom := errors.New("boom")
	assert.ErrorIs(t, poll(t.Context(), time.Minute, time.Millisecond, func() (bool, error) { return false, boom }), boom)
	assert.ErrorIs(t, poll(t.Context(), 10*time.Millisecond, time.Millisecond, func() (bool, error) { return false, nil }), errPatience)

	why := errors.New("the mesh is removed")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(why)
	assert.ErrorIs(t, poll(ctx, time.Minute, time.Millisecond, func() (bool, error) { return false, nil }), why)
}
