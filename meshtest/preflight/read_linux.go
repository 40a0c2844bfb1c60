//go:build linux

package preflight

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// keys are the sysctls Check reads.
var keys = []string{
	"net.ipv4.neigh.default.gc_thresh1",
	"net.ipv4.neigh.default.gc_thresh2",
	"net.ipv4.neigh.default.gc_thresh3",
	"net.ipv6.neigh.default.gc_thresh3",
	"net.core.netdev_max_backlog",
	"kernel.pid_max",
	"kernel.threads-max",
	"fs.inotify.max_user_instances",
	"fs.inotify.max_user_watches",
	"net.netfilter.nf_conntrack_max",
}

// Read returns what Check needs of this machine, as well as it can: a value
// it cannot read is left out, never guessed. Inside a container the
// neighbour table's gc_thresh keys are hidden (the table is the host's) and
// nf_conntrack_max is absent while conntrack is not loaded; a harness that
// runs there checks the rest.
//
// OpenFiles is this process's soft limit, which the Go runtime has already
// raised to the hard one.
func Read() Host {
	h := readProc("/proc")
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		h.OpenFiles = lim.Cur
	}
	h.Root = os.Geteuid() == 0
	// The unified hierarchy has cgroup.controllers at its root; v1 mounts
	// a tmpfs of controller directories there.
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		h.CgroupVersion = 2
	} else if _, err := os.Stat("/sys/fs/cgroup"); err == nil {
		h.CgroupVersion = 1
	}
	return h
}

// readProc reads the sysctls and MemAvailable under a proc root ("/proc").
func readProc(root string) Host {
	h := Host{Sysctl: make(map[string]int64, len(keys))}
	for _, key := range keys {
		b, err := os.ReadFile(filepath.Join(root, "sys", strings.ReplaceAll(key, ".", "/")))
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			h.Sysctl[key] = v
		}
	}
	h.MemAvailableBytes = memAvailable(filepath.Join(root, "meminfo"))
	return h
}

// memAvailable reads the "MemAvailable:  23879064 kB" line of a meminfo
// file, in bytes; 0 when the file or the line (kernels before 3.14) is
// missing.
func memAvailable(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		v, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		if len(fields) > 1 && fields[1] == "kB" {
			v *= 1024
		}
		return v
	}
	return 0
}
