package experiments_test

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The GitHub workflow is what users run on every pull request, so it is
// checked here the way they rely on it: that it runs on pull requests, runs
// the suite, the regression gate and the star sweep against a required
// engine, and still reports (summary, artifacts) and cleans up when a step
// has failed. No Docker needed. actionlint (in .ci/run) checks that the file
// is a valid workflow; these tests check that it is *this* workflow.

const workflowPath = "../.github/workflows/meshtest.yml"

type ghWorkflow struct {
	On   yaml.Node         `yaml:"on"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]ghJob  `yaml:"jobs"`
}

type ghJob struct {
	TimeoutMinutes yaml.Node         `yaml:"timeout-minutes"`
	Env            map[string]string `yaml:"env"`
	Defaults       struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Steps []ghStep `yaml:"steps"`
}

type ghStep struct {
	ID              string            `yaml:"id"`
	Name            string            `yaml:"name"`
	If              string            `yaml:"if"`
	Uses            string            `yaml:"uses"`
	Run             string            `yaml:"run"`
	Shell           string            `yaml:"shell"`
	Env             map[string]string `yaml:"env"`
	With            map[string]string `yaml:"with"`
	ContinueOnError yaml.Node         `yaml:"continue-on-error"`
}

// wfStep is a step with what it inherits from its job and the workflow.
type wfStep struct {
	ghStep
	job   string
	index int               // position in its job
	env   map[string]string // workflow env, then job env, then step env
	shell string            // the step's shell, else the job's default
}

func (s wfStep) String() string {
	name := s.Name
	if name == "" {
		name = orElse(s.Uses, firstLine(s.Run))
	}
	return fmt.Sprintf("job %q step %d (%s)", s.job, s.index+1, name)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (s wfStep) always() bool { return strings.Contains(s.If, "always()") }

// loadWorkflow parses the workflow and flattens its steps, in job order
// (sorted by job id) and step order.
func loadWorkflow(t *testing.T) (ghWorkflow, []wfStep) {
	t.Helper()
	return loadWorkflowFile(t, workflowPath)
}

// loadWorkflowFile is loadWorkflow of the workflow at path.
func loadWorkflowFile(t *testing.T, workflowPath string) (ghWorkflow, []wfStep) {
	t.Helper()
	data, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatalf("the GitHub workflow users run on pull requests: %v", err)
	}
	var wf ghWorkflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", workflowPath, err)
	}
	if len(wf.Jobs) == 0 {
		t.Fatalf("%s: no jobs", workflowPath)
	}
	var steps []wfStep
	for _, id := range slices.Sorted(maps.Keys(wf.Jobs)) {
		job := wf.Jobs[id]
		for i, st := range job.Steps {
			env := map[string]string{}
			for _, m := range []map[string]string{wf.Env, job.Env, st.Env} {
				for k, v := range m {
					env[k] = v
				}
			}
			steps = append(steps, wfStep{ghStep: st, job: id, index: i, env: env, shell: orElse(st.Shell, job.Defaults.Run.Shell)})
		}
	}
	return wf, steps
}

// find returns the first step for which ok holds, failing the test with
// what is missing if there is none.
func find(t *testing.T, steps []wfStep, what string, ok func(wfStep) bool) (wfStep, bool) {
	t.Helper()
	for _, s := range steps {
		if ok(s) {
			return s, true
		}
	}
	t.Errorf("%s: no step %s", workflowPath, what)
	return wfStep{}, false
}

// triggers lists the events of `on:`, in any of its three forms.
func triggers(on yaml.Node) map[string]*yaml.Node {
	events := map[string]*yaml.Node{}
	switch on.Kind {
	case yaml.ScalarNode:
		events[on.Value] = nil
	case yaml.SequenceNode:
		for _, n := range on.Content {
			events[n.Value] = nil
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(on.Content); i += 2 {
			events[on.Content[i].Value] = on.Content[i+1]
		}
	}
	return events
}

func TestWorkflowTriggers(t *testing.T) {
	wf, _ := loadWorkflow(t)
	events := triggers(wf.On)
	if _, ok := events["pull_request"]; !ok {
		t.Errorf("%s: on: lacks pull_request; the regression check would not run on pull requests (events: %v)", workflowPath, slices.Sorted(maps.Keys(events)))
	}
	push, ok := events["push"]
	if !ok {
		t.Fatalf("%s: on: lacks push; main would never be checked (events: %v)", workflowPath, slices.Sorted(maps.Keys(events)))
	}
	// push with a branch filter must include main (no filter: every branch).
	if push != nil && push.Kind == yaml.MappingNode {
		var filter struct {
			Branches []string `yaml:"branches"`
		}
		if err := push.Decode(&filter); err != nil {
			t.Fatalf("%s: on.push: %v", workflowPath, err)
		}
		if filter.Branches != nil && !slices.Contains(filter.Branches, "main") {
			t.Errorf("%s: on.push.branches = %v: pushes to main are not checked", workflowPath, filter.Branches)
		}
	}
}

var (
	reGoTest = regexp.MustCompile(`\bgo\s+test\b`)
	reGoVet  = regexp.MustCompile(`\bgo\s+vet\s+\./\.\.\.`)
	reAll    = regexp.MustCompile(`\bgo\s+test\s+(?:\S+\s+)*?\./\.\.\.(?:\s|$)`)
	reSep    = regexp.MustCompile(`&&|\|\||[;|]`) // between two simple commands
)

func TestWorkflowSteps(t *testing.T) {
	_, steps := loadWorkflow(t)

	find(t, steps, "uses actions/checkout", func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/checkout@") })
	if s, ok := find(t, steps, "uses actions/setup-go", func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/setup-go@") }); ok {
		if s.With["go-version-file"] != "go.mod" {
			t.Errorf("%s: setup-go has go-version-file %q, want go.mod (one source of truth for the Go version)", s, s.With["go-version-file"])
		}
	}
	find(t, steps, "runs `go vet ./...`", func(s wfStep) bool { return reGoVet.MatchString(s.Run) })
	suite, _ := find(t, steps, "runs the whole suite, `go test ./...`", func(s wfStep) bool { return reAll.MatchString(s.Run) })

	// On a pull request the A/B gate; on main the baseline fallback. Both
	// must fail the check on a regression, and later steps refer to them.
	gate, ok := find(t, steps, "runs the baseline gate (`go test ... -run '^TestRegression$'`)", func(s wfStep) bool {
		return reGoTest.MatchString(s.Run) && strings.Contains(s.Run, "TestRegression")
	})
	ab, abOK := find(t, steps, "runs the A/B gate (`make gate`)", func(s wfStep) bool { return strings.Contains(s.Run, "make gate") })
	for _, g := range []struct {
		step wfStep
		ok   bool
		when string
	}{{gate, ok, "!= 'pull_request'"}, {ab, abOK, "== 'pull_request'"}} {
		if !g.ok {
			continue
		}
		if g.step.ID == "" {
			t.Errorf("%s: the gate has no id (later steps and users refer to its outcome)", g.step)
		}
		if coe := g.step.ContinueOnError; coe.Kind != 0 && coe.Value != "false" {
			t.Errorf("%s: the gate has continue-on-error: %s; a regression would not fail the check", g.step, coe.Value)
		}
		if !strings.Contains(g.step.If, "github.event_name "+g.when) {
			t.Errorf("%s: if: %q, want it to run when github.event_name %s", g.step, g.step.If, g.when)
		}
	}
	if abOK {
		// The base commit reaches the script through the environment: an
		// expression in the script's text is a template injection.
		if strings.Contains(ab.Run, "${{") {
			t.Errorf("%s: an expression in run: %q; pass it through env", ab, ab.Run)
		}
		if !strings.Contains(ab.env["BASE_SHA"], "github.event.pull_request.base.sha") || !strings.Contains(ab.Run, `"$BASE_SHA"`) {
			t.Errorf("%s: BASE is not the pull request's base commit from env BASE_SHA (env %v, run %q)", ab, ab.env, ab.Run)
		}
		checkout, _ := find(t, steps, "uses actions/checkout", func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/checkout@") })
		if checkout.With["fetch-depth"] != "0" {
			t.Errorf("%s: fetch-depth %q, want 0: the A/B gate builds the base commit from the history", checkout, checkout.With["fetch-depth"])
		}
	}

	sweep, ok := find(t, steps, "runs the star sweep (`go test ... -bench '^BenchmarkStar$' -sweep=...`)", func(s wfStep) bool {
		return reGoTest.MatchString(s.Run) && strings.Contains(s.Run, "-bench") && strings.Contains(s.Run, "BenchmarkStar")
	})
	if ok {
		if !strings.Contains(sweep.Run, "-sweep") {
			t.Errorf("%s: the star benchmark runs without -sweep: one size only", sweep)
		}
		if !strings.Contains(sweep.Run, "bench.txt") {
			t.Errorf("%s: the benchmark output is not kept in bench.txt, which the summary and the artifacts read", sweep)
		}
		// `go test | tee` hides go test's failure unless pipefail is set,
		// which Actions does only for an explicit `shell: bash`.
		if strings.Contains(sweep.Run, "|") && sweep.shell != "bash" && !strings.Contains(sweep.Run, "pipefail") {
			t.Errorf("%s: pipes go test into another command with shell %q; without an explicit `shell: bash` (or set -o pipefail) a failed benchmark passes", sweep, sweep.shell)
		}
	}

	summary, ok := find(t, steps, "writes the job summary (\"$GITHUB_STEP_SUMMARY\")", func(s wfStep) bool { return strings.Contains(s.Run, "GITHUB_STEP_SUMMARY") })
	if ok {
		for _, want := range []string{"gate.md", "regression.md", "bench.txt"} {
			if !strings.Contains(summary.Run, want) {
				t.Errorf("%s: the job summary does not include %s", summary, want)
			}
		}
	}
	upload, ok := find(t, steps, "uploads the results (uses actions/upload-artifact)", func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
	if ok {
		for _, want := range []string{"experiments_test/results", "bench.txt"} {
			if !strings.Contains(upload.With["path"], want) {
				t.Errorf("%s: the artifact does not include %s (path: %q)", upload, want, upload.With["path"])
			}
		}
	}
	cleanup, _ := find(t, steps, "removes leftover containers and networks labelled meshtest.run", func(s wfStep) bool {
		return strings.Contains(s.Run, "label=meshtest.run") && strings.Contains(s.Run, "docker rm") && strings.Contains(s.Run, "docker network rm")
	})

	// What a failed run is read from must run after a failure, and after
	// the steps that produce it.
	last := -1
	for _, s := range []wfStep{suite, gate, ab, sweep} {
		if s.Run != "" && s.job == summary.job {
			last = max(last, s.index)
		}
	}
	for _, s := range []struct {
		step wfStep
		what string
	}{{summary, "the job summary"}, {upload, "the artifact upload"}, {cleanup, "the cleanup"}} {
		if s.step.Run == "" && s.step.Uses == "" {
			continue // missing, reported above
		}
		if !s.step.always() {
			t.Errorf("%s: %s has if: %q, want always(): it would be skipped exactly when a test has failed", s.step, s.what, s.step.If)
		}
		if s.step.index < last {
			t.Errorf("%s: %s comes before a test step it reports on", s.step, s.what)
		}
	}
}

// TestWorkflowRequiresDocker: every step that runs go test must fail, not
// skip, without an engine, or the check passes having measured nothing.
func TestWorkflowRequiresDocker(t *testing.T) {
	_, steps := loadWorkflow(t)
	n := 0
	for _, s := range steps {
		if !reGoTest.MatchString(s.Run) {
			continue
		}
		n++
		if v := s.env["MESHTEST_REQUIRE_DOCKER"]; v != "1" {
			t.Errorf("%s runs go test with MESHTEST_REQUIRE_DOCKER=%q, want \"1\" (set it in the job's or the step's env): without an engine the experiments would skip and pass", s, v)
		}
		if v := s.env["TESTCONTAINERS_RYUK_DISABLED"]; v != "true" {
			t.Errorf("%s runs go test with TESTCONTAINERS_RYUK_DISABLED=%q, want \"true\": Ryuk's image would have to be pulled", s, v)
		}
	}
	if n == 0 {
		t.Errorf("%s: no step runs go test", workflowPath)
	}
}

// TestWorkflowTimeouts: every go test command sets -timeout, because the
// default 10 minutes kills large meshes, and sets it below the job's
// timeout-minutes, so that go test (which tears its mesh down shortly before
// its own deadline) stops first and says why.
func TestWorkflowTimeouts(t *testing.T) {
	wf, steps := loadWorkflow(t)
	n := 0
	for _, s := range steps {
		jobLimit := time.Duration(0)
		if tm := wf.Jobs[s.job].TimeoutMinutes; tm.Kind == yaml.ScalarNode {
			if m, err := strconv.ParseFloat(tm.Value, 64); err == nil {
				jobLimit = time.Duration(m * float64(time.Minute))
			}
		}
		for _, cmd := range goCommands(s.Run) {
			if cmd[1] != "test" {
				continue
			}
			n++
			line := strings.Join(cmd, " ")
			d, ok := flagValue(cmd, "timeout")
			if !ok {
				t.Errorf("%s: `%s` has no -timeout; the default 10m kills large meshes", s, line)
				continue
			}
			limit, err := time.ParseDuration(d)
			if err != nil {
				t.Errorf("%s: `%s`: -timeout %q: %v", s, line, d, err)
				continue
			}
			if limit <= 0 {
				t.Errorf("%s: `%s`: -timeout %s turns the timeout off; a hung mesh would hold the runner until the job is killed", s, line, d)
			} else if jobLimit > 0 && limit >= jobLimit {
				t.Errorf("%s: `%s`: -timeout %s is not below the job's timeout-minutes (%s); the job would be killed before go test can clean up and report", s, line, d, jobLimit)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s: no go test command found", workflowPath)
	}
}

// goCommands splits a run script into simple commands and returns those
// that start with `go <verb>` (go test, go run, ...), as fields with shell
// quotes removed. Good enough for workflow scripts, not a shell parser.
func goCommands(script string) [][]string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		for _, part := range reSep.Split(line, -1) {
			f := strings.Fields(part)
			for i := range f {
				f[i] = strings.Trim(f[i], `'"`)
			}
			if len(f) >= 2 && f[0] == "go" {
				out = append(out, f)
			}
		}
	}
	return out
}

// flagValue finds -name, --name or -test.name, as `-name v` or `-name=v`.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		a = strings.TrimPrefix(a, "test.")
		if k, v, ok := strings.Cut(a, "="); ok && k == name {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// TestWorkflowGoCommands checks goCommands and flagValue on the forms the
// workflow may use, so that a timeout check cannot pass by misreading.
func TestWorkflowGoCommands(t *testing.T) {
	script := "go vet ./...\n" +
		"go test ./... -count=1 \\\n  -timeout 20m\n" +
		"go test ./x -run '^$' -bench '^BenchmarkStar$' -test.timeout=5m | tee bench.txt\n" +
		"cd x && go test ./y # -timeout 1m is a comment\n"
	got := goCommands(script)
	if len(got) != 4 {
		t.Fatalf("goCommands: %d commands, want 4: %q", len(got), got)
	}
	for i, want := range []string{"20m", "5m", ""} {
		v, _ := flagValue(got[i+1], "timeout")
		if v != want {
			t.Errorf("command %q: timeout %q, want %q", got[i+1], v, want)
		}
	}
}

// TestReusableGateWorkflow: the workflow other repositories call takes a
// spec and a package, builds both sides from the caller's history, runs
// the A/B gate with a timeout, fails without Docker, and passes inputs to
// the script only through the environment.
func TestReusableGateWorkflow(t *testing.T) {
	const path = "../.github/workflows/gate.yml"
	wf, steps := loadWorkflowFile(t, path)
	call, ok := triggers(wf.On)["workflow_call"]
	if !ok || call == nil {
		t.Fatalf("%s: on: lacks workflow_call; other repositories could not call it", path)
	}
	var inputs struct {
		Inputs map[string]struct {
			Required bool `yaml:"required"`
		} `yaml:"inputs"`
	}
	if err := call.Decode(&inputs); err != nil {
		t.Fatalf("%s: workflow_call: %v", path, err)
	}
	for _, in := range []string{"spec", "package"} {
		if !inputs.Inputs[in].Required {
			t.Errorf("%s: input %q missing or not required", path, in)
		}
	}
	run, ok := find(t, steps, "runs the A/B gate (`go test ... -ab-repo`)", func(s wfStep) bool { return reGoTest.MatchString(s.Run) && strings.Contains(s.Run, "-ab-repo") })
	if !ok {
		return
	}
	for _, want := range []string{`-base="$BASE_SHA"`, `-head="$HEAD_SHA"`, `-ab-package="$PACKAGE"`, `-spec=`, "-count=1", "-timeout"} {
		if !strings.Contains(run.Run, want) {
			t.Errorf("%s: run lacks %s: %q", run, want, run.Run)
		}
	}
	if strings.Contains(run.Run, "${{") {
		t.Errorf("%s: an expression in run: %q; pass it through env", run, run.Run)
	}
	if run.env["MESHTEST_REQUIRE_DOCKER"] != "1" {
		t.Errorf("%s: MESHTEST_REQUIRE_DOCKER is %q: without an engine the gate would pass having measured nothing", run, run.env["MESHTEST_REQUIRE_DOCKER"])
	}
}
