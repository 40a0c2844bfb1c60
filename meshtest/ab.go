package meshtest

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest/regress"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// AB is an A/B comparison of two versions of a node on one engine: the
// same experiment run for each, alternately, Runs times per side, each
// figure compared with a two-sample test (regress.CompareAB). Measuring
// both in one job, interleaved, is what makes the verdict mean something
// on any machine: whatever the runner adds, it adds to both sides.
type AB struct {
	Base, Head         *spec.Spec
	BaseName, HeadName string // in the report: "main (1a2b3c4)", "HEAD"; default "base", "head"
	// Runs per side; default 5, the fewest with which the exact
	// Mann–Whitney test can reach p < 0.05 with room (p ≥ 0.029 at 4).
	Runs int
	// Duration of each run's sampling window; default 10 s.
	Duration time.Duration
	// Metrics are the figures compared; default StarMetrics().
	Metrics []Metric
	// Experiment runs one side once and returns its recording; default
	// a star of cfg.Peers recorded for Duration. cfg.Spec is the side's.
	Experiment func(t *testing.T, cfg Config) *Recording
	Options    regress.ABOptions
}

// Run measures both sides in ABBA order (base, head, head, base, …), so
// a drift of the machine over the job (a warming cache, a neighbour's
// load) falls on both alike, each run a sub-test
// "run=3/side=head" with its own artifacts, and returns the comparison.
// It does not fail the test on a regression: the caller decides, with
// report.Failed().
func (ab AB) Run(t *testing.T, cfg Config) regress.ABReport {
	t.Helper()
	if ab.Base == nil || ab.Head == nil {
		t.Fatalf("meshtest: AB needs a Base and a Head spec")
	}
	ab.Runs = cmp.Or(ab.Runs, 5)
	ab.Duration = cmp.Or(ab.Duration, 10*time.Second)
	if ab.Metrics == nil {
		ab.Metrics = StarMetrics()
	}
	if ab.Experiment == nil {
		d := ab.Duration
		ab.Experiment = func(t *testing.T, cfg Config) *Recording {
			m := New(t, cfg)
			rec := m.Record(t, d)
			rec.WriteArtifacts(t)
			m.Close()
			return rec
		}
	}
	values := map[string][2][]float64{}
	for i := range ab.Runs {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, side := range order {
			name := [2]string{"base", "head"}[side]
			t.Run(fmt.Sprintf("run=%d/side=%s", i+1, name), func(t *testing.T) {
				c := cfg
				c.Spec, c.BootstrapSpec, c.Groups = [2]*spec.Spec{ab.Base, ab.Head}[side], nil, nil
				c.Name = cmp.Or(cfg.Name, "ab") + "-" + name
				rec := ab.Experiment(t, c)
				for _, mt := range ab.Metrics {
					v := values[mt.Name]
					v[side] = append(v[side], mt.Of(rec))
					values[mt.Name] = v
				}
			})
		}
	}
	var figs []regress.ABFigure
	for _, mt := range ab.Metrics {
		v := values[mt.Name]
		figs = append(figs, regress.ABFigure{Name: mt.Name, Unit: mt.Unit, Base: v[0], Head: v[1], HigherIsWorse: true, Gate: mt.Gated})
	}
	report := regress.CompareAB(figs, ab.Options)
	report.BaseName, report.HeadName = cmp.Or(ab.BaseName, "base"), cmp.Or(ab.HeadName, "head")
	return report
}

// BundledAt is the bundled node as it was at git revision rev of this
// module: a worktree of the revision (offline, from the local repository),
// node/cmd/meshnode built there as a static binary into t.TempDir(), the
// worktree removed. The spec is today's Bundled() running that binary, so
// the harness drives both sides alike; a node older than a flag the spec
// sets ignores the variable. The second result names the revision:
// "origin/main (1a2b3c4d)".
func BundledAt(t testing.TB, rev string) (*spec.Spec, string) {
	t.Helper()
	wd, _ := os.Getwd()
	root, err := findModuleRoot(wd)
	if err != nil {
		t.Fatalf("meshtest: bundled node at %q: %v", rev, err)
	}
	bin, name, err := BuildAt(t.TempDir(), root, "./node/cmd/meshnode", rev, t.Logf)
	if err != nil {
		t.Fatalf("meshtest: bundled node at %q: %v", rev, err)
	}
	s := spec.Bundled()
	s.Build = &spec.Build{Binary: bin}
	return s, name
}

// BuildAt builds the Go main package pkg of the git repository repo as it
// was at revision rev into a static binary in dir, through a temporary
// worktree (removed afterwards), and returns its path and a name for the
// revision. Errors carry git's or go's own words.
func BuildAt(dir, repo, pkg, rev string, logf func(string, ...any)) (bin, name string, err error) {
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	commit, err := git("rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("revision %q: not a commit of %s (fetch it first, e.g. git fetch origin main): %w", rev, repo, err)
	}
	name = fmt.Sprintf("%s (%s)", rev, commit[:min(8, len(commit))])
	tree := filepath.Join(dir, "worktree")
	if _, err := git("worktree", "add", "--detach", tree, commit); err != nil {
		return "", "", err
	}
	defer func() {
		if _, rmErr := git("worktree", "remove", "--force", tree); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	bin = filepath.Join(dir, "node-"+commit[:min(12, len(commit))])
	logf("meshtest: building %s of %s at %s", pkg, repo, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build %s at %s: %v: %s", pkg, name, err, strings.TrimSpace(string(out)))
	}
	return bin, name, nil
}
