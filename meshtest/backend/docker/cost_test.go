package docker

import (
	"math"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// TestStatsFromAPIAbsentIsNaN: a figure the engine's stats leave out is
// NaN in the samples, never a made-up zero.
func TestStatsFromAPIAbsentIsNaN(t *testing.T) {
	var s container.StatsResponse
	s.MemoryStats.Usage = 10 << 20
	s.MemoryStats.Stats = map[string]uint64{"inactive_file": 2 << 20}
	got := statsFromAPI(&s)
	if got.MemoryBytes != 8<<20 {
		t.Errorf("memory = %v, want usage minus inactive file (8 MiB)", got.MemoryBytes)
	}
	for name, v := range map[string]float64{"rss": got.MemoryRSSBytes, "pids": got.PIDs, "rx": got.NetRxBytes, "tx": got.NetTxBytes} {
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN when the engine does not report it", name, v)
		}
	}
	s.MemoryStats.Stats["anon"] = 3 << 20
	s.PidsStats.Current = 7
	s.Networks = map[string]container.NetworkStats{"eth0": {RxBytes: 5, TxBytes: 6}}
	got = statsFromAPI(&s)
	if got.MemoryRSSBytes != 3<<20 || got.PIDs != 7 || got.NetRxBytes != 5 || got.NetTxBytes != 6 {
		t.Errorf("reported figures: %+v", got)
	}
}
