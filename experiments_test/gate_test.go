package experiments_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/regress"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// gateDuration is each A/B run's window: -duration when given, else 8 s,
// which holds the idle figures of a 10-peer star steady to a few percent.
func gateDuration() time.Duration {
	if flagSet("duration") {
		return flags.Duration
	}
	return 8 * time.Second
}

// TestGate is the A/B regression gate a pull request runs (make gate
// BASE=origin/main): the node of -base and the node of -head (each a git
// revision or a spec file; default, both the working tree's bundled node),
// in a star of -peers, measured alternately on this engine, -ab-runs times
// each, and every figure compared with a Mann–Whitney test. A gated figure
// fails the test only when it got worse by more than 5 % and the change is
// significant at 5 %; the table (gate.md, the job summary) says for every
// figure its ratio, interval, p and the smallest change the runs could have
// detected. With both sides the same, nothing may be reported as a
// regression.
func TestGate(t *testing.T) {
	cfg, err := flags.Config("gate")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)
	base, baseName := flags.ABSide(t, "base", flags.Base)
	head, headName := flags.ABSide(t, "head", flags.Head)
	report := meshtest.AB{Base: base, Head: head, BaseName: baseName, HeadName: headName, Runs: flags.ABRuns, Duration: gateDuration()}.Run(t, cfg)
	writeComparison(t, "gate", "meshtest A/B gate", report.Markdown(), report.Text())
	if report.Failed() {
		t.Errorf("regression of %s against %s:\n%s", headName, baseName, report.Text())
	} else {
		t.Logf("%s against %s:\n%s", headName, baseName, report.Text())
	}
}

// TestGateCatchesCostlierNodeAB proves the A/B gate sees a real change:
// the bundled node against itself holding 256 KiB more per connection
// must be a significant regression of memory per connection, with the
// ratio and its interval, and goroutines per connection must not move.
func TestGateCatchesCostlierNodeAB(t *testing.T) {
	cfg, err := flags.Config("gate-costlier")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)
	costlier := spec.Bundled()
	costlier.Env["MESHNODE_EXTRA_BYTES_PER_CONN"] = fmt.Sprint(256 << 10)
	report := meshtest.AB{Base: spec.Bundled(), Head: costlier, BaseName: "bundled", HeadName: "bundled + 256 KiB/conn",
		Runs: flags.ABRuns, Duration: gateDuration()}.Run(t, cfg)
	t.Logf("the costlier node against the bundled one:\n%s", report.Text())
	require.True(t, report.Failed(), "the gate let a node with 256 KiB more per connection pass")
	for _, row := range report.Rows {
		switch row.Figure {
		case figBytesPerConn:
			assert.Equal(t, regress.ABRegression, row.Verdict, "memory per connection")
			assert.Greater(t, row.Lo, 1.0, "the interval of the ratio lies above 1")
			assert.Less(t, row.P, 0.05)
			t.Logf("memory per connection: %.2f× [%.2f, %.2f], p = %.4f; the smallest change %d runs a side could detect: %.1f %%",
				row.Ratio, row.Lo, row.Hi, row.P, row.NBase, 100*row.MinDetectable)
		case figGoroutinesPerConn:
			assert.NotEqual(t, regress.ABRegression, row.Verdict, "goroutines per connection did not change")
		}
	}
}
