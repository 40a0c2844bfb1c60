package preflight

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Host is what the checks read of a machine. Read fills it from this
// machine; tests build it by hand.
type Host struct {
	// Sysctl holds kernel settings by sysctl name,
	// "net.ipv4.neigh.default.gc_thresh3" -> 1024. A key that is absent is
	// unknown (not readable here) and its check is skipped.
	Sysctl map[string]int64
	// OpenFiles is the soft RLIMIT_NOFILE of this process; 0 = unknown.
	OpenFiles uint64
	// MemAvailableBytes is MemAvailable in /proc/meminfo; 0 = unknown.
	MemAvailableBytes uint64
	// Root is whether this process runs with euid 0, and so could apply
	// Raise's writes itself.
	Root bool
	// CgroupVersion is the engine's cgroup hierarchy, 1 or 2; 0 unknown.
	// Checks that only matter on one version (inotify instances, taken by
	// containerd's OOM watch on v2) are skipped on the other.
	CgroupVersion int
}

// Need is what a mesh asks of the host. The zero value of every field but
// Containers is usable.
type Need struct {
	// Containers is how many containers will run: nodes plus helpers
	// (network shapers).
	Containers int
	// Bridges is how many bridge networks the containers are spread over;
	// 0 means 1 (every mesh has one today).
	Bridges int
	// LargestBridge is how many containers the fullest of them holds (a
	// mesh fills its networks in blocks, and the bootstrap joins each); 0
	// means Containers over Bridges, evenly.
	LargestBridge int
	// Peers is how many other containers each container exchanges packets
	// with over the bridge: its degree in the mesh, or more if nodes also
	// dial peers they find. It sizes the neighbour table, which every
	// container's entries share with the host's; 0 counts only the host's
	// and the gateway's entries, which under-counts a mesh.
	Peers int
	// MemoryPerContainerBytes is what one container is expected to cost the
	// host, its own memory and the engine's share together; 0 = unknown, and
	// memory is not checked. Measured: an idle bundled node container uses
	// ~8.6 MB in its cgroup, and 1,000 scratch containers (nothing running
	// in them) took 5.1 GB of host memory, ~5 MB each for the shim, the
	// namespaces and the veth pair: count ~14 MB for an idle bundled node.
	MemoryPerContainerBytes uint64
}

// Severity says what a finding means for the mesh.
type Severity string

const (
	// SeverityError means the mesh will fail on this host: refuse to start.
	SeverityError Severity = "error"
	// SeverityWarning means the mesh may run, degraded.
	SeverityWarning Severity = "warning"
)

// Finding is one setting of the host that is short of what the mesh needs:
// Have is below Want.
type Finding struct {
	// Setting names what is short: a sysctl name
	// ("net.ipv4.neigh.default.gc_thresh3"), "bridge ports", "open files"
	// or "memory".
	Setting string
	// Have is what the host has (for bridge ports, what one network takes).
	Have int64
	// Want is the least the mesh needs; the finding goes away at Want.
	Want int64
	// Unit is the unit of Have and Want: "" for a count, "B" for bytes.
	Unit string
	// Containers is the number of containers the need was worked out for.
	Containers int
	Severity   Severity
	// Why says in one sentence what breaks, and at how many containers.
	Why string
	// Fix is the command that fixes it, e.g. "sudo sysctl -w
	// net.ipv4.neigh.default.gc_thresh3=4096"; for bridge ports and memory,
	// which no command raises, what to change in the mesh.
	Fix string
}

// String reads "net.ipv4.neigh.default.gc_thresh3 = 1024, need ≥ 2258 for
// 1001 containers: <why>; fix: <fix>".
func (f Finding) String() string {
	s := fmt.Sprintf("%s = %s, need ≥ %s", f.Setting, f.value(f.Have), f.value(f.Want))
	if f.Containers > 0 {
		s += fmt.Sprintf(" for %d containers", f.Containers)
	}
	return s + ": " + f.Why + "; fix: " + f.Fix
}

func (f Finding) value(v int64) string {
	if f.Unit == "B" {
		return bytes(v)
	}
	return fmt.Sprint(v)
}

// bytes writes a byte count the way free -h would.
func bytes(v int64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
	default:
		return fmt.Sprintf("%d B", v)
	}
}

// Check returns the settings of h that are short of what n needs, errors
// first, then by setting. A value h does not know is not checked. Each
// bound, and the reason for it, is documented by its check in checks.go.
func Check(h Host, n Need) []Finding {
	if n.Containers <= 0 {
		return nil
	}
	if n.Bridges <= 0 {
		n.Bridges = 1
	}
	n.Peers = max(n.Peers, 0)
	var fs []Finding
	for _, check := range checks {
		fs = append(fs, check(h, n)...)
	}
	for i := range fs {
		fs[i].Containers = n.Containers
	}
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(rank(a.Severity), rank(b.Severity)), cmp.Compare(a.Setting, b.Setting))
	})
	return fs
}

func rank(s Severity) int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Error joins the error findings of fs into one error that names each, one
// line per finding; it is nil when there are none. Warnings are left for the
// caller to log.
func Error(fs []Finding) error {
	var errs []error
	for _, f := range fs {
		if f.Severity == SeverityError {
			errs = append(errs, fmt.Errorf("preflight: %s", f))
		}
	}
	return errors.Join(errs...)
}

// count converts an unsigned figure (a limit that may be RLIM_INFINITY, a
// byte count) to a Finding's int64 without wrapping.
func count(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
