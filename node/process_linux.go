//go:build linux

package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// newProcessSource returns the lean Linux source, or client_golang's standard
// collector if /proc cannot be opened (which then reports nothing either).
func newProcessSource() prometheus.Gatherer {
	p, err := newProcStats()
	if err != nil {
		return standardProcessSource()
	}
	return p
}

// procStats gathers the process_* families of client_golang's process
// collector that a node's cost is read from, with the same names, help and
// types, at a twentieth of the cost: see "Measuring without disturbing" in
// doc.go. Per scrape it makes three system calls (getrusage, pread, fstat) on
// files it keeps open; what cannot change while the process lives is read
// once. It is a Gatherer rather than a Collector in a Registry because for
// seven numbers the Registry costs more than reading them: two 16 KB metric
// channels, a goroutine and consistency checks on every Gather.
//
// It leaves out process_network_{receive,transmit}_bytes_total: they come
// from /proc/self/net/netstat, which counts the whole network namespace, not
// the process, and parsing it was the largest part of the standard cost.
type procStats struct {
	statm *os.File // /proc/self/statm, read with pread at offset 0
	fdDir *os.File // /proc/self/fd, fstat-ed (or listed on kernels before 6.2)

	pageSize float64
	start    float64 // unix seconds
	maxFDs   float64 // RLIMIT_NOFILE soft limit
	maxVsize float64 // RLIMIT_AS soft limit

	mu     sync.Mutex // guards the files against Close, and fdDir's offset and dirent between scrapes
	dirent []byte     // getdents buffer
}

func newProcStats() (_ *procStats, err error) {
	p := &procStats{pageSize: float64(os.Getpagesize()), dirent: make([]byte, 8<<10)}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	if p.statm, err = os.Open("/proc/self/statm"); err != nil {
		return p, err
	}
	if p.fdDir, err = os.Open("/proc/self/fd"); err != nil {
		return p, err
	}
	if p.start, err = startTime(); err != nil {
		return p, err
	}
	// The Go runtime raises the soft RLIMIT_NOFILE to the hard limit at
	// start-up; nothing in the node changes either limit afterwards.
	var lim syscall.Rlimit
	if err = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return p, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	p.maxFDs = float64(lim.Cur)
	if err = syscall.Getrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		return p, fmt.Errorf("getrlimit RLIMIT_AS: %w", err)
	}
	p.maxVsize = float64(lim.Cur)
	return p, nil
}

// Close releases the two files procStats keeps open. It is safe to call more
// than once; a Gather after it leaves out the figures read from them.
func (p *procStats) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, f := range []**os.File{&p.statm, &p.fdDir} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	return errors.Join(errs...)
}

// Gather implements prometheus.Gatherer: the families sorted by name, each
// with one sample. Help texts are client_golang's
// (prometheus/process_collector.go), so a family reads the same whichever
// collector produced it. Like the standard collector without ReportErrors, it
// leaves out a figure it cannot read rather than failing the scrape.
func (p *procStats) Gather() ([]*dto.MetricFamily, error) {
	mfs := make([]*dto.MetricFamily, 0, 7)
	add := func(name, help string, typ dto.MetricType, v float64) {
		m := &dto.Metric{}
		if typ == dto.MetricType_COUNTER {
			m.Counter = &dto.Counter{Value: new(v)}
		} else {
			m.Gauge = &dto.Gauge{Value: new(v)}
		}
		mfs = append(mfs, &dto.MetricFamily{Name: new(name), Help: new(help), Type: new(typ), Metric: []*dto.Metric{m}})
	}
	const gauge, counter = dto.MetricType_GAUGE, dto.MetricType_COUNTER

	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", counter, cpu)
	}
	p.mu.Lock()
	vsize, rss, statmErr := p.readStatm()
	fds, fdsErr := p.countFDs()
	p.mu.Unlock()
	add("process_max_fds", "Maximum number of open file descriptors.", gauge, p.maxFDs)
	if fdsErr == nil {
		add("process_open_fds", "Number of open file descriptors.", gauge, float64(fds))
	}
	if statmErr == nil {
		add("process_resident_memory_bytes", "Resident memory size in bytes.", gauge, rss*p.pageSize)
	}
	add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", gauge, p.start)
	if statmErr == nil {
		add("process_virtual_memory_bytes", "Virtual memory size in bytes.", gauge, vsize*p.pageSize)
	}
	add("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", gauge, p.maxVsize)
	return mfs, nil
}

// readStatm returns the first two fields of /proc/self/statm, the virtual and
// the resident size in pages: the same counters /proc/self/stat reports as
// vsize and rss. The caller holds p.mu.
func (p *procStats) readStatm() (vsize, rss float64, err error) {
	var buf [128]byte // seven decimal numbers
	f := p.statm
	if f == nil {
		return 0, 0, os.ErrClosed
	}
	// One pread: os.File.ReadAt would call it again to reach EOF.
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var n int
	var readErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			n, readErr = syscall.Pread(int(fd), buf[:], 0)
			if readErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		readErr = err
	}
	if n <= 0 {
		return 0, 0, fmt.Errorf("read /proc/self/statm: %d bytes, %v", n, readErr)
	}
	v, rest, ok1 := cutUint(buf[:n])
	r, _, ok2 := cutUint(rest)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("parse /proc/self/statm %q", buf[:n])
	}
	return float64(v), float64(r), nil
}

// cutUint parses the decimal number at the start of b, after any spaces, and
// returns the rest.
func cutUint(b []byte) (v uint64, rest []byte, ok bool) {
	b = bytes.TrimLeft(b, " ")
	i := 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	return v, b[i:], i > 0
}

// countFDs counts the open descriptors, the two procStats holds included.
// Since Linux 6.2 the size fstat reports for /proc/self/fd is that
// count, read from the descriptor bitmap in one system call (1.6 µs here,
// with 10 descriptors or 1,000); older kernels report 0, and the directory
// is listed instead. The caller holds p.mu.
func (p *procStats) countFDs() (int, error) {
	if p.fdDir == nil {
		return 0, os.ErrClosed
	}
	rc, err := p.fdDir.SyscallConn()
	if err != nil {
		return 0, err
	}
	var count int
	var opErr error
	err = rc.Control(func(fd uintptr) {
		var st syscall.Stat_t
		if opErr = syscall.Fstat(int(fd), &st); opErr == nil && st.Size > 0 {
			count = int(st.Size)
			return
		}
		count, opErr = p.listFDs(int(fd))
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return 0, fmt.Errorf("count /proc/self/fd: %w", err)
	}
	return count, nil
}

// listFDs counts the entries of the /proc/self/fd directory open as fd with
// getdents into a reused buffer: no string per descriptor as Readdirnames
// would make, but still 200 µs with 1,000 descriptors. The caller holds p.mu.
func (p *procStats) listFDs(fd int) (int, error) {
	if _, err := syscall.Seek(fd, 0, 0); err != nil {
		return 0, err
	}
	count := 0
	for {
		n, err := syscall.Getdents(fd, p.dirent)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n <= 0 {
			return count, nil
		}
		count += countDirents(p.dirent[:n])
	}
}

// countDirents counts the linux_dirent64 records in buf other than "." and
// "..". A record is d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1) and
// the NUL-terminated name; every name in /proc/self/fd is a number.
func countDirents(buf []byte) int {
	const reclenOff, nameOff = 16, 19
	n := 0
	for len(buf) > nameOff {
		reclen := int(binary.NativeEndian.Uint16(buf[reclenOff:]))
		if reclen <= nameOff || reclen > len(buf) {
			break
		}
		if buf[nameOff] != '.' {
			n++
		}
		buf = buf[reclen:]
	}
	return n
}

// userHZ is the unit of the clock-tick fields in /proc/self/stat. The kernel
// fixes it at 100 for user space on every architecture Go supports, and
// prometheus/procfs assumes the same.
const userHZ = 100

// startTime is when the process started, in unix seconds, computed as the
// standard collector does: the boot time from /proc/stat plus field 22 of
// /proc/self/stat, the start in clock ticks after boot.
func startTime() (float64, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces; the first of them is field 3 (state).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/self/stat: no ')'")
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/self/stat: %d fields after the command", len(fields))
	}
	ticks, err := strconv.ParseUint(string(fields[22-3]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/self/stat starttime: %w", err)
	}

	sys, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(sys) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			boot, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/stat btime: %w", err)
			}
			return float64(boot) + float64(ticks)/userHZ, nil
		}
	}
	return 0, fmt.Errorf("parse /proc/stat: no btime")
}
