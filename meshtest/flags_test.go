package meshtest

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/shape"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestFlagsNameTheFlag: a bad value from the command line is reported by
// its flag, not by the Config field a library user would set.
func TestFlagsNameTheFlag(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-peers=0"}))
	_, err := f.Config("star")
	assert.EqualError(t, err, "-peers=0: a mesh needs at least 1 peer besides the bootstrap; set -peers between 1 and 16352")

	require.NoError(t, fs.Parse([]string{"-peers=3", "-interval=10ms"}))
	_, err = f.Config("star")
	assert.ErrorContains(t, err, "-interval=10ms: sample at most every 100ms")

	require.NoError(t, fs.Parse([]string{"-interval=1s", "-spec=no/such/spec.json"}))
	_, err = f.Config("star")
	assert.ErrorContains(t, err, "-spec: no/such/spec.json: no such file, neither in the test's package directory")
	assert.ErrorContains(t, err, "nor in the module root")
}

// TestFindFileFromTheModuleRoot: a path typed from the repository's top
// (as people do) is found although `go test` runs in the package
// directory; spec and topology flags take it.
func TestFindFileFromTheModuleRoot(t *testing.T) {
	got, err := FindFile("testdata/topologies/ring-10.edges")
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := findModuleRoot(wd)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "testdata/topologies/ring-10.edges"), got)

	local := filepath.Join(t.TempDir(), "x.edges")
	require.NoError(t, os.WriteFile(local, []byte("0 1\n"), 0o644))
	got, err = FindFile(local)
	require.NoError(t, err)
	assert.Equal(t, local, got, "an absolute path is taken as it is")

	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-topology=file:testdata/topologies/ring-10.edges", "-spec=testdata/specs/kubo-peer.json"}))
	g, err := f.Graph("star")
	require.NoError(t, err)
	assert.Equal(t, 10, g.N)
	cfg, err := f.Config("kubo")
	require.NoError(t, err)
	assert.Equal(t, "kubo", cfg.Spec.Name)
}

// TestConditionFlags: -latency, -jitter, -loss and -rate set every link's
// default; -conditions loads a file (found from the module root); bad
// values are refused by the flag that carries them, with the fix.
func TestConditionFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-latency=50ms", "-jitter=5ms", "-loss=1%", "-rate=10mbit"}))
	cfg, err := f.Config("star")
	require.NoError(t, err)
	assert.Equal(t, shape.Link{Latency: 50 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01, Rate: 10_000_000}, cfg.Conditions.Link)

	for _, c := range []struct{ arg, want string }{
		{"-loss=5", `invalid value "5" for flag -loss: loss "5": a fraction must be in 0..1; write 5% for 5 percent`},
		{"-rate=10mbps", `invalid value "10mbps" for flag -rate: rate "10mbps": ambiguous`},
		{"-latency=50", `invalid value "50" for flag -latency: duration "50": want a number with a unit`},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		RegisterFlags(fs)
		assert.ErrorContains(t, fs.Parse([]string{c.arg}), c.want)
	}

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	f = RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-latency=10ms", "-jitter=20ms"}))
	_, err = f.Config("star")
	assert.ErrorContains(t, err, "-latency, -jitter, -loss, -rate: link.jitter: 20ms exceeds latency 10ms")

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	f = RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-conditions=testdata/conditions/bootstrap-link.json"}))
	cfg, err = f.Config("star")
	require.NoError(t, err)
	require.Len(t, cfg.Conditions.Nodes, 1)
	assert.Equal(t, "bootstrap", cfg.Conditions.Nodes[0].Select)

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	f = RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-conditions=testdata/conditions/world-8.gml"}))
	cfg, err = f.Config("star")
	require.NoError(t, err)
	assert.Len(t, cfg.Conditions.Regions.Names, 8, "a GML graph's nodes are regions")

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	f = RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-conditions=no/such.json"}))
	_, err = f.Config("star")
	assert.ErrorContains(t, err, "-conditions: no/such.json: no such file")
}

// TestTransportFlags: -transport and -security set every node spec's, the
// bundled node's by default; a combination no node takes is refused by
// its spec, naming the fix.
func TestTransportFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-transport=quic-v1"}))
	cfg, err := f.Config("star")
	require.NoError(t, err)
	require.NotNil(t, cfg.Spec)
	assert.Equal(t, "quic-v1", cfg.Spec.Transport)
	assert.True(t, cfg.Spec.Build.Bundled)

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	f = RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-transport=quic-v1", "-security=tls"}))
	_, err = f.Config("star")
	assert.ErrorContains(t, err, "QUIC brings its own TLS 1.3 handshake")
}

// TestBackendFlags: -backend picks the swarm and its engines file; what
// the swarm cannot run is refused by its flag before anything starts.
func TestBackendFlags(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := RegisterFlags(fs)
		require.NoError(t, fs.Parse(args))
		return f.Config("star")
	}
	cfg, err := parse()
	require.NoError(t, err)
	assert.Empty(t, cfg.Swarm, "the local engine by default")

	cfg, err = parse("-backend=swarm", "-swarm=/run/elsewhere/engines")
	require.NoError(t, err)
	assert.Equal(t, "/run/elsewhere/engines", cfg.Swarm)

	_, err = parse("-backend=k8s")
	assert.EqualError(t, err, "-backend=k8s: no such backend; use docker or swarm")
	_, err = parse("-backend=swarm", "-swarm=")
	assert.ErrorContains(t, err, "-swarm names no engines file; run scripts/swarm.sh up")
	_, err = parse("-backend=swarm", "-monitor")
	assert.ErrorContains(t, err, "-monitor=true: Prometheus scrapes the harness's exporter")
	_, err = parse("-backend=swarm", "-latency=10ms")
	assert.ErrorContains(t, err, "link conditions need the network helper")
	_, err = parse("-backend=swarm", "-peers=300")
	assert.ErrorContains(t, err, "-peers=300: a swarm run has one overlay network")
}

// TestSwarmEnginesFileIsCheckedFirst: a swarm whose engines file is
// missing fails the mesh with the file and the fix, before any engine is
// asked anything.
func TestSwarmEnginesFileIsCheckedFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engines")
	_, err := prepare(t.Context(), t.Name(), Config{Peers: 2, Swarm: path}, topology.Star(3), t.Logf)
	assert.ErrorContains(t, err, path)
	assert.ErrorContains(t, err, "scripts/swarm.sh up writes the file")
}
