package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The containers in the fixture trees, one per layout Docker uses. v1Docker's
// files are copied from a real container on a Docker 20.10, cgroup v1,
// cgroupfs host.
const (
	v1Docker  = "838eac9f94750f7046090fa974e4e953b80dd1a1a3ec24859d093e3c446be041" // docker/<id>, pid 4784
	v1Systemd = "5d41402abc4b2a76b9719d911017c592ae2f0f8e7a1b4c3d9e8f7a6b5c4d3e2f" // system.slice/docker-<id>.scope, pid 9120
	v2Systemd = "a3f1c2e4b5d6978812345678901234567890abcdefabcdefabcdefabcdef0123" // system.slice/docker-<id>.scope, pid 31337
	v2Docker  = "0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c" // docker/<id>, pid 31400
)

// fixtureReader returns a Reader over testdata/<tree>.
func fixtureReader(t testing.TB, tree string) *Reader {
	t.Helper()
	r, err := NewReader(filepath.Join("testdata", tree, "cgroup"), filepath.Join("testdata", tree, "proc"))
	require.NoError(t, err)
	return r
}

// copyTree copies testdata/<tree> to a temporary directory a test may break.
func copyTree(t *testing.T, tree string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", tree))))
	return dir
}

func TestNewReader(t *testing.T) {
	assert.Equal(t, V1, fixtureReader(t, "v1").Version())
	assert.Equal(t, V2, fixtureReader(t, "v2").Version())
	assert.Equal(t, "v2", V2.String())
}

func TestNewReaderErrors(t *testing.T) {
	empty := t.TempDir()
	noPids := copyTree(t, "v1")
	require.NoError(t, os.RemoveAll(filepath.Join(noPids, "cgroup", "pids")))

	tests := []struct {
		name     string
		root     string
		proc     string
		wantErrs []string
	}{
		{"empty root", empty, "testdata/v1/proc", []string{"no usable cgroup layout under " + empty, filepath.Join(empty, "cgroup.controllers"), filepath.Join(empty, "memory")}},
		{"missing root", filepath.Join(empty, "nope"), "testdata/v1/proc", []string{"no usable cgroup layout"}},
		{"v1 without pids", filepath.Join(noPids, "cgroup"), "testdata/v1/proc", []string{filepath.Join(noPids, "cgroup", "pids")}},
		{"missing proc", "testdata/v2/cgroup", filepath.Join(empty, "proc"), []string{"proc filesystem " + filepath.Join(empty, "proc") + " not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(tt.root, tt.proc)
			require.Error(t, err)
			assert.Nil(t, r)
			for _, want := range tt.wantErrs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	tests := []struct {
		tree, id, wantCPU string
	}{
		{"v1", v1Docker, "testdata/v1/cgroup/cpuacct/docker/" + v1Docker + "/cpuacct.usage"},
		{"v1", v1Systemd, "testdata/v1/cgroup/cpuacct/system.slice/docker-" + v1Systemd + ".scope/cpuacct.usage"},
		{"v2", v2Systemd, "testdata/v2/cgroup/system.slice/docker-" + v2Systemd + ".scope/cpu.stat"},
		{"v2", v2Docker, "testdata/v2/cgroup/docker/" + v2Docker + "/cpu.stat"},
	}
	for _, tt := range tests {
		t.Run(tt.tree+"/"+tt.id[:12], func(t *testing.T) {
			c, err := fixtureReader(t, tt.tree).Find(tt.id)
			require.NoError(t, err)
			assert.Equal(t, tt.id, c.ID)
			assert.Equal(t, tt.wantCPU, c.CPUFile)
		})
	}
}

func TestFindErrors(t *testing.T) {
	const unknown = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	_, err := fixtureReader(t, "v1").Find(unknown)
	require.Error(t, err)
	for _, want := range []string{
		"find container ffffffffffff (cgroup v1)",
		"testdata/v1/cgroup/cpuacct/docker/" + unknown + "/cpuacct.usage",
		"testdata/v1/cgroup/cpuacct/system.slice/docker-" + unknown + ".scope/cpuacct.usage",
	} {
		assert.Contains(t, err.Error(), want)
	}

	_, err = fixtureReader(t, "v2").Find(unknown)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "testdata/v2/cgroup/docker/"+unknown+"/cpu.stat")

	// A directory that exists but lacks a controller's file is reported by
	// that file, not by the directory.
	dir := copyTree(t, "v2")
	require.NoError(t, os.Remove(filepath.Join(dir, "cgroup", "docker", v2Docker, "pids.current")))
	r, err := NewReader(filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc"))
	require.NoError(t, err)
	_, err = r.Find(v2Docker)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "cgroup", "docker", v2Docker, "pids.current"))

	for _, bad := range []string{"", "../../etc", "a/b", ".."} {
		_, err := fixtureReader(t, "v1").Find(bad)
		assert.ErrorContains(t, err, "invalid container ID", "Find(%q)", bad)
	}
}
