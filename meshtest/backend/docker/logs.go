package docker

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// logs returns a container's output, stdout and stderr interleaved by time
// as the engine stores them; tail > 0 keeps the last lines only.
func (b *Backend) logs(ctx context.Context, id string, tail int) (string, error) {
	return containerLogs(ctx, b.cli.Client, id, tail)
}

// containerLogs is logs from the engine cli talks to.
func containerLogs(ctx context.Context, cli *client.Client, id string, tail int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := "all"
	if tail > 0 {
		t = strconv.Itoa(tail)
	}
	rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: t})
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
