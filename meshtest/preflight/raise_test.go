package preflight

import (
	"maps"
	"testing"
)

func TestRaise(t *testing.T) {
	fs := Check(defaultHost(), Need{Containers: 1001})
	got := Raise(fs)
	want := map[string]int64{
		"/proc/sys/net/ipv4/neigh/default/gc_thresh1": 512,
		"/proc/sys/net/ipv4/neigh/default/gc_thresh2": 2048,
		"/proc/sys/net/ipv4/neigh/default/gc_thresh3": 4096,
		"/proc/sys/net/ipv6/neigh/default/gc_thresh3": 4096,
		"/proc/sys/fs/inotify/max_user_instances":     2048,
		"/proc/sys/net/core/netdev_max_backlog":       2048,
	}
	if !maps.Equal(got, want) {
		t.Errorf("Raise = %v\nwant %v", got, want)
	}

	// Findings that are not sysctls write nothing; two findings writing one
	// key write the larger value.
	none := Raise([]Finding{
		{Setting: "open files", Fix: "ulimit -n 16384  # in the shell that runs go test"},
		{Setting: "bridge ports", Fix: "spread the mesh over at least 2 bridge networks"},
	})
	if none != nil {
		t.Errorf("Raise of non-sysctl findings = %v, want nil", none)
	}
	both := Raise([]Finding{
		{Fix: "sudo sysctl -w kernel.pid_max=65536"},
		{Fix: "sudo sysctl -w kernel.pid_max=131072 kernel.threads-max=65536"},
	})
	if want := map[string]int64{"/proc/sys/kernel/pid_max": 131072, "/proc/sys/kernel/threads-max": 65536}; !maps.Equal(both, want) {
		t.Errorf("Raise = %v, want %v", both, want)
	}
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.neigh.default.gc_thresh3": "/proc/sys/net/ipv4/neigh/default/gc_thresh3",
		"kernel.threads-max":                "/proc/sys/kernel/threads-max",
		"net/core/netdev_max_backlog":       "/proc/sys/net/core/netdev_max_backlog",
	} {
		if got := SysctlPath(key); got != want {
			t.Errorf("SysctlPath(%q) = %q, want %q", key, got, want)
		}
	}
}
