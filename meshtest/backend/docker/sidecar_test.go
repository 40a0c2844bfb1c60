package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// waitLogs waits until a unit's last log line contains want, and returns
// that line.
func waitLogs(t *testing.T, r backend.Run, name, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs, err := r.Logs(t.Context(), name, 1)
		require.NoError(t, err)
		if strings.Contains(logs, want) {
			return strings.TrimSpace(logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's last log line %q does not contain %q", name, logs, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sidecarOf is the shaper's shape of a sidecar: the sleeper printing its
// addresses, in parent's namespace, with NET_ADMIN.
func sidecarOf(img, name, parent string) backend.Unit {
	u := sleeperUnit(img, name, "addrs")
	u.NetworkOf, u.CapAdd = parent, []string{"NET_ADMIN"}
	return u
}

// TestSidecar: a sidecar shares its parent's network namespace, with NET_ADMIN
// and every other restriction; Status, Logs and Act serve it; when its
// parent is killed Status says what it is (running, in a namespace that has
// only lo left), and once the parent runs again a restart brings it along.
func TestSidecar(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	r := testRun(t, b, "sidecar")
	ctx := t.Context()
	parent := startUnit(t, r, sleeperUnit(img, "node"))
	helper := startUnit(t, r, sidecarOf(img, "helper", "node"))

	hc := inspect(t, b, helper).HostConfig
	assert.Equal(t, "container:"+parent, string(hc.NetworkMode))
	assert.Equal(t, []string{"CAP_NET_ADMIN"}, []string(hc.CapAdd), "NET_ADMIN and nothing else")
	assert.Equal(t, []string{"ALL"}, hc.CapDrop)
	assert.Contains(t, hc.SecurityOpt, "no-new-privileges")
	assert.True(t, hc.ReadonlyRootfs)
	assert.Empty(t, hc.PortBindings)
	assert.Empty(t, inspect(t, b, helper).NetworkSettings.Networks, "no network of its own")
	assert.Equal(t, netnsOf(t, t, b, parent), netnsOf(t, t, b, helper), "the parent's network namespace")

	all, err := r.Status(ctx)
	require.NoError(t, err)
	nodeIP := all["node"].IP
	require.NotEmpty(t, nodeIP)
	assert.Equal(t, backend.Status{Running: true, State: "running"}, all["helper"], "a sidecar has no address of its own")
	line := waitLogs(t, r, "helper", "eth0="+nodeIP+"/")
	t.Logf("the sidecar sees: %s", line)
	left, err := b.Leftovers(ctx, r.ID())
	require.NoError(t, err)
	assert.Contains(t, left, "container meshtest-"+r.ID()+"-helper", "Leftovers lists sidecars")

	err = r.Act(ctx, "helper", backend.Disconnect)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorContains(t, err, "disconnect helper: ")

	require.NoError(t, r.Act(ctx, "node", backend.Kill))
	all, err = r.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "exited", all["node"].State)
	assert.Equal(t, backend.Status{Running: true, State: "running"}, all["helper"],
		"a sidecar outlives its parent's death")
	assert.Equal(t, []string{"lo"}, interfacesOf(t, b, helper), "in a namespace left with only lo")

	err = r.Act(ctx, "helper", backend.Restart)
	assert.ErrorContains(t, err, "restart helper: ", "a sidecar cannot join a parent that is down")
	t.Logf("restart while the parent is down: %v", err)
	assert.False(t, statusOf(t, r, "helper").Running, "and it is left exited")

	require.NoError(t, r.Act(ctx, "node", backend.Start))
	require.NoError(t, r.Act(ctx, "helper", backend.Start))
	nodeIP = statusOf(t, r, "node").IP
	assert.Equal(t, netnsOf(t, t, b, parent), netnsOf(t, t, b, helper), "in the parent's new namespace")
	waitLogs(t, r, "helper", "eth0="+nodeIP+"/")

	require.NoError(t, r.Act(ctx, "helper", backend.Kill))
	assert.Equal(t, "exited", statusOf(t, r, "helper").State)
	assert.True(t, statusOf(t, r, "node").Running, "a sidecar's death leaves its parent alone")

	_, err = r.Start(ctx, sidecarOf(img, "orphan", "nobody"))
	assert.ErrorContains(t, err, "start orphan (")
	assert.ErrorContains(t, err, "nobody")
	_, err = r.Start(ctx, sidecarOf(img, "second", "helper"))
	assert.ErrorContains(t, err, "helper is itself a sidecar (of node)")
}

// ownedContainer starts the sleeper as unit name of run, labelled as
// owner's like ownedNetwork's network, on the run's network or, given a
// parent container, in its namespace. RemoveRun removes it when t ends.
func ownedContainer(t *testing.T, b *Backend, run string, owner process, name, parent string) string {
	t.Helper()
	labels := ownerLabels(t, run, owner, false)
	labels[LabelNode] = name
	mode := container.NetworkMode(networkName(run))
	if parent != "" {
		mode = container.NetworkMode("container:" + parent)
	}
	res, err := b.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:   "meshtest-" + run + "-" + name,
		Config: &container.Config{Image: sleeperImage(t, b), Labels: labels},
		HostConfig: &container.HostConfig{
			NetworkMode:    mode,
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			ReadonlyRootfs: true,
		},
	})
	require.NoError(t, err, "create %s of run %s", name, run)
	_, err = b.cli.ContainerStart(t.Context(), res.ID, client.ContainerStartOptions{})
	require.NoError(t, err, "start %s of run %s", name, run)
	return res.ID
}

// TestRemoveSidecarsFirst: RemoveRun, and the sweep of a run whose process
// is gone, remove each sidecar before the unit whose namespace it shares,
// and leave nothing.
func TestRemoveSidecarsFirst(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	for _, how := range []string{"remove-run", "sweep"} {
		t.Run(how, func(t *testing.T) {
			ctx := t.Context()
			var (
				run   string
				start func(name, parent string)
			)
			if how == "remove-run" {
				r := testRun(t, b, "sidecars")
				run = r.ID()
				start = func(name, parent string) {
					u := sleeperUnit(img, name)
					if parent != "" {
						u = sidecarOf(img, name, parent)
					}
					startUnit(t, r, u)
				}
			} else {
				// A run whose process is gone, as a killed test leaves it.
				// Another process's sweep may remove it first; with this
				// code that is the same removal.
				run = "sidecars-dead-" + randomHex(t, 4)
				owner := exitedProcess(t)
				ownedNetwork(t, b, run, owner, false)
				ids := map[string]string{}
				start = func(name, parent string) { ids[name] = ownedContainer(t, b, run, owner, name, ids[parent]) }
			}
			for _, n := range []string{"a", "b"} {
				start(n, "")
				start("helper-"+n, n)
			}
			evctx, stop := context.WithCancel(ctx)
			defer stop()
			res := b.cli.Events(evctx, client.EventsListOptions{
				Since:   eventsSince(time.Now()),
				Filters: runFilter(run).Add("type", "container").Add("event", string(events.ActionDestroy)),
			})
			if how == "sweep" {
				b.RemoveAbandoned(ctx, t.Logf)
			} else {
				require.NoError(t, b.RemoveRun(ctx, run, t.Logf))
			}
			var order []string
			for len(order) < 4 {
				select {
				case m := <-res.Messages:
					order = append(order, m.Actor.Attributes[LabelNode])
				case err := <-res.Err:
					t.Fatalf("events: %v", err)
				case <-time.After(10 * time.Second):
					t.Fatalf("only %v destroyed", order)
				}
			}
			t.Logf("destroyed in order: %v", order)
			assert.ElementsMatch(t, []string{"helper-a", "helper-b"}, order[:2], "sidecars first")
			left, err := b.Leftovers(ctx, run)
			require.NoError(t, err)
			assert.Empty(t, left)
		})
	}
}

// TestHelperImage: the helper image is meshshaper, built once per process
// and tagged by its content, and it shapes its parent's interface as a
// sidecar with nothing but NET_ADMIN.
func TestHelperImage(t *testing.T) {
	b := testBackend(t, Options{})
	begin := time.Now()
	img, err := b.HelperImage(t.Context(), t.Logf)
	require.NoError(t, err)
	t.Logf("helper image %s in %v", img, time.Since(begin).Round(time.Millisecond))
	assert.True(t, strings.HasPrefix(img, HelperImageRepo+":"), "%s", img)
	begin = time.Now()
	again, err := b.HelperImage(t.Context(), t.Logf)
	require.NoError(t, err)
	assert.Equal(t, img, again)
	assert.Less(t, time.Since(begin), 100*time.Millisecond, "memoised: no second build")

	r := testRun(t, b, "helper")
	startUnit(t, r, sleeperUnit(sleeperImage(t, b), "node"))
	startUnit(t, r, backend.Unit{Name: "shaper", Role: "helper", Group: "meshshaper", Image: img,
		NetworkOf: "node", CapAdd: []string{"NET_ADMIN"}})
	line := waitLogs(t, r, "shaper", `"event":"shaped"`)
	t.Logf("the shaper says: %s", line)
	assert.Contains(t, line, `"iface":"eth0"`)
	assert.True(t, statusOf(t, r, "shaper").Running)
}
