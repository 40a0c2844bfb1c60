package meshtest

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/metrics"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// awaitNodes waits until each node in idx (all when nil) is ready and its
// peer ID is known, learning IDs from logs or HTTP where the spec says so.
func (m *Mesh) awaitNodes(ctx context.Context, idx []int) error {
	if idx == nil {
		for i := range m.Nodes {
			idx = append(idx, i)
		}
	}
	deadline := time.Now().Add(m.Config.ConvergeTimeout)
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(wctx)
	waiting := make(chan struct{})
	defer close(waiting)
	// One status call a second tells whether any node died while waiting:
	// a node that exits is never going to be ready, and its logs say why.
	go func() {
		for {
			select {
			case <-waiting:
				return
			case <-time.After(time.Second):
			}
			if n, err := m.exited(wctx); err == nil && n != nil {
				cancel(fmt.Errorf("node %s exited before the mesh converged%s", n.Name, m.lastLogs(ctx, n)))
				return
			}
		}
	}()
	g.SetLimit(16)
	for _, i := range idx {
		n := m.Nodes[i]
		g.Go(func() error { return m.awaitNode(gctx, n, n.spec, deadline) })
	}
	err := g.Wait()
	if cause := context.Cause(wctx); cause != nil && cause != context.Canceled && ctx.Err() == nil {
		return cause
	}
	return err
}

// awaitNode polls a node (or service) until its spec's readiness rule holds
// and its peer ID is known.
func (m *Mesh) awaitNode(ctx context.Context, n *Node, s *spec.Spec, deadline time.Time) error {
	var idRe, readyRe *regexp.Regexp
	if s.Identity.From != "assigned" {
		idRe, _ = spec.LinePattern(s.Identity.Pattern) // checked by Spec.Check
	}
	if s.Ready.LogPattern != "" {
		readyRe, _ = spec.LinePattern(s.Ready.LogPattern)
	}
	httpc := m.httpClient()
	for {
		ready, why := m.nodeReady(ctx, httpc, n, s, readyRe)
		if n.PeerID == "" {
			id, err := m.discoverID(ctx, httpc, n, s, idRe)
			if err == nil && id != "" {
				n.PeerID = id
			} else {
				why = fmt.Sprintf("peer ID not found yet (identity from %s, pattern %q)", s.Identity.From, s.Identity.Pattern)
			}
		}
		if ready && n.PeerID != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s (spec %s) not ready within %v: %s%s", n.Name, s.Name, m.Config.ConvergeTimeout, why, m.lastLogs(ctx, n))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// nodeReady applies the spec's readiness rule once.
func (m *Mesh) nodeReady(ctx context.Context, httpc *http.Client, n *Node, s *spec.Spec, logRe *regexp.Regexp) (bool, string) {
	switch {
	case logRe != nil:
		logs, err := m.run.Logs(ctx, n.Name, 0)
		if err == nil && logRe.MatchString(logs) {
			return true, ""
		}
		return false, fmt.Sprintf("no log line matches ready pattern %q", s.Ready.LogPattern)
	case s.Ready.Metric != nil:
		fams, err := (&metrics.Scraper{Client: httpc}).Scrape(ctx, n.MetricsURL+cmp.Or(s.MetricsPath, "/metrics"))
		if err != nil {
			return false, err.Error()
		}
		v, ok := fams.Value(s.Ready.Metric.Family, s.Ready.Metric.Labels)
		if ok && v >= s.Ready.MetricMin {
			return true, ""
		}
		return false, fmt.Sprintf("metric %s = %v, ready at %v", s.Ready.Metric.Family, v, s.Ready.MetricMin)
	default:
		path := cmp.Or(s.Ready.HTTPPath, s.MetricsPath, "/metrics")
		code, _, err := metrics.Get(ctx, httpc, n.MetricsURL+path)
		if err == nil && code == http.StatusOK {
			return true, ""
		}
		return false, fmt.Sprintf("GET %s: %v (status %d)", path, err, code)
	}
}

// discoverID reads a node's peer ID from its logs or an HTTP endpoint.
func (m *Mesh) discoverID(ctx context.Context, httpc *http.Client, n *Node, s *spec.Spec, re *regexp.Regexp) (string, error) {
	var text string
	switch s.Identity.From {
	case "log":
		logs, err := m.run.Logs(ctx, n.Name, 0)
		if err != nil {
			return "", err
		}
		text = logs
	case "http":
		_, body, err := metrics.Get(ctx, httpc, n.MetricsURL+s.Identity.Path)
		if err != nil {
			return "", err
		}
		text = body
	}
	if sub := re.FindStringSubmatch(text); sub != nil {
		return sub[re.SubexpIndex("id")], nil
	}
	return "", nil
}
