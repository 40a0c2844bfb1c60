package meshtest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend/docker"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// A process killed by a signal or by `go test -timeout` runs no t.Cleanup,
// so what removes its mesh then is the signal handler and the deadline guard
// of lifecycle.go. The tests here stop a child process (this test binary run
// again) in each phase of a mesh's life and check that the child removed
// everything it made. The parent finds what the child made by its test label
// (docker.LabelTest): each child is a subtest with a random name, because a
// child stopped before New returns cannot say its run ID.
const (
	childEnv      = "MESHTEST_INTERRUPT_CHILD" // "1" in a child process
	childNameEnv  = "MESHTEST_CHILD_NAME"      // the child's subtest name
	childPhaseEnv = "MESHTEST_CHILD_PHASE"     // what the child does
)

// TestInterruptChild is the child process of TestInterruptRemovesMesh and
// TestTimeoutDuringBringUpRemovesMesh; it runs only in one.
func TestInterruptChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		return // not a child: as os/exec's own tests do with their helper process
	}
	t.Run(os.Getenv(childNameEnv), func(t *testing.T) {
		switch phase := os.Getenv(childPhaseEnv); phase {
		case "deadline":
			New(t, Config{Name: "deadline", Peers: 100})
			t.Error("New returned: the deadline guard did not stop bring-up")
		case "shaped-sampling":
			m := New(t, Config{Name: "sigint", Peers: 10, Conditions: conditions.Conditions{Link: shape.Link{Latency: 20 * time.Millisecond, Loss: 0.01}}})
			m.Record(t, time.Minute)
		case "swarm-sampling":
			m := New(t, Config{Name: "sigint", Peers: 30, Swarm: os.Getenv("MESHTEST_SWARM")})
			m.Record(t, time.Minute)
		case "teardown":
			m := New(t, Config{Name: "sigint", Peers: 30})
			m.Record(t, 2*time.Second)
			m.Close()
		default: // floor, bring-up, sampling
			m := New(t, Config{Name: "sigint", Peers: 30, MeasureFloor: phase == "floor"})
			m.Record(t, time.Minute)
		}
	})
}

// BenchmarkDeadlineChild is the child process of the benchmark case of
// TestTimeoutDuringBringUpRemovesMesh; it runs only in one.
func BenchmarkDeadlineChild(b *testing.B) {
	if os.Getenv(childEnv) != "1" {
		return
	}
	b.Run(os.Getenv(childNameEnv), func(b *testing.B) {
		m := New(b, Config{Name: "deadline-bench", Peers: 30})
		m.Record(b, 2*time.Minute)
	})
}

// TestInterruptRemovesMesh: SIGINT in any phase of a mesh's life removes
// all of it, and the process still dies of the signal.
func TestInterruptRemovesMesh(t *testing.T) {
	b := testBackend(t)
	for _, tc := range []struct {
		phase  string
		marker string        // the child's log line that shows it is in the phase
		after  time.Duration // how far into the phase the interrupt comes
	}{
		// Some of the floor's plain containers exist, more are being created.
		{"floor", "meshtest: measuring the engine floor", 1500 * time.Millisecond},
		// A third of the nodes run, the others are being created: creates
		// cancelled mid-call may still land after the first removal pass.
		{"bring-up", "meshtest: started 10/31 nodes", 0},
		{"sampling", "meshtest: sampling", 2 * time.Second},
		// Close is removing the mesh: the handler must let it finish.
		{"teardown", "meshtest: removing mesh", 0},
		// Started with SIGINT ignored, as a non-interactive shell starts a
		// background job: a `kill -INT` must still remove the mesh.
		{"ignored-sampling", "meshtest: sampling", 2 * time.Second},
		// Links shaped by a helper beside every node, packets held in their
		// delay lines: the helpers go with the mesh.
		{"shaped-sampling", "meshtest: sampling", 2 * time.Second},
	} {
		t.Run("phase="+tc.phase, func(t *testing.T) {
			host := hostNetwork(t)
			c := startChild(t, b, "TestInterruptChild", tc.phase)
			require.True(t, c.await(tc.marker, 3*time.Minute), "the child never printed %q", tc.marker)
			time.Sleep(tc.after)
			if tc.phase != "teardown" { // listing there would delay the signal past the removal
				require.NotEmpty(t, c.units(t), "the child's units are on the engine when it is interrupted (else the check below proves nothing)")
			}
			require.NoError(t, c.cmd.Process.Signal(syscall.SIGINT))
			c.wait(t)

			sig, signaled := c.signaled()
			if strings.HasPrefix(tc.phase, "ignored-") {
				// The ignore is restored before the signal is raised again,
				// so the process exits with the shell's code for it.
				assert.Equal(t, 128+int(syscall.SIGINT), c.cmd.ProcessState.ExitCode(), "the child exits 130 for SIGINT; it ended with %v", c.cmd.ProcessState)
			} else {
				assert.True(t, signaled && sig == syscall.SIGINT, "the child dies of SIGINT; it ended with %v", c.cmd.ProcessState)
			}
			assert.Contains(t, c.output(), "removing 1 mesh(es)")
			assert.Empty(t, c.leftovers(t), "units of %s left on the engine", c.test)
			if tc.phase == "shaped-sampling" {
				assert.Contains(t, c.output(), "calibrated", "the child's links were shaped")
			}
			assert.Equal(t, host, hostNetwork(t), "the host's own qdiscs and nftables tables")
		})
	}
}

// TestInterruptRemovesSwarmMesh: SIGINT while a mesh on a swarm samples
// removes all of it from every engine: services, tasks, configs, the
// gateway and the overlay. It needs the swarm MESHTEST_SWARM names
// (scripts/swarm.sh up); MESHTEST_REQUIRE_SWARM=1 makes its absence fail.
func TestInterruptRemovesSwarmMesh(t *testing.T) {
	path := os.Getenv("MESHTEST_SWARM")
	if path == "" {
		if os.Getenv("MESHTEST_REQUIRE_SWARM") == "1" {
			t.Fatal("MESHTEST_REQUIRE_SWARM=1 but MESHTEST_SWARM names no engines file (run scripts/swarm.sh up)")
		}
		t.Skip("no swarm: run scripts/swarm.sh up and set MESHTEST_SWARM=/run/mtswarm/engines")
	}
	s, err := docker.OpenSwarm(t.Context(), path)
	require.NoError(t, err)
	defer s.Close()
	c := startChild(t, testBackend(t), "TestInterruptChild", "swarm-sampling")
	c.swarm = s
	require.True(t, c.await("meshtest: sampling", 3*time.Minute), "the child never printed %q", "meshtest: sampling")
	time.Sleep(2 * time.Second)
	require.NotEmpty(t, c.units(t), "the child's units are on the swarm when it is interrupted (else the check below proves nothing)")
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGINT))
	c.wait(t)
	sig, signaled := c.signaled()
	assert.True(t, signaled && sig == syscall.SIGINT, "the child dies of SIGINT; it ended with %v", c.cmd.ProcessState)
	assert.Contains(t, c.output(), "removing 1 mesh(es)")
	assert.Empty(t, c.leftovers(t), "units of %s left on the swarm", c.test)
}

// hostNetwork is what of the host's own network a shape could change: the
// qdiscs of its interfaces (but the veths and bridges Docker adds and
// removes for every network, ours and anyone's) and its nftables tables.
// Shaping happens only inside the nodes' namespaces, so it must not change.
func hostNetwork(t *testing.T) string {
	t.Helper()
	var out []string
	links, err := net.Interfaces()
	require.NoError(t, err)
	for _, l := range links {
		if strings.HasPrefix(l.Name, "veth") || strings.HasPrefix(l.Name, "br-") {
			continue
		}
		q, err := exec.Command("tc", "qdisc", "show", "dev", l.Name).CombinedOutput()
		require.NoError(t, err, "tc qdisc show dev %s: %s", l.Name, q)
		out = append(out, l.Name+": "+strings.TrimSpace(string(q)))
		assert.False(t, strings.HasPrefix(l.Name, "mtshape"), "an IFB device of ours on the host: %s", l.Name)
	}
	tables, err := exec.Command("nft", "list", "tables").CombinedOutput()
	require.NoError(t, err, "nft list tables: %s", tables)
	assert.NotContains(t, string(tables), shape.TableName, "our nftables table on the host")
	return strings.Join(out, "\n") + "\n" + string(tables)
}

// TestTimeoutDuringBringUpRemovesMesh: when `go test -timeout` is about to
// kill the process, the deadline guard removes the mesh first: during
// bring-up for a test (whose deadline is t.Deadline), and during sampling
// for a benchmark (whose deadline is counted from the -test.timeout flag).
// A benchmark is not under the binary's own alarm (testing stops it before
// benchmarks run) but under go test's, which sends SIGQUIT a minute after
// -timeout: the guard comes before both.
func TestTimeoutDuringBringUpRemovesMesh(t *testing.T) {
	b := testBackend(t)
	// The child's deadline counts from its start: build the node's image
	// now, so that the child's bring-up begins at once and not after a
	// compile of unknown length.
	_, err := b.Image(t.Context(), spec.Bundled(), "", t.Logf)
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		top     string // the child test or benchmark
		phase   string
		nodes   int
		fireAt  time.Duration // when, after the child's start, the guard is to fire
		inPhase string        // the child's log line that shows it is in the phase the guard must hit
		after   string        // a line that must not come before the guard's: the phase ended
	}{
		// Docker starts 1.5-6 containers/s here: the first ten of 101
		// nodes run within 8 s, and New returns after 20 s at the earliest.
		{"tb=test", "TestInterruptChild", "deadline", 101, 14 * time.Second, "meshtest: started", "meshtest: converged"},
		// New of 31 nodes returns within 30 s; then it samples for 2 minutes.
		{"tb=benchmark", "BenchmarkDeadlineChild", "deadline-bench", 31, 45 * time.Second, "meshtest: sampling", "meshtest: sampled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The guard fires removalBudget before the deadline, for the
			// nodes and one unit more (guardDeadline).
			timeout := removalBudget(tc.nodes+1) + tc.fireAt
			c := startChild(t, b, tc.top, tc.phase, "-test.timeout="+timeout.String())
			require.True(t, c.await(tc.inPhase, 3*time.Minute), "the child never printed %q", tc.inPhase)
			require.NotEmpty(t, c.units(t), "the child's units are on the engine (else the check below proves nothing)")
			c.wait(t)

			out := c.output()
			_, signaled := c.signaled()
			assert.False(t, signaled, "the child is not killed by a signal; it ended with %v", c.cmd.ProcessState)
			assert.NotZero(t, c.cmd.ProcessState.ExitCode(), "the child fails: the guard reports what it did as an error")
			assert.NotContains(t, out, "panic: test timed out", "the guard removes the mesh before go test's -timeout kills the child")
			guard := c.line("-timeout expires")
			if assert.GreaterOrEqual(t, guard, 0, "the guard says it removes the mesh") {
				in := c.line(tc.inPhase)
				assert.True(t, 0 <= in && in < guard, "%q comes before the guard fires: raise fireAt", tc.inPhase)
				if end := c.line(tc.after); end >= 0 {
					assert.Greater(t, end, guard, "the guard fires before %q: lower fireAt", tc.after)
				}
			}
			assert.Empty(t, c.leftovers(t), "units of %s left on the engine", c.test)
		})
	}
}

// child is this test binary run again as a child process, for what a test
// cannot do to its own process: interrupt it, or let its -timeout expire. It
// keeps the child's whole output, stdout and stderr in order, and logs it
// if the test fails.
type child struct {
	cmd    *exec.Cmd
	b      *docker.Backend
	swarm  *docker.Swarm // set when the child runs its mesh on a swarm
	test   string        // the child's full test name: its units' docker.LabelTest
	exited chan struct{} // closed once the child is reaped

	mu      sync.Mutex
	out     []byte
	lines   []string      // the complete lines of out
	split   int           // how much of out lines holds
	newLine chan struct{} // closed and replaced whenever lines grow
}

// startChild runs top (a test or a benchmark of this binary) in a child
// process, as a subtest with a fresh name that does phase. Ten minutes
// bound it: then, or when the test ends first, the child is interrupted
// (so that it still removes its mesh) and killed two minutes later.
func startChild(t *testing.T, b *docker.Backend, top, phase string, args ...string) *child {
	t.Helper()
	name := phase + "-" + randomHex(4)
	pattern := fmt.Sprintf("^%s$/^%s$", top, regexp.QuoteMeta(name))
	if strings.HasPrefix(top, "Benchmark") {
		args = append(args, "-test.run=^$", "-test.bench="+pattern, "-test.benchtime=1x")
	} else {
		args = append(args, "-test.run="+pattern)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], append(args, "-test.v")...)
	if p, ok := strings.CutPrefix(phase, "ignored-"); ok {
		// sh's trap "" sets SIGINT to ignored, and exec keeps it so.
		phase = p
		cmd = exec.CommandContext(ctx, "sh", append([]string{"-c", `trap "" INT; exec "$0" "$@"`, os.Args[0]}, append(args, "-test.v")...)...)
	}
	cmd.Env = append(os.Environ(), childEnv+"=1", childNameEnv+"="+name, childPhaseEnv+"="+phase,
		"TMPDIR="+t.TempDir()) // the artifact directories of a killed child go with the test's
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 2 * time.Minute // removing 100 containers took up to 80 s here
	c := &child{cmd: cmd, b: b, test: top + "/" + name, exited: make(chan struct{}), newLine: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c, c
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start child %s: %v", c.test, err)
	}
	go func() {
		cmd.Wait() // its result is cmd.ProcessState
		cancel()
		close(c.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-c.exited
		t.Logf("child %s ran %.1f s and ended with %v", c.test, time.Since(begin).Seconds(), cmd.ProcessState)
		if t.Failed() {
			t.Logf("output of child %s (%s):\n%s", c.test, strings.Join(cmd.Args, " "), c.output())
		}
	})
	return c
}

// Write takes the child's output.
func (c *child) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, p...)
	if i := bytes.LastIndexByte(c.out, '\n'); i >= c.split {
		c.lines = append(c.lines, strings.Split(string(c.out[c.split:i]), "\n")...)
		c.split = i + 1
		close(c.newLine)
		c.newLine = make(chan struct{})
	}
	return len(p), nil
}

// await waits for a line that contains s; it is false if the child exits
// or d passes first.
func (c *child) await(s string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		c.mu.Lock()
		next := c.newLine
		c.mu.Unlock()
		if c.line(s) >= 0 {
			return true
		}
		select {
		case <-next:
		case <-c.exited:
			return c.line(s) >= 0
		case <-timeout:
			return false
		}
	}
}

// line is the index of the first line that contains s, or -1.
func (c *child) line(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, l := range c.lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

// wait waits for the child to exit: it does within the bound startChild set.
func (c *child) wait(t *testing.T) {
	t.Helper()
	<-c.exited
	require.NotNil(t, c.cmd.ProcessState, "the child ran")
}

// signaled is the signal the child died of, if it did.
func (c *child) signaled() (syscall.Signal, bool) {
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// units lists the containers and networks labelled with the child's test
// name, of any run: its mesh's, and its floor's.
func (c *child) units(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	byTest := c.b.ByTest
	if c.swarm != nil {
		byTest = c.swarm.ByTest
	}
	got, err := byTest(ctx, c.test)
	require.NoError(t, err)
	return got
}

// leftovers is units once the child has ended, less the networks stuck in
// the engine (withoutStuckNetworks).
func (c *child) leftovers(t *testing.T) []string {
	t.Helper()
	left := c.units(t)
	if len(left) == 0 || c.swarm != nil { // an overlay is not a bridge that can stick
		return left
	}
	runs, err := c.b.RunsByTest(context.Background(), c.test)
	require.NoError(t, err)
	return withoutStuckNetworks(t, c.b, runs, left)
}

// TestDeadlineOfTBWithoutDeadline: a TB with no Deadline method, as
// *testing.B, gets the -test.timeout flag counted from the process's start,
// which is never later than go test's own alarm; a TB with one gets its own.
func TestDeadlineOfTBWithoutDeadline(t *testing.T) {
	noDeadline := struct{ testing.TB }{t} // hides (*testing.T).Deadline
	if want, ok := t.Deadline(); ok {
		got, gotOK := deadline(noDeadline)
		require.True(t, gotOK)
		assert.False(t, got.After(want), "the flag's deadline %v is not after the test's %v", got, want)
		assert.WithinDuration(t, want, got, 5*time.Second, "the process started just before the tests")
	}
	got, ok := deadline(t)
	want, wantOK := t.Deadline()
	assert.Equal(t, wantOK, ok)
	assert.Equal(t, want, got, "a *testing.T's deadline is its own")

	f := flag.Lookup("test.timeout")
	require.NotNil(t, f, "the testing package defines -test.timeout")
	old := f.Value.String()
	// Read by the testing package only when the binary starts and ends.
	t.Cleanup(func() { require.NoError(t, f.Value.Set(old)) })
	for _, tc := range []struct {
		flag string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"0s", 0, false}, // -timeout 0: no deadline, so no guard
	} {
		require.NoError(t, f.Value.Set(tc.flag))
		got, ok := deadline(noDeadline)
		assert.Equal(t, tc.ok, ok, "-test.timeout=%s", tc.flag)
		if tc.ok {
			assert.Equal(t, processStarted.Add(tc.want), got, "-test.timeout=%s", tc.flag)
		}
	}
}
