package docker

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// The child of TestStartCostDoesNotGrowWithTheNetwork reads its run and
// image from these.
const (
	callsChildRun   = "MESHTEST_CALLS_CHILD_RUN"
	callsChildImage = "MESHTEST_CALLS_CHILD_IMAGE"
)

// networkInspect is the path of GET /networks/{id}: an answer that lists
// every endpoint of the network, so a call of it per started node makes
// bring-up quadratic in the mesh.
var networkInspect = regexp.MustCompile(`^GET /v[0-9.]+/networks/[^/]+$`)

// TestStartCostDoesNotGrowWithTheNetwork: starting a unit on two networks
// makes no network inspection, whose answer grows with every container on
// the network, and removing it takes one call, not a stop and a removal. testcontainers made one per network per node; at 1000 nodes
// that was the bring-up's slowdown as the mesh grew. The unit runs in a
// child process whose engine is a recording proxy, because testcontainers
// resolves the engine's address once per process.
func TestStartCostDoesNotGrowWithTheNetwork(t *testing.T) {
	if run := os.Getenv(callsChildRun); run != "" {
		startOnTwoNetworks(t, run, os.Getenv(callsChildImage))
		return
	}
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	engine, err := url.Parse(b.cli.DaemonHost())
	require.NoError(t, err)
	if engine.Scheme != "unix" {
		t.Skipf("the engine is at %s: the recording proxy speaks to a unix socket only", b.cli.DaemonHost())
	}
	rec := &callRecorder{}
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := &http.Server{Handler: rec.proxy(engine.Path)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	run := "calls-" + randomHex(t, 4)
	removeRunOnCleanup(t, b, run)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, callsChildRun+"="+run, callsChildImage+"="+img)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the child:\n%s", out)
	require.Contains(t, string(out), "--- PASS", "the child ran the test:\n%s", out)

	all := rec.take()
	for _, c := range all {
		assert.False(t, strings.HasSuffix(c, "/stop"), "a stop before the forced removal, a second call for the same kill: %s (all calls: %v)", c, all)
	}
	// The child starts, then removes the run; a removal may inspect a
	// network that will not go, so the start's calls are those before it.
	removal := slices.IndexFunc(all, func(c string) bool { return strings.HasPrefix(c, "DELETE /") })
	require.GreaterOrEqual(t, removal, 0, "the child removed its run: %v", all)
	calls := all[:removal]
	t.Logf("the child's calls up to its removal: %v", calls)
	assert.True(t, slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, "/containers/create") }),
		"the proxy saw the create: %v", calls)
	assert.True(t, slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, "/connect") }),
		"the second network is joined: %v", calls)
	for _, c := range calls {
		assert.False(t, networkInspect.MatchString(c), "Start inspected a network: %s (all calls: %v)", c, calls)
	}
}

// startOnTwoNetworks is the child's part: a run with two networks and one
// unit on both, with its alias on each.
func startOnTwoNetworks(t *testing.T, id, img string) {
	b := testBackend(t, Options{})
	r, err := b.NewRun(t.Context(), backend.RunOptions{ID: id, Test: t.Name(), Networks: 2})
	require.NoError(t, err)
	_, err = r.Start(t.Context(), backend.Unit{Name: "both", Image: img, Networks: []int{0, 1}})
	require.NoError(t, err)
	cid, err := r.(*run).container("both")
	require.NoError(t, err)
	ins, err := b.cli.ContainerInspect(t.Context(), cid, client.ContainerInspectOptions{})
	require.NoError(t, err)
	nets := ins.Container.NetworkSettings.Networks
	require.Len(t, nets, 2, "the unit is on both networks: %v", nets)
	for name, ep := range nets {
		assert.Contains(t, ep.Aliases, "both", "alias on %s", name)
	}
	require.NoError(t, b.RemoveRun(t.Context(), id, t.Logf))
}

// callRecorder forwards HTTP to the engine's socket and keeps "METHOD path"
// of every request.
type callRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (c *callRecorder) proxy(socket string) http.Handler {
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.calls = append(c.calls, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		p.ServeHTTP(w, r)
	})
}

func (c *callRecorder) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}
