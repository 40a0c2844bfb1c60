package preflight

import (
	"strconv"
	"strings"
	"testing"
)

// defaultHost is this machine as found: the kernel's default neighbour table
// (128/512/1024), plenty of threads, and the open-file limit Go raises to.
func defaultHost() Host {
	return Host{
		Sysctl: map[string]int64{
			"net.ipv4.neigh.default.gc_thresh1": 128,
			"net.ipv4.neigh.default.gc_thresh2": 512,
			"net.ipv4.neigh.default.gc_thresh3": 1024,
			"net.ipv6.neigh.default.gc_thresh3": 1024,
			"net.core.netdev_max_backlog":       1000,
			"kernel.pid_max":                    32768,
			"kernel.threads-max":                192726,
			"fs.inotify.max_user_instances":     128,
			"fs.inotify.max_user_watches":       192530,
			"net.netfilter.nf_conntrack_max":    262144,
		},
		OpenFiles:         1048576,
		MemAvailableBytes: 23879064 << 10,
	}
}

// with returns h with the sysctls kv changed (a negative value removes the
// key: unknown).
func with(h Host, kv map[string]int64) Host {
	s := make(map[string]int64, len(h.Sysctl))
	for k, v := range h.Sysctl {
		s[k] = v
	}
	for k, v := range kv {
		if v < 0 {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	h.Sysctl = s
	return h
}

func TestCheck(t *testing.T) {
	const mb = 1_000_000
	for _, tc := range []struct {
		name string
		host Host
		need Need
		want []string // "severity setting", in Check's order
	}{{
		name: "defaults/100",
		host: defaultHost(),
		need: Need{Containers: 100},
		want: []string{"warning fs.inotify.max_user_instances"},
	}, {
		name: "defaults/1001",
		host: defaultHost(),
		need: Need{Containers: 1001},
		want: []string{
			"error net.core.netdev_max_backlog",
			"error net.ipv4.neigh.default.gc_thresh3",
			"warning fs.inotify.max_user_instances",
			"warning net.ipv4.neigh.default.gc_thresh2",
			"warning net.ipv6.neigh.default.gc_thresh3",
		},
	}, {
		// Each container's entries for its peers count against the same
		// table: 100 containers of degree 8 hold 1,000 entries.
		name: "defaults/100/peers=8",
		host: defaultHost(),
		need: Need{Containers: 100, Peers: 8},
		want: []string{
			"warning fs.inotify.max_user_instances",
			"warning net.ipv4.neigh.default.gc_thresh2",
			"warning net.ipv4.neigh.default.gc_thresh3",
		},
	}, {
		name: "raised/1100/bridges=1",
		host: with(defaultHost(), map[string]int64{
			"net.ipv4.neigh.default.gc_thresh2": 4096, "net.ipv4.neigh.default.gc_thresh3": 8192,
			"net.ipv6.neigh.default.gc_thresh3": 8192, "fs.inotify.max_user_instances": 8192,
		}),
		need: Need{Containers: 1100, Bridges: 1},
		want: []string{"error bridge ports", "error net.core.netdev_max_backlog"},
	}, {
		name: "raised/1100/bridges=2",
		host: with(defaultHost(), map[string]int64{
			"net.ipv4.neigh.default.gc_thresh2": 4096, "net.ipv4.neigh.default.gc_thresh3": 8192,
			"net.ipv6.neigh.default.gc_thresh3": 8192, "fs.inotify.max_user_instances": 8192,
		}),
		need: Need{Containers: 1100, Bridges: 2},
		want: nil,
	}, {
		name: "bridges=0 is one",
		host: Host{},
		need: Need{Containers: 1024},
		want: []string{"error bridge ports"},
	}, {
		// Nothing known, nothing checked: a limit Read could not read is
		// never guessed.
		name: "unknown",
		host: Host{},
		need: Need{Containers: 1000, Peers: 8, MemoryPerContainerBytes: 14 * mb},
		want: nil,
	}, {
		name: "unknown memory per container",
		host: Host{MemAvailableBytes: 1 << 30},
		need: Need{Containers: 1000},
		want: nil,
	}, {
		name: "memory/short",
		host: Host{MemAvailableBytes: 4 << 30},
		need: Need{Containers: 1000, MemoryPerContainerBytes: 14 * mb},
		want: []string{"error memory"},
	}, {
		name: "memory/no headroom",
		host: Host{MemAvailableBytes: 14 << 30}, // 14e9 needed, 15.03e9 available
		need: Need{Containers: 1000, MemoryPerContainerBytes: 14 * mb},
		want: []string{"warning memory"},
	}, {
		name: "memory/enough",
		host: Host{MemAvailableBytes: 16 << 30},
		need: Need{Containers: 1000, MemoryPerContainerBytes: 14 * mb},
		want: nil,
	}, {
		name: "open files/1024",
		host: Host{OpenFiles: 1024},
		need: Need{Containers: 500}, // at least 3064, 4256 wanted
		want: []string{"error open files"},
	}, {
		name: "open files/4096",
		host: Host{OpenFiles: 4096},
		need: Need{Containers: 500},
		want: []string{"warning open files"},
	}, {
		name: "open files/unlimited",
		host: Host{OpenFiles: ^uint64(0)}, // RLIM_INFINITY
		need: Need{Containers: 500},
		want: nil,
	}, {
		name: "lowered host",
		host: Host{Sysctl: map[string]int64{
			"net.core.netdev_max_backlog":    300,
			"kernel.pid_max":                 32768,
			"kernel.threads-max":             16384,
			"fs.inotify.max_user_watches":    8192,
			"net.netfilter.nf_conntrack_max": 65536,
		}},
		need: Need{Containers: 1500}, // 34096 threads, 48000 watches, 96000 connections
		want: []string{
			"error bridge ports",
			"error net.core.netdev_max_backlog",
			"warning fs.inotify.max_user_watches",
			"warning kernel.pid_max",
			"warning kernel.threads-max",
			"warning net.netfilter.nf_conntrack_max",
		},
	}, {
		name: "no containers",
		host: defaultHost(),
		need: Need{},
		want: nil,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			fs := Check(tc.host, tc.need)
			var got []string
			for _, f := range fs {
				got = append(got, string(f.Severity)+" "+f.Setting)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Check(%+v) found\n\t%s\nwant\n\t%s", tc.need, strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			for _, f := range fs {
				if f.Have >= f.Want {
					t.Errorf("%s: have %d ≥ want %d: not a shortage", f.Setting, f.Have, f.Want)
				}
				if f.Containers != tc.need.Containers {
					t.Errorf("%s: Containers = %d, want %d", f.Setting, f.Containers, tc.need.Containers)
				}
				if !strings.Contains(f.Why, strconv.Itoa(tc.need.Containers)) {
					t.Errorf("%s: Why %q does not name the %d containers", f.Setting, f.Why, tc.need.Containers)
				}
				if f.Fix == "" || strings.Contains(f.Why, ";") {
					t.Errorf("%s: Fix %q, Why %q: want a fix and one clause of why", f.Setting, f.Fix, f.Why)
				}
			}
		})
	}
}

// The failure of the issue: 1,001 containers against the default table.
func TestCheckNeighbourOverflow(t *testing.T) {
	fs := Check(defaultHost(), Need{Containers: 1001})
	f := findingOf(fs, "net.ipv4.neigh.default.gc_thresh3")
	if f.Severity != SeverityError {
		t.Fatalf("gc_thresh3 finding %s, want an error (all: %v)", f, fs)
	}
	// 2 entries per container (the host's, the gateway's) + 256 for the host.
	if f.Have != 1024 || f.Want != 2*1001+256 {
		t.Errorf("have %d, want %d; want 1024 and %d", f.Have, f.Want, 2*1001+256)
	}
	if !strings.Contains(f.Why, "1001 containers") || !strings.Contains(f.Why, "overflow") {
		t.Errorf("Why = %q: want the 1001 containers and the overflow named", f.Why)
	}
	const fix = "sudo sysctl -w net.ipv4.neigh.default.gc_thresh1=512 net.ipv4.neigh.default.gc_thresh2=2048 net.ipv4.neigh.default.gc_thresh3=4096"
	if f.Fix != fix {
		t.Errorf("Fix = %q, want %q", f.Fix, fix)
	}
	// The gc_thresh2 warning is fixed by the same command.
	for _, g := range fs {
		if g.Setting == "net.ipv4.neigh.default.gc_thresh2" && g.Fix != fix {
			t.Errorf("gc_thresh2 Fix = %q, want %q", g.Fix, fix)
		}
	}
}

// A fix never lowers what the host already has.
func TestCheckFixKeepsHigherValues(t *testing.T) {
	h := with(defaultHost(), map[string]int64{"net.ipv4.neigh.default.gc_thresh1": 1024})
	fs := Check(h, Need{Containers: 1001})
	const fix = "sudo sysctl -w net.ipv4.neigh.default.gc_thresh2=2048 net.ipv4.neigh.default.gc_thresh3=4096"
	if f := findingOf(fs, "net.ipv4.neigh.default.gc_thresh3"); f.Fix != fix {
		t.Errorf("Fix = %q, want %q", f.Fix, fix)
	}
}

// findingOf is the finding of fs about setting, the zero Finding if none.
func findingOf(fs []Finding, setting string) Finding {
	for _, f := range fs {
		if f.Setting == setting {
			return f
		}
	}
	return Finding{}
}

// TestCheckBacklog: a broadcast on a network puts a packet per container
// on one CPU's backlog at once, so the backlog must hold the largest
// network (the 1,023-container bridge that left the host unable to reach
// its oldest nodes here), with a margin for the traffic beside it.
func TestCheckBacklog(t *testing.T) {
	const key = "net.core.netdev_max_backlog"
	f := findingOf(Check(defaultHost(), Need{Containers: 1023, Bridges: 1}), key)
	if f.Severity != SeverityError || f.Have != 1000 || f.Want != 1023+backlogMargin {
		t.Errorf("1023 containers on one bridge, backlog 1000: %s, want an error wanting %d", f, 1023+backlogMargin)
	}
	if want := "sudo sysctl -w " + key + "=2048"; f.Fix != want {
		t.Errorf("Fix = %q, want %q", f.Fix, want)
	}
	if !strings.Contains(f.Why, "23 of them are dropped") {
		t.Errorf("Why = %q: want how many are dropped", f.Why)
	}
	// 1501 over two bridges: 751 on the larger, within the margin of 1000.
	f = findingOf(Check(defaultHost(), Need{Containers: 1501, Bridges: 2}), key)
	if f.Severity != SeverityWarning || f.Want != 751+backlogMargin {
		t.Errorf("1501 containers over 2 bridges, backlog 1000: %s, want a warning wanting %d", f, 751+backlogMargin)
	}
	for _, tc := range []struct {
		backlog int64
		need    Need
	}{
		{1000, Need{Containers: 700, Bridges: 1}},
		{2048, Need{Containers: 1023, Bridges: 1}},
		{-1, Need{Containers: 1023, Bridges: 1}}, // unknown: not checked
	} {
		h := with(defaultHost(), map[string]int64{key: tc.backlog})
		if f := findingOf(Check(h, tc.need), key); f.Setting != "" {
			t.Errorf("backlog %d, %+v: %s, want no finding", tc.backlog, tc.need, f)
		}
	}
}

func TestError(t *testing.T) {
	fs := Check(defaultHost(), Need{Containers: 1100})
	err := Error(fs)
	if err == nil {
		t.Fatal("Error = nil, want the bridge, backlog and neighbour errors")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("Error has %d lines, want 3 (one per error finding):\n%v", len(lines), err)
	}
	for i, setting := range []string{"bridge ports", "net.core.netdev_max_backlog", "net.ipv4.neigh.default.gc_thresh3"} {
		if !strings.HasPrefix(lines[i], "preflight: "+setting+" = ") {
			t.Errorf("line %d = %q, want the %s finding", i, lines[i], setting)
		}
	}
	if strings.Contains(err.Error(), "gc_thresh2 =") || strings.Contains(err.Error(), "inotify") {
		t.Errorf("Error names warnings:\n%v", err)
	}

	if err := Error(Check(defaultHost(), Need{Containers: 100})); err != nil {
		t.Errorf("Error of warnings only = %v, want nil", err)
	}
	if err := Error(nil); err != nil {
		t.Errorf("Error(nil) = %v, want nil", err)
	}
}

func TestFindingString(t *testing.T) {
	for _, tc := range []struct {
		f    Finding
		want string
	}{{
		f: Finding{
			Setting: "net.ipv4.neigh.default.gc_thresh3", Have: 1024, Want: 2258, Containers: 1001,
			Severity: SeverityError, Why: "the table overflows", Fix: "sudo sysctl -w net.ipv4.neigh.default.gc_thresh3=4096",
		},
		want: "net.ipv4.neigh.default.gc_thresh3 = 1024, need ≥ 2258 for 1001 containers: the table overflows; fix: sudo sysctl -w net.ipv4.neigh.default.gc_thresh3=4096",
	}, {
		f: Finding{
			Setting: "memory", Have: 4 << 30, Want: 14_000_000_000 + 1<<30, Unit: "B", Containers: 1000,
			Severity: SeverityError, Why: "the OOM killer stops nodes", Fix: "free 10.0 GiB on the host",
		},
		want: "memory = 4.0 GiB, need ≥ 14.0 GiB for 1000 containers: the OOM killer stops nodes; fix: free 10.0 GiB on the host",
	}, {
		f:    Finding{Setting: "open files", Have: 1024, Want: 4256, Why: "too few", Fix: "ulimit -n 8192"},
		want: "open files = 1024, need ≥ 4256: too few; fix: ulimit -n 8192",
	}} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("String() =\n\t%s\nwant\n\t%s", got, tc.want)
		}
	}
}

// TestInotifyInstancesOnlyOnCgroupV2: containerd's OOM watch takes an
// inotify instance per container only on the unified hierarchy.
func TestInotifyInstancesOnlyOnCgroupV2(t *testing.T) {
	has := func(v int) bool {
		h := Host{Sysctl: map[string]int64{"fs.inotify.max_user_instances": 128}, CgroupVersion: v}
		for _, f := range Check(h, Need{Containers: 101}) {
			if f.Setting == "fs.inotify.max_user_instances" {
				return true
			}
		}
		return false
	}
	if has(1) {
		t.Error("cgroup v1: an inotify instances finding, though v1 shims take none")
	}
	if !has(2) || !has(0) {
		t.Error("cgroup v2 or unknown: no inotify instances finding for 101 containers at 128")
	}
}
