package meshtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
)

// logTail is how many of a node's last log lines go into an error.
const logTail = 20

// lastLogs formats a node's last log lines for an error message; it never
// fails, because it only decorates another error.
func (m *Mesh) lastLogs(ctx context.Context, n *Node) string {
	if !n.started() || m.run == nil {
		return ""
	}
	logs, err := m.run.Logs(ctx, n.Name, logTail)
	if err != nil && logs == "" {
		return fmt.Sprintf("\n(no logs of %s: %v)", n.Name, err)
	}
	logs = strings.TrimRight(logs, "\n")
	if logs == "" {
		return fmt.Sprintf("\n(%s wrote no logs)", n.Name)
	}
	return fmt.Sprintf("\nlast %d log lines of %s:\n  %s", logTail, n.Name, strings.ReplaceAll(logs, "\n", "\n  "))
}

// WriteLogs saves every node's and service's full log to dir/logs/<name>.log,
// going on past errors: on a failure, logs are the first thing to keep.
func (m *Mesh) WriteLogs(ctx context.Context, dir string) error {
	if m.run == nil {
		return nil
	}
	dir = filepath.Join(dir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var names []string
	for _, n := range m.Nodes {
		if n.started() {
			names = append(names, n.Name)
		}
	}
	for _, s := range m.Services {
		names = append(names, s.Name)
	}
	g := new(errgroup.Group)
	g.SetLimit(8)
	for _, name := range names {
		g.Go(func() error {
			logs, err := m.run.Logs(ctx, name, 0)
			if err != nil {
				logs += fmt.Sprintf("\n(meshtest: reading logs failed: %v)\n", err)
			}
			return os.WriteFile(filepath.Join(dir, name+".log"), []byte(logs), 0o644)
		})
	}
	return g.Wait()
}

// saveLogs writes node logs into the test's artifact directories before the
// mesh is removed; close calls it when the test has failed.
func (m *Mesh) saveLogs(ctx context.Context) {
	if m.run == nil || len(m.logDirs) == 0 {
		return
	}
	for _, dir := range m.logDirs {
		if err := m.WriteLogs(ctx, dir); err != nil {
			m.logf("meshtest: node logs: %v", err)
		}
	}
	var where []string
	for _, dir := range m.logDirs {
		where = append(where, filepath.Join(dir, "logs"))
	}
	m.logf("meshtest: test failed: node logs in %s", joinDirs(where))
}
