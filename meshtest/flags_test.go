package meshtest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlagsNameTheFlag: a bad value from the command line is reported by
// its flag, not by the Config field a library user would set.
func TestFlagsNameTheFlag(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-peers=0"}))
	_, err := f.Config("star")
	assert.EqualError(t, err, "-peers=0: a mesh needs at least 1 peer besides the bootstrap; set -peers between 1 and 1022")

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
