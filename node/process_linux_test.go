//go:build linux

package node

import (
	"encoding/binary"
	"math"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// gatherByName gathers g, through Gatherers as a scrape does (which checks
// the families' consistency), by family name.
func gatherByName(t testing.TB, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := prometheus.Gatherers{g}.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func newTestProcStats(t testing.TB) *procStats {
	t.Helper()
	p, err := newProcStats()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// value is the one sample of a gauge or counter family.
func value(t testing.TB, mf *dto.MetricFamily) float64 {
	t.Helper()
	require.Len(t, mf.GetMetric(), 1, mf.GetName())
	m := mf.GetMetric()[0]
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func TestProcStatsMatchesStandard(t *testing.T) {
	p := newTestProcStats(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{ReportErrors: true}))
	lean, std := gatherByName(t, p), gatherByName(t, reg)

	// The same families as the standard collector, less the network
	// namespace's byte counters, with the same help and type.
	var want []string
	for name := range std {
		if !regexp.MustCompile(`^process_network_`).MatchString(name) {
			want = append(want, name)
		}
	}
	require.ElementsMatch(t, want, keys(lean))
	for name, mf := range lean {
		require.Equal(t, std[name].GetType(), mf.GetType(), name)
		require.Equal(t, std[name].GetHelp(), mf.GetHelp(), name)
	}

	within := func(name string, rel float64) {
		t.Helper()
		l, s := value(t, lean[name]), value(t, std[name])
		require.Positive(t, l, name)
		require.InDelta(t, s, l, rel*s, "%s: lean %v, standard %v", name, l, s)
	}
	within("process_resident_memory_bytes", 0.2)
	within("process_virtual_memory_bytes", 0.2)
	// The standard collector reads both rounded to clock ticks (10 ms).
	require.InDelta(t, value(t, std["process_start_time_seconds"]), value(t, lean["process_start_time_seconds"]), 0.02)
	require.InDelta(t, value(t, std["process_cpu_seconds_total"]), value(t, lean["process_cpu_seconds_total"]), 0.05)
	require.Equal(t, value(t, std["process_max_fds"]), value(t, lean["process_max_fds"]))
	require.Equal(t, value(t, std["process_virtual_memory_max_bytes"]), value(t, lean["process_virtual_memory_max_bytes"]))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestProcStatsOpenFDs(t *testing.T) {
	p := newTestProcStats(t)
	countDir := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(entries)
	}
	// More descriptors than one getdents buffer holds, to cover the loop.
	for range 600 {
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close() })
	}
	before := countDir()
	got := value(t, gatherByName(t, p)["process_open_fds"])
	listed := listFDs(t, p) // the fallback for kernels before 6.2
	after := countDir()
	for _, n := range []float64{got, float64(listed)} {
		require.GreaterOrEqual(t, n, float64(min(before, after)-2))
		require.LessOrEqual(t, n, float64(max(before, after)+2))
	}
}

func listFDs(t *testing.T, p *procStats) int {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	rc, err := p.fdDir.SyscallConn()
	require.NoError(t, err)
	var n int
	var listErr error
	require.NoError(t, rc.Control(func(fd uintptr) { n, listErr = p.listFDs(int(fd)) }))
	require.NoError(t, listErr)
	return n
}

func TestProcStatsCPUAdvances(t *testing.T) {
	p := newTestProcStats(t)
	cpu := func() float64 { return value(t, gatherByName(t, p)["process_cpu_seconds_total"]) }
	// Spin until 20 ms of CPU show: how much wall time that takes depends on
	// the machine, so only the deadline is in wall time.
	before, x := cpu(), 1.0
	for deadline := time.Now().Add(10 * time.Second); cpu()-before < 0.02; {
		require.True(t, time.Now().Before(deadline), "process_cpu_seconds_total stuck at %v after 10 s of busy work", cpu())
		for i := range 100_000 {
			x = math.Sqrt(x + float64(i))
		}
	}
	require.NotZero(t, x)
}

func TestProcStatsClosed(t *testing.T) {
	p, err := newProcStats()
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close twice")
	mfs := gatherByName(t, p)
	require.NotContains(t, mfs, "process_open_fds", "nothing to read once closed")
	require.Contains(t, mfs, "process_cpu_seconds_total", "getrusage needs no file")
}

func TestCountDirents(t *testing.T) {
	// Records as getdents64 lays them out: ".", "..", "0", "17" and a
	// truncated tail that must not be read past.
	rec := func(name string) []byte {
		reclen := (19 + len(name) + 1 + 7) &^ 7
		b := make([]byte, reclen)
		binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
		copy(b[19:], name)
		return b
	}
	var buf []byte
	for _, name := range []string{".", "..", "0", "17"} {
		buf = append(buf, rec(name)...)
	}
	require.Equal(t, 2, countDirents(buf))
	require.Equal(t, 2, countDirents(append(buf, rec("5")[:12]...)))
}

// BenchmarkProcessSource compares one Gather of the process_* source, the
// part of a filtered scrape that reads /proc: client_golang's collector in a
// registry (what the node had), the lean figures collected in a registry
// the same way, and procStats as the node has it.
func BenchmarkProcessSource(b *testing.B) {
	for _, s := range []struct {
		name string
		g    prometheus.Gatherer
	}{
		{"standard", standardProcessSource()},
		{"lean-in-registry", leanInRegistry(newTestProcStats(b))},
		{"lean", newTestProcStats(b)},
	} {
		b.Run("source="+s.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.g.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// leanInRegistry is procStats behind a Collector in a Registry, to tell the
// cost of reading the figures from the cost of the Registry around them.
func leanInRegistry(p *procStats) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(gathererCollector{p})
	return reg
}

// gathererCollector replays a Gatherer's gauges and counters as an unchecked
// Collector.
type gathererCollector struct{ g prometheus.Gatherer }

func (gathererCollector) Describe(chan<- *prometheus.Desc) {}

func (c gathererCollector) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := c.g.Gather()
	for _, mf := range mfs {
		d := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), nil, nil)
		m := mf.GetMetric()[0]
		if mf.GetType() == dto.MetricType_COUNTER {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, m.GetCounter().GetValue())
		} else {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, m.GetGauge().GetValue())
		}
	}
}
