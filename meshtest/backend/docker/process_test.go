package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startPattern is the form of a start time: boot ID, then clock ticks.
var startPattern = regexp.MustCompile(`^[0-9a-f-]{36}:[0-9]+$`)

func TestProcessAlive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("start times are read from /proc")
	}
	require.Regexp(t, startPattern, self.start, "this process's start time")
	exited := exitedProcess(t)
	parent := process{host: self.host, pid: os.Getppid(), start: startTime(os.Getppid())}
	require.NotEmpty(t, parent.start, "the parent's start time")
	for _, tc := range []struct {
		name string
		p    process
		want bool
	}{
		{"self", self, true},
		{"self by PID alone (an older label)", process{host: self.host, pid: self.pid}, true},
		{"parent", parent, true},
		{"exited", exited, false},
		{"exited, by PID alone", process{host: self.host, pid: exited.pid}, false},
		// A killed run whose PID this process now holds: same PID, another
		// start, so the run is dead.
		{"PID reused", process{host: self.host, pid: os.Getpid(), start: "other-boot:123"}, false},
		{"PID reused within the boot", process{host: self.host, pid: os.Getpid(), start: bootID(t) + ":1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.p.alive(), "%s.alive()", tc.p)
		})
	}
}

func bootID(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

// TestStartTimeOddCommand: the command name in /proc/<pid>/stat is in
// parentheses and may hold spaces and parentheses itself; the start time is
// still found.
func TestStartTimeOddCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("start times are read from /proc")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	data, err := os.ReadFile(sleep)
	require.NoError(t, err)
	odd := filepath.Join(t.TempDir(), "a) b (c")
	require.NoError(t, os.WriteFile(odd, data, 0o755))
	cmd := exec.Command(odd, "30")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	stat, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	require.NoError(t, err)
	require.Contains(t, string(stat), "(a) b (c)", "the kernel's command name")
	start := startTime(cmd.Process.Pid)
	assert.Regexp(t, startPattern, start)
	assert.True(t, process{host: self.host, pid: cmd.Process.Pid, start: start}.alive())
}

func TestParseProcess(t *testing.T) {
	p, ok := parseProcess(self.String())
	require.True(t, ok, "parse %q", self.String())
	assert.Equal(t, self, p, "round trip of %q", self.String())

	for _, tc := range []struct {
		label string
		want  process
	}{
		{"vm/42/0f1e-boot:1234", process{host: "vm", pid: 42, start: "0f1e-boot:1234"}},
		{"vm/42/", process{host: "vm", pid: 42}}, // no /proc where it ran: PID alone
	} {
		got, ok := parseProcess(tc.label)
		if assert.True(t, ok, "parse %q", tc.label) {
			assert.Equal(t, tc.want, got, "parse %q", tc.label)
			assert.Equal(t, tc.label, got.String(), "round trip")
		}
	}

	for _, label := range []string{
		"",
		"vm",
		"vm/42",     // no start field
		"vm/x/boot", // PID not a number
		"vm//boot",
		"vm/0/boot",  // no such PID
		"vm/-1/boot", // kill(-1, 0) would signal every process
		"vm/4 2/boot",
	} {
		if p, ok := parseProcess(label); ok {
			t.Errorf("parseProcess(%q) = %+v, want it refused", label, p)
		}
	}
}
