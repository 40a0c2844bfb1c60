package meshtest

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// The default warm-up: a node's memory rises for about 20 s after it
// starts (measured here: 4.8 → 8.6 MB for an idle peer, and a 10-peer
// star's bootstrap rising by 1.5 MB through an 8 s window), so a window
// that opens at once measures the rise. The first window of a mesh waits
// until every role's mean container memory has held within 2 % over 5
// samples, at most 30 s.
const (
	warmUpCap       = 30 * time.Second
	warmUpSamples   = 5
	warmUpTolerance = 0.02
)

// WarmUp is what a mesh waited for before its first sampling window.
type WarmUp struct {
	Waited    time.Duration
	Settled   bool   // the criterion held before the cap (always true for a fixed wait)
	Criterion string // in words, for the summary and the report
}

// warmUpOnce runs the warm-up before the mesh's first window (later
// windows find the nodes warm). The caller holds m.busy, as every window
// does; a workload calls it before it starts its own load, so that the
// load falls in the window and not in the warm-up.
func (m *Mesh) warmUpOnce(ctx context.Context, logf func(string, ...any)) error {
	if m.warmUp != nil || m.Config.WarmUp < 0 {
		return nil
	}
	names := make([]string, len(m.Nodes))
	for i, n := range m.Nodes {
		names[i] = n.Name
	}
	cost, err := m.run.Cost(ctx, names)
	if err != nil {
		return err
	}
	defer cost.Close()
	begin := time.Now()
	w := &WarmUp{}
	if d := m.Config.WarmUp; d > 0 {
		w.Criterion, w.Settled = fmt.Sprintf("a fixed %v (Config.WarmUp)", d), true
		logf("meshtest: warm-up: %v before the first window", d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	} else {
		w.Criterion = fmt.Sprintf("every role's mean container memory within %.0f %% over %d samples %v apart (at most %v)",
			100*warmUpTolerance, warmUpSamples, m.Config.Interval, warmUpCap)
		logf("meshtest: warm-up: waiting until %s", w.Criterion)
		var history []map[string]float64 // per sample, role -> mean memory
		ticker := time.NewTicker(m.Config.Interval)
		defer ticker.Stop()
		for time.Since(begin) < warmUpCap {
			history = append(history, m.roleMemory(ctx, cost))
			if settled(history) {
				w.Settled = true
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ticker.C:
			}
		}
	}
	w.Waited = time.Since(begin)
	m.warmUp = w
	logf("meshtest: warm-up: %.1f s (%s)", w.Waited.Seconds(), map[bool]string{true: "settled", false: "not settled by the cap: the window may still see the nodes' memory rise"}[w.Settled])
	return nil
}

// warmUpFirst is warmUpOnce for a caller outside a window.
func (m *Mesh) warmUpFirst(logf func(string, ...any)) error {
	m.busy.Lock()
	defer m.busy.Unlock()
	if err := m.alive(); err != nil {
		return err
	}
	return m.why(m.warmUpOnce(m.ctx, logf))
}

// roleMemory is each role's mean container memory now; nodes that cannot
// be read are left out.
func (m *Mesh) roleMemory(ctx context.Context, cost backend.CostReader) map[string]float64 {
	sum, n := map[string]float64{}, map[string]int{}
	for _, node := range m.Nodes {
		if m.isDown(node) {
			continue
		}
		st, err := cost.Read(ctx, node.Name)
		if err != nil || math.IsNaN(st.MemoryBytes) {
			continue
		}
		sum[node.Role] += st.MemoryBytes
		n[node.Role]++
	}
	out := map[string]float64{}
	for role, s := range sum {
		out[role] = s / float64(n[role])
	}
	return out
}

// settled reports whether, over the last warmUpSamples samples, every
// role seen in them was read in each and stayed within warmUpTolerance of
// its latest value.
func settled(history []map[string]float64) bool {
	if len(history) < warmUpSamples {
		return false
	}
	span := history[len(history)-warmUpSamples:]
	last := span[len(span)-1]
	roles := 0
	for _, h := range span {
		for role, v := range h {
			roles++
			now, ok := last[role]
			if !ok || now <= 0 || math.Abs(v-now) > warmUpTolerance*now {
				return false
			}
		}
		if len(h) != len(last) {
			return false
		}
	}
	return roles > 0
}
