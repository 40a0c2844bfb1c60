package cgroup

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Stats is one sample of a container's cost, in the units of `docker stats`
// except that CPU is cumulative: a sampler differences two Stats to get a
// rate, and a cumulative counter loses nothing when a sample is late.
type Stats struct {
	// CPUSeconds is the CPU time, user plus system, the container's
	// processes have used since it started.
	CPUSeconds float64
	// MemoryBytes is the memory charged to the container less its inactive
	// file cache: what `docker stats` shows as MEM USAGE. Page cache the
	// kernel can drop at no cost is not the node's footprint.
	MemoryBytes float64
	// MemoryRSSBytes is anonymous memory only (v1 total_rss, v2 anon): heap
	// and stacks, comparable with the node's own process_resident_memory_bytes
	// less its mapped binary.
	MemoryRSSBytes float64
	// PIDs is the number of tasks (threads included) in the container.
	PIDs float64
	// NetRxBytes and NetTxBytes are the bytes received and sent since the
	// container started, summed over its interfaces except loopback.
	NetRxBytes, NetTxBytes float64
	// At is when the figures were taken, where that is not the moment of
	// the read (an engine's stats stream samples on its own clock); zero
	// means at the read. Rates are taken over At.
	At time.Time
}

// Container names the files that hold one container's figures. Find fills
// it; the exported paths are there for reports and error messages.
type Container struct {
	// ID is the full container ID.
	ID string
	// Version is the cgroup version the paths belong to.
	Version Version
	// CPUFile is cpuacct.usage (v1, nanoseconds) or cpu.stat (v2,
	// usage_usec).
	CPUFile string
	// MemoryFile is memory.usage_in_bytes (v1) or memory.current (v2).
	MemoryFile string
	// MemoryStatFile is the cgroup's memory.stat.
	MemoryStatFile string
	// PIDsFile is pids.current.
	PIDsFile string

	procRoot string
}

// NetDevFile returns the path of the network counters of the network
// namespace process pid lives in.
func (c Container) NetDevFile(pid int) string {
	return filepath.Join(c.procRoot, strconv.Itoa(pid), "net", "dev")
}

// The files a sample reads, as indexes into a [numFiles] array.
const (
	fileCPU = iota
	fileMemory
	fileMemoryStat
	filePIDs
	fileNetDev
	numFiles
)

// paths lists the files a sample of c with init process pid reads.
func (c Container) paths(pid int) [numFiles]string {
	return [numFiles]string{c.CPUFile, c.MemoryFile, c.MemoryStatFile, c.PIDsFile, c.NetDevFile(pid)}
}

// Read samples the container. pid is the container's init process as docker
// inspect reports it (State.Pid): cgroups do not account network traffic, so
// the counters come from that process's network namespace.
//
// Read opens, reads and closes five files. That is simplest but costs a few
// syscalls per file, which is most of the cost; a sampler reading the same
// container every interval should use Open. Any file missing or malformed is
// an error naming the file: the container has most likely exited.
func (c Container) Read(pid int) (Stats, error) {
	if pid <= 0 {
		return Stats{}, c.wrap(fmt.Errorf("invalid init pid %d", pid))
	}
	paths := c.paths(pid)
	var data [numFiles][]byte
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return Stats{}, c.wrap(err)
		}
		data[i] = b
	}
	return c.parse(&paths, &data)
}

func (c Container) wrap(err error) error {
	return fmt.Errorf("cgroup: read container %.12s: %w", c.ID, err)
}

// parse turns the contents of the files at paths into Stats.
func (c Container) parse(paths *[numFiles]string, data *[numFiles][]byte) (Stats, error) {
	var st Stats
	var err error
	if st.CPUSeconds, err = c.parseCPU(paths[fileCPU], data[fileCPU]); err != nil {
		return Stats{}, c.wrap(err)
	}
	if st.MemoryBytes, st.MemoryRSSBytes, err = c.parseMemory(paths, data); err != nil {
		return Stats{}, c.wrap(err)
	}
	pids, err := parseUint(paths[filePIDs], data[filePIDs])
	if err != nil {
		return Stats{}, c.wrap(err)
	}
	st.PIDs = float64(pids)
	rx, tx, err := parseNetDev(paths[fileNetDev], data[fileNetDev])
	if err != nil {
		return Stats{}, c.wrap(err)
	}
	st.NetRxBytes, st.NetTxBytes = float64(rx), float64(tx)
	return st, nil
}

// parseCPU reads cumulative CPU seconds from cpuacct.usage (v1, ns) or
// cpu.stat (v2, usage_usec).
func (c Container) parseCPU(path string, data []byte) (float64, error) {
	if c.Version == V2 {
		usec, err := statValue(path, data, "usage_usec")
		return float64(usec) / 1e6, err
	}
	ns, err := parseUint(path, data)
	return float64(ns) / 1e9, err
}

// parseMemory returns usage less inactive file cache, and anonymous memory.
func (c Container) parseMemory(paths *[numFiles]string, data *[numFiles][]byte) (usage, rss float64, err error) {
	current, err := parseUint(paths[fileMemory], data[fileMemory])
	if err != nil {
		return 0, 0, err
	}
	// v1 reports the hierarchical figures with a total_ prefix; the
	// unprefixed ones exclude child cgroups, which a container may create.
	inactiveKey, rssKey := "total_inactive_file", "total_rss"
	if c.Version == V2 {
		inactiveKey, rssKey = "inactive_file", "anon"
	}
	inactive, err := statValue(paths[fileMemoryStat], data[fileMemoryStat], inactiveKey)
	if err != nil {
		return 0, 0, err
	}
	anon, err := statValue(paths[fileMemoryStat], data[fileMemoryStat], rssKey)
	if err != nil {
		return 0, 0, err
	}
	// As the docker CLI does: subtract only when that cannot go negative
	// (the two files are not read atomically).
	if inactive < current {
		current -= inactive
	}
	return float64(current), float64(anon), nil
}

// parseUint parses a file holding one unsigned integer, as cgroup files such
// as pids.current and memory.current do.
func parseUint(path string, data []byte) (uint64, error) {
	v, err := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// statValue returns the value of key in a flat keyed file ("key value" per
// line), the format of memory.stat and cpu.stat.
func statValue(path string, data []byte, key string) (uint64, error) {
	for line := range bytes.Lines(data) {
		k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %s: %w", path, key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("parse %s: no %s line", path, key)
}

// parseNetDev sums the received and transmitted bytes in a /proc/<pid>/net/dev
// over every interface but loopback. Loopback traffic never leaves the
// container, and `docker stats` leaves it out too.
//
// It is written here rather than taken from github.com/prometheus/procfs
// (which MemTotal uses) because a sample reads net/dev through the Handle's
// kept descriptor, and procfs v0.22.0 parses the file only from a path it
// stats, opens and closes on every call, into a map of all 16 counters per
// interface. BenchmarkNetDev, in a network namespace shaped like a
// container's (lo and a veth pair; 2 vCPUs, linux/amd64), measured ~8 µs of
// CPU per read through the kept handle and this parser, ~28 µs through
// os.ReadFile and this parser and ~32 µs through procfs's Proc.NetDev, with
// 2, 8 and 27 allocations. procfs also indexes the 16 counters without
// checking that a line has them, so a truncated line panics where this
// returns an error.
func parseNetDev(path string, data []byte) (rx, tx uint64, err error) {
	n := 0
	for line := range bytes.Lines(data) {
		n++
		if n <= 2 { // "Inter-|   Receive ..." and " face |bytes ..."
			continue
		}
		// The name is followed by a colon, with no space before the first
		// counter once it has grown wide enough ("eth0:123456789012 ...").
		name, counters, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return 0, 0, fmt.Errorf("parse %s: line %d: no interface name", path, n)
		}
		if string(bytes.TrimSpace(name)) == "lo" {
			continue
		}
		f := bytes.Fields(counters)
		if len(f) < 16 {
			return 0, 0, fmt.Errorf("parse %s: line %d: %d counters, want 16", path, n, len(f))
		}
		r, err1 := strconv.ParseUint(string(f[0]), 10, 64)
		t, err2 := strconv.ParseUint(string(f[8]), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("parse %s: line %d: bad byte counter", path, n)
		}
		rx += r
		tx += t
	}
	if n < 2 {
		return 0, 0, fmt.Errorf("parse %s: missing header lines", path)
	}
	return rx, tx, nil
}
