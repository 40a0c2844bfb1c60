package cgroup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// procfsNetDev is what parseNetDev would be with github.com/prometheus/procfs:
// the bytes of every interface but loopback in procRoot/<pid>/net/dev.
func procfsNetDev(fs procfs.FS, pid int) (rx, tx uint64, err error) {
	p, err := fs.Proc(pid)
	if err != nil {
		return 0, 0, err
	}
	dev, err := p.NetDev()
	if err != nil {
		return 0, 0, err
	}
	for name, l := range dev {
		if name != "lo" {
			rx += l.RxBytes
			tx += l.TxBytes
		}
	}
	return rx, tx, nil
}

// TestParseNetDevMatchesProcfs checks the hand-written parser against
// procfs's on the fixtures, so that BenchmarkNetDev compares two readers of
// the same figures.
func TestParseNetDevMatchesProcfs(t *testing.T) {
	for _, tt := range []struct {
		tree string
		pid  int
	}{{"v1", 4784}, {"v1", 9120}, {"v2", 31337}, {"v2", 31400}} {
		proc := filepath.Join("testdata", tt.tree, "proc")
		fs, err := procfs.NewFS(proc)
		require.NoError(t, err)
		wantRx, wantTx, err := procfsNetDev(fs, tt.pid)
		require.NoError(t, err)

		path := Container{procRoot: proc}.NetDevFile(tt.pid)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		rx, tx, err := parseNetDev(path, data)
		require.NoError(t, err)
		assert.Equal(t, wantRx, rx, "%s rx", path)
		assert.Equal(t, wantTx, tx, "%s tx", path)
	}
}

// BenchmarkNetDev is the network part of one sample, read from this
// process's own /proc/<pid>/net/dev, a file the kernel generates on every
// read as in a real sample. The host's network namespace has an interface
// per running container, so for figures that hold still and look like a
// container's, run it in a namespace of its own:
//
//	go test -c -o /tmp/cgroup.test ./meshtest/cgroup
//	sudo unshare -n sh -c 'ip link set lo up; ip link add eth0 type veth peer name peer0;
//	    /tmp/cgroup.test -test.run "^$" -test.bench NetDev -test.count 6'
//
// The implementations:
//
//   - impl=handle: the file kept open, read from offset zero into a reused
//     buffer, parsed by parseNetDev; what Handle.Read does.
//   - impl=readfile: os.ReadFile and parseNetDev; what Container.Read does.
//   - impl=procfs: procfs.FS.Proc(pid).NetDev() with the FS made once,
//     summed over the interfaces but loopback.
//
// cpu-ns/op is the process's CPU time per read (getrusage), which unlike
// ns/op does not count the time the benchmark waited for a CPU on a busy
// host.
func BenchmarkNetDev(b *testing.B) {
	const procRoot = "/proc"
	pid := os.Getpid()
	path := Container{procRoot: procRoot}.NetDevFile(pid)
	f, err := os.Open(path)
	if err != nil {
		b.Skip(err) // no proc filesystem here
	}
	defer f.Close()
	buf := make([]byte, 4096)
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		b.Fatal(err)
	}
	for _, impl := range []struct {
		name string
		read func() (rx, tx uint64, err error)
	}{
		{"handle", func() (uint64, uint64, error) {
			data, err := readAt0(f, buf)
			if err != nil {
				return 0, 0, err
			}
			buf = data[:cap(data)]
			return parseNetDev(path, data)
		}},
		{"readfile", func() (uint64, uint64, error) {
			data, err := os.ReadFile(path)
			if err != nil {
				return 0, 0, err
			}
			return parseNetDev(path, data)
		}},
		{"procfs", func() (uint64, uint64, error) { return procfsNetDev(fs, pid) }},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			before := processCPU(b)
			for b.Loop() {
				if _, _, err := impl.read(); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU(b) - before
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user plus system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
