package docker

import (
	"context"
	"math"
	"testing"
	"time"

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

// TestStatsStreamsAnswerAtOnce: once a unit's first sample is in, every
// read answers at once with the latest, and the samples' own times move
// on. Docker 20.10 holds a request for one sample (one-shot or not) until
// its next one-second tick, so reads made that way could not keep a 1 s
// sampling interval: each of these reads has a quarter of one.
func TestStatsStreamsAnswerAtOnce(t *testing.T) {
	b := testBackend(t, Options{})
	r := testRun(t, b, "stats")
	img := sleeperImage(t, b)
	id := startUnit(t, r, sleeperUnit(img, "sampled"))
	c := openStatsStreams(map[string]statsUnit{"sampled": {cli: b.cli.Client, id: id}}, "test")
	defer c.Close()

	first, err := c.Read(t.Context(), "sampled") // waits for the first sample
	if err != nil {
		t.Fatal(err)
	}
	if first.MemoryBytes <= 0 || first.At.IsZero() {
		t.Fatalf("first sample: %+v; want memory and the engine's time", first)
	}
	last := first
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
		st, err := c.Read(ctx, "sampled")
		cancel()
		if err != nil {
			t.Fatalf("read %d after the first: %v", i+1, err)
		}
		last = st
		time.Sleep(250 * time.Millisecond)
	}
	if !last.At.After(first.At) {
		t.Errorf("over 2.5 s the samples' time stayed at %v", first.At)
	}
	if _, err := c.Read(t.Context(), "stranger"); err == nil {
		t.Error("a unit the window was not opened for reads without an error")
	}
}
