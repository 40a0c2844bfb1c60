package meshtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
