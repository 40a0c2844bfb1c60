package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// eventView is one row of the Events section.
type eventView struct {
	AtISO     string // when, as RFC 3339; "" for the zero time
	Elapsed   string // "12.3 s"; "-1.0 s" before the window
	Before    bool   // before the window
	Kind      string
	Nodes     string // "peer-1, peer-2"; "mesh" for the whole mesh
	Detail    string
	Recovered string // "3.2 s", or "—" when it did not or was not awaited
	Recovery  string // what proved it, or why there is no time
}

func eventsOf(events []summary.Event) []eventView {
	var out []eventView
	for _, e := range events {
		v := eventView{
			Elapsed: fmt.Sprintf("%.1f s", e.ElapsedS),
			Before:  e.ElapsedS < 0,
			Kind:    e.Kind, Detail: e.Detail, Recovery: e.Recovery,
			Nodes:     strings.Join(e.Nodes, ", "),
			Recovered: "—",
		}
		if !e.At.IsZero() {
			v.AtISO = e.At.Format(time.RFC3339Nano)
		}
		if v.Nodes == "" {
			v.Nodes = "mesh"
		}
		if e.RecoveredS > 0 {
			v.Recovered = fmt.Sprintf("%.1f s", e.RecoveredS)
		}
		out = append(out, v)
	}
	return out
}
