//go:build linux

package preflight

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadProc(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/net/ipv4/neigh/default/gc_thresh3", "1024\n")
	write("sys/kernel/threads-max", "192726\n")
	write("sys/kernel/pid_max", "lots\n") // unparseable: left out
	write("meminfo", "MemTotal:       24589012 kB\nMemFree:         1161588 kB\nMemAvailable:   23879064 kB\n")

	h := readProc(root)
	want := map[string]int64{"net.ipv4.neigh.default.gc_thresh3": 1024, "kernel.threads-max": 192726}
	if len(h.Sysctl) != len(want) {
		t.Errorf("Sysctl = %v, want %v", h.Sysctl, want)
	}
	for k, v := range want {
		if h.Sysctl[k] != v {
			t.Errorf("Sysctl[%q] = %d, want %d", k, h.Sysctl[k], v)
		}
	}
	if h.MemAvailableBytes != 23879064*1024 {
		t.Errorf("MemAvailableBytes = %d, want %d", h.MemAvailableBytes, 23879064*1024)
	}

	if h := readProc(t.TempDir()); len(h.Sysctl) != 0 || h.MemAvailableBytes != 0 {
		t.Errorf("empty proc: %+v, want nothing known", h)
	}
}

// Read on this machine: the neighbour table and the open-file limit are
// readable on any Linux host (the gc_thresh keys are hidden only inside a
// container).
func TestRead(t *testing.T) {
	h := Read()
	t.Logf("host: %+v", h)
	if h.OpenFiles == 0 {
		t.Error("OpenFiles = 0, want the RLIMIT_NOFILE soft limit")
	}
	if h.MemAvailableBytes == 0 {
		t.Error("MemAvailableBytes = 0, want /proc/meminfo's MemAvailable")
	}
	const key = "net.ipv4.neigh.default.gc_thresh3"
	if _, err := os.Stat(SysctlPath(key)); err != nil {
		t.Skipf("%s not readable here (a container?): %v", key, err)
	}
	if h.Sysctl[key] <= 0 {
		t.Errorf("Sysctl[%q] = %d, want > 0", key, h.Sysctl[key])
	}
}
