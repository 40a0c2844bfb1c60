package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Version is the cgroup hierarchy in use on a host.
type Version int

// The cgroup versions a Reader understands.
const (
	// V1 is the legacy hierarchy, one tree per controller
	// (/sys/fs/cgroup/memory/...), including hybrid hosts that also mount
	// an empty v2 tree at /sys/fs/cgroup/unified.
	V1 Version = 1
	// V2 is the unified hierarchy, one tree for all controllers.
	V2 Version = 2
)

// v1Controllers are the v1 hierarchies Read needs, by directory name under
// the root. On many hosts cpuacct is a symlink to "cpu,cpuacct"; the name
// works either way.
var v1Controllers = []string{"cpuacct", "memory", "pids"}

// Reader locates containers' cgroups on one host. It is safe for concurrent
// use and holds no open files.
type Reader struct {
	root     string
	procRoot string
	version  Version
}

// NewReader detects the cgroup layout under root (normally "/sys/fs/cgroup";
// "/proc" for procRoot) once. It fails if neither a v2 unified hierarchy nor
// the v1 cpuacct, memory and pids hierarchies are there, which is the case
// inside most containers and on non-Linux hosts; the harness then falls back
// to the Docker stats API.
func NewReader(root, procRoot string) (*Reader, error) {
	r := &Reader{root: root, procRoot: procRoot}
	// A v2 root carries cgroup.controllers; a v1 root is a tmpfs of
	// controller mounts and carries none, even on a hybrid host where the v2
	// tree is mounted at root/unified.
	if isFile(filepath.Join(root, "cgroup.controllers")) {
		r.version = V2
	} else {
		var missing []string
		for _, c := range v1Controllers {
			if !isDir(filepath.Join(root, c)) {
				missing = append(missing, filepath.Join(root, c))
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("cgroup: no usable cgroup layout under %s: not v2 (no %s) and not v1 (missing %s)",
				root, filepath.Join(root, "cgroup.controllers"), strings.Join(missing, ", "))
		}
		r.version = V1
	}
	if !isDir(procRoot) {
		return nil, fmt.Errorf("cgroup: proc filesystem %s not found", procRoot)
	}
	return r, nil
}

// Version reports the cgroup version NewReader detected.
func (r *Reader) Version() Version { return r.version }

// layouts are the cgroup paths Docker gives a container, relative to a
// hierarchy root: the cgroupfs driver's and the systemd driver's. The same
// two apply to v1 (under each controller) and v2.
var layouts = []string{"docker/%s", "system.slice/docker-%s.scope"}

// Find resolves the cgroup of the container with the given full ID (64 hex
// digits, as docker inspect reports it; short IDs are not path names). It
// checks that every file Read needs exists, so that a wrong layout fails here,
// once, with the paths tried, rather than on every sample.
func (r *Reader) Find(containerID string) (Container, error) {
	if containerID == "" || strings.ContainsAny(containerID, `/\.`) {
		return Container{}, fmt.Errorf("cgroup: find container: invalid container ID %q", containerID)
	}
	var tried []string
	for _, l := range layouts {
		c := r.container(containerID, fmt.Sprintf(l, containerID))
		missing := c.missingFiles()
		if len(missing) == 0 {
			return c, nil
		}
		// The first missing file of a layout says enough: usually the
		// whole directory is absent, sometimes one controller is off.
		tried = append(tried, missing[0])
	}
	return Container{}, fmt.Errorf("cgroup: find container %.12s (cgroup %s): no known layout matches: missing %s",
		containerID, r.version, strings.Join(tried, "; "))
}

// container lays out the files of the cgroup at rel.
func (r *Reader) container(id, rel string) Container {
	c := Container{ID: id, Version: r.version, procRoot: r.procRoot}
	switch r.version {
	case V2:
		dir := filepath.Join(r.root, rel)
		c.CPUFile = filepath.Join(dir, "cpu.stat")
		c.MemoryFile = filepath.Join(dir, "memory.current")
		c.MemoryStatFile = filepath.Join(dir, "memory.stat")
		c.PIDsFile = filepath.Join(dir, "pids.current")
	default:
		c.CPUFile = filepath.Join(r.root, "cpuacct", rel, "cpuacct.usage")
		c.MemoryFile = filepath.Join(r.root, "memory", rel, "memory.usage_in_bytes")
		c.MemoryStatFile = filepath.Join(r.root, "memory", rel, "memory.stat")
		c.PIDsFile = filepath.Join(r.root, "pids", rel, "pids.current")
	}
	return c
}

// String returns "v1" or "v2".
func (v Version) String() string {
	if v == V2 {
		return "v2"
	}
	return "v1"
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// missingFiles lists the files of c that do not exist.
func (c Container) missingFiles() []string {
	var missing []string
	for _, f := range []string{c.CPUFile, c.MemoryFile, c.MemoryStatFile, c.PIDsFile} {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, f)
		} else if err != nil {
			missing = append(missing, err.Error()) // e.g. permission denied; names the file
		}
	}
	return missing
}
