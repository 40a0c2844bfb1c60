package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/prometheus/procfs"
)

// MemTotal returns the host's usable memory in bytes, MemTotal in
// procRoot/meminfo (normally "/proc"): the ceiling against which a
// container's MemoryBytes reads, and what a summary records of the host.
//
// It reads the file with github.com/prometheus/procfs: it is read once per
// run, so the library's cost does not matter, and it handles the file's
// format (kB units, lines added by newer kernels) so we need not.
func MemTotal(procRoot string) (uint64, error) {
	path := filepath.Join(procRoot, "meminfo")
	pfs, err := procfs.NewFS(procRoot)
	if err != nil {
		return 0, fmt.Errorf("cgroup: host memory: %w", err)
	}
	mi, err := pfs.Meminfo()
	switch {
	case errors.As(err, new(*fs.PathError)):
		return 0, fmt.Errorf("cgroup: host memory: %w", err) // names the file
	case err != nil:
		return 0, fmt.Errorf("cgroup: host memory: parse %s: %w", path, err)
	case mi.MemTotalBytes == nil:
		return 0, fmt.Errorf("cgroup: host memory: parse %s: no MemTotal line", path)
	}
	return *mi.MemTotalBytes, nil
}
