package docker

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// sleeperUnit is a unit of the sleeper image; args pick its mode (see
// sleeperSource).
func sleeperUnit(img, name string, args ...string) backend.Unit {
	return backend.Unit{Name: name, Role: "service", Group: "sleeper", Image: img, MetricsPort: 9090,
		Rendered: spec.Rendered{Args: args}}
}

// startUnit starts u on r and returns its container ID.
func startUnit(t *testing.T, r backend.Run, u backend.Unit) string {
	t.Helper()
	inst, err := r.Start(t.Context(), u)
	require.NoError(t, err)
	return inst.Handle
}

func inspect(t *testing.T, b *Backend, id string) container.InspectResponse {
	t.Helper()
	ins, err := b.cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	require.NoError(t, err)
	return ins.Container
}

// statusOf is one unit's entry of r.Status.
func statusOf(t *testing.T, r backend.Run, name string) backend.Status {
	t.Helper()
	all, err := r.Status(t.Context())
	require.NoError(t, err)
	require.Contains(t, all, name, "Status lists every unit")
	return all[name]
}

// netnsOf names the network namespace of container id's init process as
// the host's /proc does ("net:[4026532254]"): the harness runs on the
// engine's host, as Cost's cgroup reads assume too. It holds the namespace
// open until holder ends (the test, where t is one of its subtests): the
// kernel reuses a freed namespace's number at once, so without a holder a
// new namespace could have the old one's name.
func netnsOf(t *testing.T, holder testing.TB, b *Backend, id string) string {
	t.Helper()
	pid := inspect(t, b, id).State.Pid
	require.Positive(t, pid, "container %.12s runs", id)
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	f, err := os.Open(path)
	require.NoError(t, err)
	holder.Cleanup(func() { f.Close() })
	ns, err := os.Readlink(path)
	require.NoError(t, err)
	return ns
}

// interfacesOf lists the interfaces in container id's network namespace.
func interfacesOf(t *testing.T, b *Backend, id string) []string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", inspect(t, b, id).State.Pid))
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(data), "\n")[2:] {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out = append(out, name)
		}
	}
	return out
}

// TestAct does every action to one sleeper, in an order that undoes each,
// and checks after each what Status says and what the engine did to the
// unit's process, network namespace and address.
func TestAct(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	r := testRun(t, b, "act")
	ctx, top := t.Context(), t
	id := startUnit(t, r, sleeperUnit(img, "node"))
	st := statusOf(t, r, "node")
	require.True(t, st.Running)
	ns, ip := netnsOf(t, top, b, id), st.IP
	require.NotEmpty(t, ip)
	t.Logf("started: %s, %s, interfaces %v", ip, ns, interfacesOf(t, b, id))

	act := func(a backend.Action) {
		t.Helper()
		begin := time.Now()
		require.NoError(t, r.Act(ctx, "node", a))
		t.Logf("%s: %v", a, time.Since(begin).Round(time.Millisecond))
	}

	t.Run("pause", func(t *testing.T) {
		act(backend.Pause)
		st := statusOf(t, r, "node")
		assert.Equal(t, "paused", st.State)
		assert.True(t, st.Running, "a paused unit has not exited")
		assert.Equal(t, ip, st.IP, "pausing keeps the address")
		assert.True(t, inspect(t, b, id).State.Paused)
		act(backend.Unpause)
		st = statusOf(t, r, "node")
		assert.Equal(t, "running", st.State)
		assert.Equal(t, ip, st.IP)
		assert.Equal(t, ns, netnsOf(t, top, b, id), "pause and unpause keep the namespace")
	})

	t.Run("disconnect", func(t *testing.T) {
		act(backend.Disconnect)
		st := statusOf(t, r, "node")
		assert.True(t, st.Running, "state %q", st.State)
		assert.Empty(t, st.IP, "no address once disconnected")
		assert.Empty(t, st.MetricsAddr)
		assert.NotContains(t, inspect(t, b, id).NetworkSettings.Networks, r.Network())
		assert.Equal(t, []string{"lo"}, interfacesOf(t, b, id))
		// Another unit now takes the lowest free address, which is the one
		// just freed: the unit's address must be read again after Connect.
		other := startUnit(t, r, sleeperUnit(img, "other"))
		otherIP := statusOf(t, r, "other").IP
		t.Logf("while disconnected, another unit got %s (the unit had %s)", otherIP, ip)

		act(backend.Connect)
		st = statusOf(t, r, "node")
		assert.True(t, st.Running)
		require.NotEmpty(t, st.IP, "an address again")
		ep := inspect(t, b, id).NetworkSettings.Networks[r.Network()]
		require.NotNil(t, ep, "attached to %s again", r.Network())
		assert.Equal(t, ep.IPAddress.String(), st.IP, "Status shows the address the engine gave")
		assert.NotEqual(t, otherIP, st.IP)
		assert.Contains(t, ep.Aliases, "node", "the unit's name is its DNS alias again")
		assert.Equal(t, ns, netnsOf(t, top, b, id), "disconnect and connect keep the namespace")
		t.Logf("connected again: %s (was %s), interfaces %v", st.IP, ip, interfacesOf(t, b, id))
		ip = st.IP
		_, err := b.cli.ContainerRemove(ctx, other, client.ContainerRemoveOptions{Force: true})
		require.NoError(t, err)
	})

	t.Run("stop and start", func(t *testing.T) {
		begin := time.Now()
		act(backend.Stop)
		assert.Less(t, time.Since(begin), backend.StopGrace, "the sleeper exits on SIGTERM, before the grace ends")
		st := statusOf(t, r, "node")
		assert.False(t, st.Running)
		assert.Equal(t, "exited", st.State)
		assert.Empty(t, st.IP)
		assert.Equal(t, 0, inspect(t, b, id).State.ExitCode)
		act(backend.Stop) // a stopped unit: nothing to do

		act(backend.Start)
		st = statusOf(t, r, "node")
		assert.True(t, st.Running)
		assert.NotEmpty(t, st.IP)
		ns2 := netnsOf(t, top, b, id)
		assert.NotEqual(t, ns, ns2, "a started container has a new network namespace")
		assert.Equal(t, id, inspect(t, b, id).ID, "the same container")
		t.Logf("started again: %s (was %s), %s (was %s)", st.IP, ip, ns2, ns)
		ns = ns2
		act(backend.Start) // a running unit: nothing to do
	})

	t.Run("restart", func(t *testing.T) {
		act(backend.Restart)
		st := statusOf(t, r, "node")
		assert.True(t, st.Running)
		assert.NotEmpty(t, st.IP)
		ns2 := netnsOf(t, top, b, id)
		assert.NotEqual(t, ns, ns2, "a restarted container has a new network namespace")
		ns = ns2
	})

	t.Run("kill and start", func(t *testing.T) {
		act(backend.Kill)
		st := statusOf(t, r, "node")
		assert.False(t, st.Running)
		assert.Equal(t, "exited", st.State)
		assert.Equal(t, 137, inspect(t, b, id).State.ExitCode, "SIGKILL")
		err := r.Act(ctx, "node", backend.Kill)
		assert.ErrorContains(t, err, "kill node: ", "killing a unit that is not running fails, naming it")

		act(backend.Start)
		assert.True(t, statusOf(t, r, "node").Running)
		assert.NotEqual(t, ns, netnsOf(t, top, b, id), "a new network namespace")
	})

	t.Run("remove and start anew", func(t *testing.T) {
		act(backend.Remove)
		_, err := b.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		assert.Error(t, err, "the container is gone")
		all, err := r.Status(ctx)
		require.NoError(t, err)
		assert.NotContains(t, all, "node", "Status no longer lists it")
		assert.ErrorContains(t, r.Act(ctx, "node", backend.Start), "start node: ", "a removed unit is forgotten")
		id2 := startUnit(t, r, sleeperUnit(img, "node"))
		assert.NotEqual(t, id, id2, "a unit of the same name, a new container")
		id = id2
		assert.True(t, statusOf(t, r, "node").Running)
	})

	t.Run("errors", func(t *testing.T) {
		err := r.Act(ctx, "node", backend.Action("explode"))
		assert.ErrorIs(t, err, errors.ErrUnsupported)
		assert.ErrorContains(t, err, `"explode" node`)
		err = r.Act(ctx, "nobody", backend.Kill)
		assert.ErrorContains(t, err, "kill nobody: ")
		assert.True(t, statusOf(t, r, "node").Running, "and the unit is untouched")
	})
}

// TestStopGrace: Stop kills a unit that ignores SIGTERM after
// backend.StopGrace, not the engine's ten seconds.
func TestStopGrace(t *testing.T) {
	b := testBackend(t, Options{})
	r := testRun(t, b, "grace")
	id := startUnit(t, r, sleeperUnit(sleeperImage(t, b), "deaf", "deaf"))
	begin := time.Now()
	require.NoError(t, r.Act(t.Context(), "deaf", backend.Stop))
	took := time.Since(begin)
	t.Logf("stop of a unit that ignores SIGTERM: %v", took.Round(time.Millisecond))
	assert.GreaterOrEqual(t, took, backend.StopGrace-100*time.Millisecond, "SIGTERM alone did not stop it")
	assert.Less(t, took, backend.StopGrace+3*time.Second)
	assert.Equal(t, 137, inspect(t, b, id).State.ExitCode, "killed at the end of the grace")
}
