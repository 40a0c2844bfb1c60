package meshtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// logTail is how many of a node's last log lines go into an error.
const logTail = 20

// nodeLogs returns a container's output, stdout and stderr interleaved
// by time as the engine stores them; tail "all" for everything.
func (e *engine) nodeLogs(ctx context.Context, id, tail string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := e.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.String(), err
	}
	return out.String(), nil
}

// lastLogs formats a node's last log lines for an error message; it never
// fails, because it only decorates another error.
func (m *Mesh) lastLogs(ctx context.Context, n *Node) string {
	if n.Container == "" {
		return ""
	}
	logs, err := m.e.nodeLogs(ctx, n.Container, fmt.Sprint(logTail))
	if err != nil && logs == "" {
		return fmt.Sprintf("\n(no logs of %s: %v)", n.Name, err)
	}
	logs = strings.TrimRight(logs, "\n")
	if logs == "" {
		return fmt.Sprintf("\n(%s wrote no logs)", n.Name)
	}
	return fmt.Sprintf("\nlast %d log lines of %s:\n  %s", logTail, n.Name, strings.ReplaceAll(logs, "\n", "\n  "))
}

// WriteLogs saves every node's full log to dir/logs/<node>.log, going on
// past errors: on a failure, logs are the first thing to keep.
func (m *Mesh) WriteLogs(ctx context.Context, dir string) error {
	dir = filepath.Join(dir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	g := new(errgroup.Group)
	g.SetLimit(8)
	for _, n := range m.Nodes {
		if n == nil || n.Container == "" {
			continue
		}
		g.Go(func() error {
			logs, err := m.e.nodeLogs(ctx, n.Container, "all")
			if err != nil {
				logs += fmt.Sprintf("\n(meshtest: reading logs failed: %v)\n", err)
			}
			return os.WriteFile(filepath.Join(dir, n.Name+".log"), []byte(logs), 0o644)
		})
	}
	return g.Wait()
}
