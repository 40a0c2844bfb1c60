package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// testBackend is a Backend on the engine, closed when t ends.
func testBackend(t *testing.T, opts Options) *Backend {
	t.Helper()
	Require(t)
	b, err := New(t.Context(), opts)
	t.Cleanup(func() {
		if b != nil {
			b.Close()
		}
	})
	require.NoError(t, err)
	return b
}

// teardown is a context for cleanups: t.Context() is already cancelled
// when they run.
func teardown() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// removeRunOnCleanup removes everything of run when t ends, and fails t if
// anything is left.
func removeRunOnCleanup(t *testing.T, b *Backend, run string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := teardown()
		defer cancel()
		if err := b.RemoveRun(ctx, run, t.Logf); err != nil {
			t.Errorf("cleanup: remove run %s: %v", run, err)
		}
	})
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(buf)
}

// exitedProcess is a process that ran on this host and no longer does,
// identified as a killed meshtest process would have labelled its runs.
func exitedProcess(t testing.TB) process {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start true: %v", err)
	}
	// Until Wait reaps it, the process (running or a zombie) still has its
	// /proc entry and so its start time.
	p := process{host: self.host, pid: cmd.Process.Pid, start: startTime(cmd.Process.Pid)}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wait for true: %v", err)
	}
	if p.start == "" {
		t.Fatalf("no start time read for PID %d from /proc", p.pid)
	}
	return p
}

// ownedNetwork creates run's network labelled as owner's, as if owner had
// called NewRun: cheap (internal, no container). pidOnly labels it as an
// older meshtest did, with a PID and no process label. It is removed when t
// ends.
func ownedNetwork(t *testing.T, b *Backend, run string, owner process, pidOnly bool) string {
	t.Helper()
	labels := ownerLabels(t, run, owner, pidOnly)
	removeRunOnCleanup(t, b, run)
	res, err := b.cli.NetworkCreate(t.Context(), networkName(run), client.NetworkCreateOptions{
		Driver: "bridge", Internal: true, Labels: labels,
	})
	require.NoError(t, err, "create network of run %s", run)
	return res.ID
}

// ownerLabels are the labels of run's resources as owner would have put
// them; pidOnly labels them as an older meshtest did, with a PID and no
// process label.
func ownerLabels(t *testing.T, run string, owner process, pidOnly bool) map[string]string {
	labels := runLabels(run, t.Name())
	labels[labelHost] = owner.host
	labels[labelPID] = strconv.Itoa(owner.pid)
	labels[labelProcess] = owner.String()
	if pidOnly {
		delete(labels, labelProcess)
	}
	return labels
}

// sleeperSource is a program that does nothing until it is told to stop: a
// container that holds a network for as long as a test needs. Its
// arguments make it do one thing more:
//
//	addrs    print its interfaces and their addresses, one line, then sleep
//	deaf     ignore SIGTERM: only a kill stops it
//	serve    answer HTTP on :8080 with "hello from <hostname>"
//	fetch U  GET U every 200 ms until it answers, print "fetched: <body>"
//	exit N   exit with code N at once
//	hog      run a child that allocates memory until the OOM killer stops
//	         it, then exit 137 two seconds later: the engine reports an OOM
//	         kill only if containerd reads the kernel's notice before the
//	         cgroup is gone, which a unit whose only process was killed can
//	         lose under load (see oomGrace)
const sleeperSource = `package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	switch arg := strings.Join(os.Args[1:], " "); {
	case arg == "addrs":
		ifaces, _ := net.Interfaces()
		var out []string
		for _, i := range ifaces {
			addrs, _ := i.Addrs()
			for _, a := range addrs {
				out = append(out, i.Name+"="+a.String())
			}
		}
		fmt.Println(strings.Join(out, " "))
	case arg == "deaf":
		for range stop {
		}
	case arg == "serve":
		host, _ := os.Hostname()
		go http.ListenAndServe(":8080", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "hello from %s", host)
		}))
	case strings.HasPrefix(arg, "fetch "):
		go func() {
			c := &http.Client{Timeout: time.Second}
			for {
				if res, err := c.Get(strings.TrimPrefix(arg, "fetch ")); err == nil {
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					fmt.Printf("fetched: %s\n", body)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	case strings.HasPrefix(arg, "exit "):
		code, _ := strconv.Atoi(strings.TrimPrefix(arg, "exit "))
		os.Exit(code)
	case arg == "hog":
		self, _ := os.Executable()
		child := exec.Command(self, "hog-child")
		if err := child.Run(); child.ProcessState == nil {
			fmt.Println("hog:", err)
			os.Exit(2)
		}
		time.Sleep(2 * time.Second)
		if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(1)
	case arg == "hog-child":
		var keep [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	}
	<-stop
}
`

// sleeper memoises the sleeper image for the test process.
var sleeper struct {
	sync.Mutex
	tag string
}

// sleeperImage builds the sleeper into a FROM scratch image with the
// backend's own builder, offline. Like the bundled node's, its tag is its
// content hash, so the image is built once per change and kept on the
// engine for later runs.
func sleeperImage(t *testing.T, b *Backend) string {
	t.Helper()
	sleeper.Lock()
	defer sleeper.Unlock()
	if sleeper.tag != "" {
		return sleeper.tag
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module sleeper\n\ngo 1.26\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(sleeperSource), 0o644))
	bin := filepath.Join(dir, "sleeper")
	require.NoError(t, goCommand(t.Context(), dir, []string{"GOWORK=off", "GOFLAGS="}, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "."), "build the sleeper")
	tag, err := b.scratchImage(t.Context(), "meshtest-sleeper-test", bin, "/sleeper", "the sleeper's source", t.Logf)
	require.NoError(t, err)
	sleeper.tag = tag
	return tag
}

// startSleeper runs the sleeper attached to network, labelled with no run:
// nothing the backend removes by run knows of it. It is removed when t ends.
func startSleeper(t *testing.T, b *Backend, network string) string {
	t.Helper()
	img := sleeperImage(t, b)
	res, err := b.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:   "meshtest-sleeper-test-" + randomHex(t, 4),
		Config: &container.Config{Image: img, Labels: map[string]string{LabelTest: t.Name()}},
		HostConfig: &container.HostConfig{
			NetworkMode:    container.NetworkMode(network),
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			ReadonlyRootfs: true,
		},
	})
	t.Cleanup(func() {
		if res.ID == "" {
			return
		}
		ctx, cancel := teardown()
		defer cancel()
		if _, err := b.cli.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove sleeper %.12s: %v", res.ID, err)
		}
	})
	require.NoError(t, err, "create the sleeper on %s", network)
	_, err = b.cli.ContainerStart(t.Context(), res.ID, client.ContainerStartOptions{})
	require.NoError(t, err, "start the sleeper on %s", network)
	return res.ID
}

// logRecorder is a backend.Logf that keeps the lines it is given and
// passes them on to the test's log.
type logRecorder struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) logf(format string, args ...any) {
	r.t.Helper()
	r.t.Logf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// take returns the lines recorded since the last take.
func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

// mentioning keeps the lines that contain word.
func mentioning(lines []string, word string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return out
}

// removeAttempts is how many times removeNetwork has asked the engine to
// remove network id since it was last removed.
func removeAttempts(id string) int64 {
	n, ok := networkRemoves.Load(id)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}
