package meshtest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/spec"
)

// TestBuildAt builds the bundled node at this repository's HEAD through a
// worktree, offline, and leaves no worktree behind; a revision that is not
// a commit is refused with git's words and the fix.
func TestBuildAt(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git: %v (the A/B gate builds revisions with it)", err)
	}
	wd, _ := os.Getwd()
	root, err := findModuleRoot(wd)
	require.NoError(t, err)
	if err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Run(); err != nil {
		t.Fatalf("%s is not a git checkout with a HEAD: %v", root, err)
	}
	dir := t.TempDir()
	bin, name, err := BuildAt(dir, root, "./node/cmd/meshnode", "HEAD", t.Logf)
	require.NoError(t, err)
	assert.Regexp(t, `^HEAD \([0-9a-f]{8}\)$`, name)
	st, err := os.Stat(bin)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&0o111, "an executable")
	out, err := exec.Command("git", "-C", root, "worktree", "list").CombinedOutput()
	require.NoError(t, err)
	assert.NotContains(t, string(out), dir, "the worktree is removed")

	_, _, err = BuildAt(t.TempDir(), root, "./node/cmd/meshnode", "no-such-revision", t.Logf)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), `revision "no-such-revision": not a commit`) && strings.Contains(err.Error(), "git fetch"), err.Error())
}

// fatalTB records a Fatalf and ends the goroutine, as testing's does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// side runs ABSide in a goroutine of its own, so that its Fatalf can end it.
func side(t *testing.T, f *Flags, value string) (*spec.Spec, string, string) {
	tb := &fatalTB{TB: t}
	var s *spec.Spec
	var name string
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, name = f.ABSide(tb, "base", value)
	}()
	<-done
	return s, name, tb.msg
}

// TestABSide: each form of -base/-head gives the node it names, and a
// form that cannot be built says which flag to fix.
func TestABSide(t *testing.T) {
	s, name, msg := side(t, &Flags{}, "")
	require.Empty(t, msg)
	assert.Equal(t, "working tree", name)
	assert.True(t, s.Build.Bundled)

	s, name, msg = side(t, &Flags{}, "testdata/specs/meshnode-plus-4k.json")
	require.Empty(t, msg)
	assert.Equal(t, "4096", s.Env["MESHNODE_EXTRA_BYTES_PER_CONN"], name)

	_, _, msg = side(t, &Flags{}, "testdata/specs/missing.json")
	assert.Contains(t, msg, "-base=testdata/specs/missing.json")

	_, _, msg = side(t, &Flags{ABRepo: "."}, "HEAD")
	assert.Contains(t, msg, "needs -ab-repo (its directory), -ab-package")

	// Another repository's package at a revision, run under -spec: here
	// this module's node under the Kubo spec's name, paths typed from the
	// module root.
	s, name, msg = side(t, &Flags{ABRepo: ".", ABPackage: "./node/cmd/meshnode", Spec: "testdata/specs/kubo-peer.json"}, "HEAD")
	require.Empty(t, msg)
	assert.Equal(t, "kubo", s.Name)
	require.NotNil(t, s.Build)
	assert.NotEmpty(t, s.Build.Binary)
	assert.Empty(t, s.Build.Package, "the spec's own build is replaced")
	assert.Contains(t, name, "HEAD (")
}
