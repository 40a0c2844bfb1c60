package meshtest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/metrics"
)

// assignSpecs creates the nodes, gives each its spec, role and image
// (building images that need it), and assigns identities where specs take them.
func (m *Mesh) assignSpecs(ctx context.Context) error {
	cfg := m.Config
	if m.base == nil {
		m.base = cmp.Or(cfg.Spec, BundledSpec())
	}
	first := len(m.Nodes) // Grow adds nodes to a running mesh
	for i := first; i < m.Graph.N; i++ {
		n := &Node{Index: i, Role: "peer", Name: fmt.Sprintf("peer-%03d", i), spec: m.base}
		if i == 0 {
			n.Role, n.Name = "bootstrap", "bootstrap"
			n.spec = cmp.Or(cfg.BootstrapSpec, m.base)
		}
		m.Nodes = append(m.Nodes, n)
	}
	if first == 0 {
		next := 1
		for _, g := range cfg.Groups {
			for k := 0; k < g.Count && next < len(m.Nodes); k++ {
				m.Nodes[next].spec = g.Spec
				m.Nodes[next].Role = cmp.Or(g.Name, g.Spec.Name)
				next++
			}
		}
	}
	images := map[*Spec]string{}
	for _, n := range m.Nodes[first:] {
		n.Group = n.spec.Name
		img, ok := images[n.spec]
		if !ok {
			var err error
			if img, err = m.specImage(ctx, n.spec); err != nil {
				return err
			}
			images[n.spec] = img
		}
		n.Image = img
	}
	seen := map[string]bool{}
	for _, g := range m.Unverified {
		seen[g] = true
	}
	for _, n := range m.Nodes[first:] {
		if n.spec.Connections == nil && n.spec.PeersPath == "" && !seen[n.Group] {
			seen[n.Group] = true
			m.Unverified = append(m.Unverified, n.Group)
			m.logf("meshtest: spec %q names no connection metric: its nodes' connections are UNVERIFIED (sampling starts once they are ready)", n.Group)
		}
	}
	return m.assignIdentities()
}

// specImage returns the image a spec runs, building it when it says how.
func (m *Mesh) specImage(ctx context.Context, s *Spec) (string, error) {
	img := cmp.Or(m.Config.Image, s.Image)
	switch {
	case img != "":
		if _, err := m.e.ImageInspect(ctx, img); err != nil {
			return "", fmt.Errorf("image %q (spec %q) is not on the Docker engine (%v): no registry is reachable, so build it locally first (`docker build -t %s .`) or give the spec a \"build\"", img, s.Name, err, img)
		}
		return img, nil
	case s.bundled:
		return bundledImage(ctx, m.e, m.logf)
	default:
		return buildSpecImage(ctx, m.e, s, m.logf)
	}
}

// awaitNodes waits until each node in idx (all when nil) is ready and its
// peer ID is known, learning IDs from logs or HTTP where the spec says so.
func (m *Mesh) awaitNodes(ctx context.Context, idx []int) error {
	if idx == nil {
		for i := range m.Nodes {
			idx = append(idx, i)
		}
	}
	deadline := time.Now().Add(m.Config.ConvergeTimeout)
	httpc := &http.Client{Timeout: 2 * time.Second}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(wctx)
	waiting := make(chan struct{})
	defer close(waiting)
	// One list call a second tells whether any node died while waiting: a
	// node that exits is never going to be ready, and its logs say why.
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
		g.Go(func() error { return m.awaitNode(gctx, httpc, n, deadline) })
	}
	err := g.Wait()
	if cause := context.Cause(wctx); cause != nil && cause != context.Canceled && ctx.Err() == nil {
		return cause
	}
	return err
}

func (m *Mesh) awaitNode(ctx context.Context, httpc *http.Client, n *Node, deadline time.Time) error {
	s := n.spec
	var idRe, readyRe *regexp.Regexp
	if s.Identity.From != "assigned" {
		idRe, _ = compileLinePattern(s.Identity.Pattern) // checked by Spec.check
	}
	if s.Ready.LogPattern != "" {
		readyRe, _ = compileLinePattern(s.Ready.LogPattern)
	}
	var why string
	for {
		ready, reason := m.nodeReady(ctx, httpc, n, readyRe)
		if n.ID == "" {
			id, err := m.discoverID(ctx, httpc, n, idRe)
			if err == nil && id != "" {
				n.ID = id
			} else {
				reason = fmt.Sprintf("peer ID not found yet (identity from %s, pattern %q)", s.Identity.From, s.Identity.Pattern)
			}
		}
		if ready && n.ID != "" {
			return nil
		}
		why = reason
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
func (m *Mesh) nodeReady(ctx context.Context, httpc *http.Client, n *Node, logRe *regexp.Regexp) (bool, string) {
	s := n.spec
	switch {
	case logRe != nil:
		logs, err := m.e.nodeLogs(ctx, n.Container, "all")
		if err == nil && logRe.MatchString(logs) {
			return true, ""
		}
		return false, fmt.Sprintf("no log line matches ready pattern %q", s.Ready.LogPattern)
	case s.Ready.Metric != nil:
		// The readiness poll's client, not a fresh transport per poll.
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
		code, _, err := get(ctx, httpc, n.MetricsURL+path)
		if err == nil && code == http.StatusOK {
			return true, ""
		}
		return false, fmt.Sprintf("GET %s: %v (status %d)", path, err, code)
	}
}

// discoverID reads a node's peer ID from its logs or an HTTP endpoint.
func (m *Mesh) discoverID(ctx context.Context, httpc *http.Client, n *Node, re *regexp.Regexp) (string, error) {
	var text string
	switch n.spec.Identity.From {
	case "log":
		logs, err := m.e.nodeLogs(ctx, n.Container, "all")
		if err != nil {
			return "", err
		}
		text = logs
	case "http":
		_, body, err := get(ctx, httpc, n.MetricsURL+n.spec.Identity.Path)
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

func get(ctx context.Context, httpc *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}
