package docker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// process identifies a process on a host beyond its PID: PIDs are reused,
// quickly so in a fresh PID namespace (a CI container's test binary is often
// PID 1xx in every run), so a PID alone would make a killed run look alive
// for as long as any later process holds its number. The start time (in
// clock ticks since boot, /proc/<pid>/stat field 22) and the boot ID tell a
// reused PID from the process that labelled a run.
type process struct {
	host  string
	pid   int
	start string // "<boot id>:<start ticks>"; "" where /proc does not say
}

// self is this process, read once: its identity does not change.
var self = func() process {
	host, _ := os.Hostname()
	return process{host: host, pid: os.Getpid(), start: startTime(os.Getpid())}
}()

func (p process) String() string { return fmt.Sprintf("%s/%d/%s", p.host, p.pid, p.start) }

// parseProcess reads a process label; ok is false for labels it cannot read.
func parseProcess(s string) (process, bool) {
	parts := strings.SplitN(s, "/", 3)
	if len(parts) != 3 {
		return process{}, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return process{}, false
	}
	return process{host: parts[0], pid: pid, start: parts[2]}, true
}

// startTime is pid's start in clock ticks since boot, qualified by the boot,
// or "" where /proc is not there to say.
func startTime(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data)[i+1:])
	if len(f) < 20 {
		return ""
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(boot)) + ":" + f[19] // field 22 of the whole line
}

// alive reports whether the process that labelled a resource still runs: a
// process with its PID exists and, where the label carries a start time and
// /proc shows this one's, started at that time. Where /proc hides another
// user's processes (hidepid), the PID's existence is all there is to go on.
func (p process) alive() bool {
	err := syscall.Kill(p.pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) { // EPERM: exists, someone else's
		return false
	}
	if p.start == "" {
		return true
	}
	now := startTime(p.pid)
	return now == "" || now == p.start
}
