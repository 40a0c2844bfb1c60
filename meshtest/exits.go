package meshtest

import (
	"context"
	"fmt"
	"strings"
)

// watchExits fails the test as soon as a unit of the mesh dies that no
// fault planned: a node that crashes mid-experiment must not pass for one
// that went quiet, nor leave the test waiting for a recovery that cannot
// come. The test fails at once (t.Errorf, from this goroutine) with the
// unit's last log lines, and the mesh's context is cancelled with that
// cause, so whatever the test does with the mesh next returns it.
func (m *Mesh) watchExits(ctx context.Context) error {
	exits, err := m.run.Exits(ctx)
	if err != nil {
		return fmt.Errorf("watch for nodes that die: %w", err)
	}
	go func() {
		for e := range exits {
			if m.isClosed.Load() || ctx.Err() != nil {
				return
			}
			if m.consumeExit(e.Name) {
				continue
			}
			m.unplannedExit(ctx, e.Name, e.Code, e.OOMKilled)
		}
	}()
	return nil
}

// unplannedExit fails the test for unit's exit.
func (m *Mesh) unplannedExit(ctx context.Context, unit string, code int, oom bool) {
	what := fmt.Sprintf("exit code %d", code)
	switch {
	case oom:
		what += ", killed for lack of memory"
	case code == 137:
		what += ": SIGKILL, not from meshtest; the OOM killer's, unreported, or a kill from outside"
	}
	kind, logs := "node", ""
	if n := m.node(unit); n != nil {
		logs = m.lastLogs(context.WithoutCancel(ctx), n)
	} else if owner, ok := strings.CutSuffix(unit, shaperSuffix); ok && m.node(owner) != nil {
		kind = "network helper of node " + owner + ":"
		if out, err := m.run.Logs(context.WithoutCancel(ctx), unit, 20); err == nil {
			logs = "\n--- last lines of " + unit + " ---\n" + out
		}
	}
	cause := fmt.Errorf("%s %s died (%s) and no fault planned it%s", kind, unit, what, logs)
	m.logf("meshtest: %v", cause)
	if m.errorf != nil {
		m.errorf("meshtest: %v", cause)
	}
	m.cancel(cause)
}
