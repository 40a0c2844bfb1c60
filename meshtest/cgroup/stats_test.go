package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	tests := []struct {
		tree string
		id   string
		pid  int
		want Stats
	}{
		{"v1", v1Docker, 4784, Stats{
			CPUSeconds:     0.354900522,
			MemoryBytes:    24502272 - 1552384, // usage - total_inactive_file: 21.89 MiB, as docker stats showed
			MemoryRSSBytes: 22417408,
			PIDs:           7,
			NetRxBytes:     1462, // docker stats: 1.46kB / 0B
		}},
		{"v1", v1Systemd, 9120, Stats{
			CPUSeconds:     4.718592,
			MemoryBytes:    60391424 - 8192000,
			MemoryRSSBytes: 47185920, // total_rss, not rss: the hierarchy, not the top cgroup alone
			PIDs:           42,
			NetRxBytes:     8254611 + 123456789012, // eth0 + eth1, lo left out
			NetTxBytes:     12873349 + 98765432109,
		}},
		{"v2", v2Systemd, 31337, Stats{
			CPUSeconds:     2.833118,
			MemoryBytes:    16777216 - 4296704,
			MemoryRSSBytes: 11534336,
			PIDs:           23,
			NetRxBytes:     3145728,
			NetTxBytes:     1048576,
		}},
		{"v2", v2Docker, 31400, Stats{
			CPUSeconds:     0.5,
			MemoryBytes:    8000000,
			MemoryRSSBytes: 7340032,
			PIDs:           5,
			NetRxBytes:     3145728,
			NetTxBytes:     1048576,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tree+"/"+tt.id[:12], func(t *testing.T) {
			c, err := fixtureReader(t, tt.tree).Find(tt.id)
			require.NoError(t, err)
			got, err := c.Read(tt.pid)
			require.NoError(t, err)
			assert.InDelta(t, tt.want.CPUSeconds, got.CPUSeconds, 1e-9)
			got.CPUSeconds = tt.want.CPUSeconds
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadErrors(t *testing.T) {
	memDir := filepath.Join("cgroup", "memory", "docker", v1Docker)
	tests := []struct {
		name    string
		pid     int
		breakIt func(dir string) error
		wantErr string // a path relative to the copied tree, or a message
	}{
		{"container gone", 4784, func(dir string) error { return os.RemoveAll(filepath.Join(dir, memDir)) }, filepath.Join(memDir, "memory.usage_in_bytes")},
		{"memory.stat missing", 4784, func(dir string) error { return os.Remove(filepath.Join(dir, memDir, "memory.stat")) }, filepath.Join(memDir, "memory.stat")},
		{"memory.stat without total_inactive_file", 4784, func(dir string) error {
			return os.WriteFile(filepath.Join(dir, memDir, "memory.stat"), []byte("cache 1\nrss 2\n"), 0o644)
		}, "no total_inactive_file line"},
		{"garbage pids.current", 4784, func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "cgroup", "pids", "docker", v1Docker, "pids.current"), []byte("max\n"), 0o644)
		}, filepath.Join("pids", "docker", v1Docker, "pids.current")},
		{"process exited", 4784, func(dir string) error { return os.RemoveAll(filepath.Join(dir, "proc", "4784")) }, filepath.Join("proc", "4784", "net", "dev")},
		{"wrong pid", 1, func(string) error { return nil }, filepath.Join("proc", "1", "net", "dev")},
		{"invalid pid", 0, func(string) error { return nil }, "invalid init pid 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t, "v1")
			r, err := NewReader(filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc"))
			require.NoError(t, err)
			c, err := r.Find(v1Docker)
			require.NoError(t, err)
			require.NoError(t, tt.breakIt(dir))

			st, err := c.Read(tt.pid)
			require.Error(t, err)
			assert.Zero(t, st)
			assert.Contains(t, err.Error(), "read container 838eac9f9475")
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestStatValue(t *testing.T) {
	const data = "usage_usec 2833118\nuser_usec 2101044\ncore_sched.force_idle_usec 0\nbad x\n"
	tests := []struct {
		key     string
		want    uint64
		wantErr string
	}{
		{"usage_usec", 2833118, ""},
		{"user_usec", 2101044, ""},
		{"core_sched.force_idle_usec", 0, ""},
		{"usage", 0, "cpu.stat: no usage line"}, // a prefix of a key is not the key
		{"bad", 0, "cpu.stat: bad: strconv.ParseUint"},
	}
	for _, tt := range tests {
		got, err := statValue("cpu.stat", []byte(data), tt.key)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.key)
			continue
		}
		assert.NoError(t, err, tt.key)
		assert.Equal(t, tt.want, got, tt.key)
	}
}

func TestParseNetDev(t *testing.T) {
	const header = "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	tests := []struct {
		name           string
		data           string
		wantRx, wantTx uint64
		wantErr        string
	}{
		{"headers only", header, 0, 0, ""},
		{"lo only", header + "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n", 0, 0, ""},
		{"two interfaces", header +
			"  eth0:     100       1    0    0    0     0          0         0      200       1    0    0    0     0       0          0\n" +
			"  eth1:      10       1    0    0    0     0          0         0       20       1    0    0    0     0       0          0\n", 110, 220, ""},
		{"wide counter touches colon", header + "  eth0:123456789012 1    0    0    0     0          0         0 5 1    0    0    0     0       0          0\n", 123456789012, 5, ""},
		{"no trailing newline", header + "  eth0: 1 1 0 0 0 0 0 0 2 1 0 0 0 0 0 0", 1, 2, ""},
		{"truncated line", header + "  eth0: 1 2 3\n", 0, 0, "line 3: 3 counters, want 16"},
		{"no colon", header + "eth0 1 2\n", 0, 0, "line 3: no interface name"},
		{"bad counter", header + "  eth0: x 1 0 0 0 0 0 0 2 1 0 0 0 0 0 0\n", 0, 0, "line 3: bad byte counter"},
		{"empty", "", 0, 0, "missing header lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx, tx, err := parseNetDev("/proc/1/net/dev", []byte(tt.data))
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, "/proc/1/net/dev")
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantRx, rx)
			assert.Equal(t, tt.wantTx, tx)
		})
	}
}

// BenchmarkRead is the cost of one sample of one container against the
// fixture trees. On a real host the kernel generates these files on read,
// memory.stat most expensively; measure there before trusting these numbers.
func BenchmarkRead(b *testing.B) {
	for _, tt := range []struct {
		tree, id string
		pid      int
	}{{"v1", v1Docker, 4784}, {"v2", v2Systemd, 31337}} {
		b.Run("cgroup="+tt.tree, func(b *testing.B) {
			c, err := fixtureReader(b, tt.tree).Find(tt.id)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Read(tt.pid); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
