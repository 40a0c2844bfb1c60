package meshtest

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// measureFloor creates and starts n containers of image straight through the
// Docker API, with the same parallelism, network kind and security settings
// as the mesh but no testcontainers, no identities and no convergence: the
// engine's own speed, measured in the same run so the ratio is fair. The
// containers run the node idle (no dials) and are removed before it returns.
func measureFloor(ctx context.Context, e *engine, image string, n, parallelism int, test string, logf func(string, ...any)) (time.Duration, error) {
	run := "floor-" + randomHex(4)
	labels := runLabels(run, test)
	netName := "meshtest-" + run
	defer func() {
		if err := e.removeRun(context.WithoutCancel(ctx), run, 2*parallelism); err != nil {
			logf("meshtest: remove floor run %s: %v", run, err)
		}
	}()
	if _, err := e.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Internal: true, Labels: labels}); err != nil {
		return 0, fmt.Errorf("floor: create network: %w", err)
	}
	logf("meshtest: measuring the engine floor: %d plain containers through the Docker API", n)
	begin := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i := range n {
		g.Go(func() error {
			res, err := e.ContainerCreate(gctx, client.ContainerCreateOptions{
				Name:   fmt.Sprintf("meshtest-%s-%03d", run, i),
				Config: &container.Config{Image: image, Labels: labels},
				HostConfig: &container.HostConfig{
					NetworkMode:    container.NetworkMode(netName),
					CapDrop:        []string{"ALL"},
					SecurityOpt:    []string{"no-new-privileges"},
					ReadonlyRootfs: true,
				},
			})
			if err != nil {
				return fmt.Errorf("floor: create container %d: %w", i, err)
			}
			if _, err := e.ContainerStart(gctx, res.ID, client.ContainerStartOptions{}); err != nil {
				return fmt.Errorf("floor: start container %d: %w", i, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	d := time.Since(begin)
	logf("meshtest: engine floor: %d containers in %.1f s", n, d.Seconds())
	return d, nil
}
