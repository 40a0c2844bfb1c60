package meshtest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/topology"
)

// leftovers lists the containers and networks of one run still on the engine.
func leftovers(t *testing.T, e *engine, run string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	cs, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(run)})
	require.NoError(t, err)
	for _, c := range cs.Items {
		out = append(out, "container "+strings.Join(c.Names, ","))
	}
	ns, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(run)})
	require.NoError(t, err)
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out
}

func testEngine(t *testing.T) *engine {
	t.Helper()
	RequireDocker(t)
	e, err := newEngine(t.Context())
	require.NoError(t, err)
	return e
}

// TestMeshLifecycle starts a small star, checks what New promises, and checks
// that close leaves nothing of the run behind.
func TestMeshLifecycle(t *testing.T) {
	e := testEngine(t)
	m, err := start(t.Context(), t.Name(), Config{Name: "life", Peers: 3}, topology.Star(3), t.Logf)
	if m != nil {
		t.Cleanup(m.close)
	}
	require.NoError(t, err)

	require.Len(t, m.Nodes, 4)
	assert.Equal(t, "bootstrap", m.Nodes[0].Role)
	ids := map[string]bool{}
	for _, n := range m.Nodes {
		assert.NotEmpty(t, n.Container, n.Name)
		assert.NotEmpty(t, n.IP, n.Name)
		ids[n.ID] = true
	}
	assert.Len(t, ids, 4, "every node has its own pre-assigned peer ID")
	assert.Greater(t, m.Converge, time.Duration(0))

	// Least privilege: no published ports, no capabilities, read-only root.
	for _, n := range m.Nodes {
		ins, err := e.ContainerInspect(t.Context(), n.Container, client.ContainerInspectOptions{})
		require.NoError(t, err)
		hc := ins.Container.HostConfig
		assert.Empty(t, hc.PortBindings, "%s publishes ports", n.Name)
		assert.Equal(t, []string{"ALL"}, hc.CapDrop, n.Name)
		assert.True(t, hc.ReadonlyRootfs, n.Name)
		assert.Contains(t, hc.SecurityOpt, "no-new-privileges", n.Name)
	}
	net, err := e.NetworkInspect(t.Context(), m.Network, client.NetworkInspectOptions{})
	require.NoError(t, err)
	assert.True(t, net.Network.Internal, "the mesh network has no route out")

	rec, err := m.record(t.Context(), 3*time.Second, t.Logf)
	require.NoError(t, err)
	assert.Empty(t, rec.Drift)
	assert.Empty(t, rec.Unresponsive)
	assert.Equal(t, 3.0, rec.Role("bootstrap").Min(FigConns))
	assert.Positive(t, rec.Role("peer").Min(FigMemBytes), "cgroup memory is read")
	assert.Positive(t, rec.Role("peer").Min(FigGoroutines), "node metrics are read")

	m.close()
	assert.Empty(t, leftovers(t, e, m.Run), "after close")
	assert.Positive(t, m.Teardown)
}

// TestBadConfigTouchesNothing: invalid input is refused before anything is
// created, with an error that names the input and the limit.
func TestBadConfigTouchesNothing(t *testing.T) {
	for _, tc := range []struct {
		peers int
		want  string
	}{
		{0, "at least 1 peer"},
		{-3, "at least 1 peer"},
		{MaxNodes, "at most 1023 containers"},
	} {
		m, err := start(t.Context(), t.Name(), Config{Peers: tc.peers}, topology.Star(max(tc.peers, 0)), t.Logf)
		assert.Nil(t, m, "peers=%d", tc.peers)
		assert.ErrorContains(t, err, tc.want, "peers=%d", tc.peers)
	}
}

// TestMissingImage: an image that is not on the engine is named in the error,
// with the fix, and nothing is started.
func TestMissingImage(t *testing.T) {
	testEngine(t)
	m, err := start(t.Context(), t.Name(), Config{Peers: 1, Image: "meshtest-no-such-image:v0"}, topology.Star(1), t.Logf)
	assert.Nil(t, m)
	assert.ErrorContains(t, err, `image "meshtest-no-such-image:v0" (spec "meshnode") is not on the Docker engine`)
}

// TestNodeExitFailsWithLogs: a node that exits makes New fail with the
// node's name and its last log lines, and the partial mesh is removed.
func TestNodeExitFailsWithLogs(t *testing.T) {
	e := testEngine(t)
	cfg := Config{Peers: 2, Env: map[string]string{"MESHNODE_DIAL_TIMEOUT": "not-a-duration"}, ConvergeTimeout: 30 * time.Second}
	m, err := start(t.Context(), t.Name(), cfg, topology.Star(2), t.Logf)
	require.Error(t, err)
	require.NotNil(t, m, "the partial mesh is returned so it can be removed")
	assert.Contains(t, err.Error(), "exited before the mesh converged")
	assert.Contains(t, err.Error(), "not-a-duration", "the node's own complaint is in the error")
	m.close()
	assert.Empty(t, leftovers(t, e, m.Run))
}

// TestSweepRemovesDeadRuns: resources labelled by a process that no longer
// exists are removed by the next run; those of a live process are not.
func TestSweepRemovesDeadRuns(t *testing.T) {
	e := testEngine(t)
	ctx := t.Context()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	mk := func(run string, pid int) {
		labels := runLabels(run, t.Name())
		labels[labelPID] = itoa(pid)
		_, err := e.NetworkCreate(ctx, "meshtest-"+run, client.NetworkCreateOptions{Internal: true, Labels: labels})
		require.NoError(t, err)
	}
	deadRun, liveRun := "sweep-dead-"+randomHex(3), "sweep-live-"+randomHex(3)
	mk(deadRun, dead.Process.Pid)
	mk(liveRun, os.Getppid()) // our parent, the go command, is alive
	t.Cleanup(func() { e.removeRun(context.Background(), liveRun, 1) })

	e.sweep(ctx, t.Logf)
	assert.Empty(t, leftovers(t, e, deadRun), "the dead run is swept")
	assert.NotEmpty(t, leftovers(t, e, liveRun), "a live run is left alone")
}

func itoa(i int) string { return fmt.Sprint(i) }

// TestInterruptRemovesMesh runs a mesh in a child test process, interrupts
// it with SIGINT while it samples, and checks that the child removed its mesh
// before dying: Go runs no t.Cleanup on a signal, so this is meshtest's own.
func TestInterruptRemovesMesh(t *testing.T) {
	if os.Getenv("MESHTEST_INTERRUPT_CHILD") == "1" {
		m := New(t, Config{Name: "sigint", Peers: 2})
		os.Stdout.WriteString("RUN " + m.Run + "\n")
		m.Record(t, time.Minute)
		return
	}
	e := testEngine(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestInterruptRemovesMesh$", "-test.v")
	cmd.Env = append(os.Environ(), "MESHTEST_INTERRUPT_CHILD=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	var run string
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if r, ok := strings.CutPrefix(sc.Text(), "RUN "); ok {
			run = r
			break
		}
	}
	require.NotEmpty(t, run, "child output:\n%s", strings.Join(lines, "\n"))
	time.Sleep(2 * time.Second) // let it sample
	require.NotEmpty(t, leftovers(t, e, run), "the mesh is up before the interrupt")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	require.Error(t, err, "the child dies of the signal")
	assert.Empty(t, leftovers(t, e, run), "child output:\n%s", strings.Join(lines, "\n"))
	assert.Contains(t, strings.Join(lines, "\n"), "removing 1 mesh(es)")
}

// TestPublishedPortsOnLoopback: where container IPs are unreachable the
// harness publishes each node's metrics port, on 127.0.0.1 only, and reaches
// it there. Forced on here, on Linux, to test the path Docker Desktop takes.
func TestPublishedPortsOnLoopback(t *testing.T) {
	e := testEngine(t)
	m, err := start(t.Context(), t.Name(), Config{Name: "publish", Peers: 1, PublishPorts: true}, topology.Star(1), t.Logf)
	if m != nil {
		t.Cleanup(m.close)
	}
	require.NoError(t, err, "converging proves the nodes were reached on 127.0.0.1")
	for _, n := range m.Nodes {
		assert.True(t, strings.HasPrefix(n.MetricsURL, "http://127.0.0.1:"), n.MetricsURL)
		ins, err := e.ContainerInspect(t.Context(), n.Container, client.ContainerInspectOptions{})
		require.NoError(t, err)
		for port, bindings := range ins.Container.HostConfig.PortBindings {
			for _, b := range bindings {
				assert.Equal(t, "127.0.0.1", b.HostIP.String(), "%s %v", n.Name, port)
			}
		}
		assert.Len(t, ins.Container.HostConfig.PortBindings, 1, "only the metrics port")
	}
}

// TestGrow adds peers to a running star: the new ones start, the whole star
// is proven again, and a topology that does not extend the mesh's is refused.
func TestGrow(t *testing.T) {
	e := testEngine(t)
	m, err := start(t.Context(), t.Name(), Config{Name: "grow", Peers: 2}, topology.Star(2), t.Logf)
	if m != nil {
		t.Cleanup(m.close)
	}
	require.NoError(t, err)
	first := m.Nodes[1].Container

	require.NoError(t, m.grow(t.Context(), topology.Star(4)))
	require.Len(t, m.Nodes, 5)
	assert.Equal(t, first, m.Nodes[1].Container, "existing peers are kept")
	assert.Equal(t, 4, m.Config.Peers)
	rec, err := m.record(t.Context(), 2*time.Second, t.Logf)
	require.NoError(t, err)
	assert.Equal(t, 4.0, rec.Role("bootstrap").Min(FigConns))
	assert.Empty(t, rec.Drift)

	ring, err := topology.Ring(6)
	require.NoError(t, err)
	assert.ErrorContains(t, m.grow(t.Context(), ring), "does not extend")

	m.close()
	assert.Empty(t, leftovers(t, e, m.Run))
}

// TestServices: an image that is not a node runs in the mesh from a spec,
// with no identity and no part in convergence, labelled as a service of the
// run and removed with it.
func TestServices(t *testing.T) {
	e := testEngine(t)
	collector := BundledSpec()
	collector.Name = "collector"
	collector.Env = map[string]string{"MESHNODE_LISTEN_PORT": "4001"} // dials no one, has no assigned key
	m, err := start(t.Context(), t.Name(), Config{Name: "services", Peers: 1, Services: []*Spec{collector}}, topology.Star(1), t.Logf)
	if m != nil {
		t.Cleanup(m.close)
	}
	require.NoError(t, err)
	require.Len(t, m.Services, 1)
	s := m.Services[0]
	assert.Len(t, m.Nodes, 2, "a service is not a node")
	ins, err := e.ContainerInspect(t.Context(), s.Container, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "service", ins.Container.Config.Labels[LabelRole])
	assert.Equal(t, m.Run, ins.Container.Config.Labels[LabelRun])
	assert.Equal(t, []string{"ALL"}, ins.Container.HostConfig.CapDrop)
	code, _, err := get(t.Context(), http.DefaultClient, s.URL+"/healthz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "the service is reachable at its URL")

	m.close()
	assert.Empty(t, leftovers(t, e, m.Run))
}
