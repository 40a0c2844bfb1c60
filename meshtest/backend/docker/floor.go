package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// Floor creates and starts n containers of image straight through the Docker
// API, with the same parallelism, network kind and security settings as a
// mesh but no testcontainers, no identities and no convergence: the engine's
// own speed, measured in the same run so the ratio is fair. The containers
// run the image idle (no dials). Once all have started they are removed as
// `docker rm -f` would (one forced removal each, same parallelism), and that
// is timed too: the floor of a teardown. Whatever that leaves, and the
// networks, are removed before Floor returns, on every path; opts.ID names
// the run, so a caller interrupted meanwhile can remove it too. With
// opts.Networks above 1 the containers are spread over that many networks
// in blocks, as a mesh that large is.
func (b *Backend) Floor(ctx context.Context, opts backend.RunOptions, image string, n, parallelism int, logf backend.Logf) (times backend.FloorTimes, err error) {
	labels := runLabels(opts.ID, opts.Test)
	netName := networkName(opts.ID)
	defer func() {
		// Bounded, like a mesh's teardown: 2 minutes and a second a
		// container (this engine removed 100 in 7 to 80 s).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute+time.Duration(n)*time.Second)
		defer cancel()
		if rerr := b.RemoveRun(rctx, opts.ID, logf); rerr != nil {
			logf("meshtest: remove floor run %s: %v", opts.ID, rerr)
		}
	}()
	nets := make([]string, max(1, opts.Networks))
	for i := range nets {
		nets[i] = extraNetworkName(netName, i)
		if _, err := b.cli.NetworkCreate(ctx, nets[i], client.NetworkCreateOptions{Driver: "bridge", Internal: true, Labels: labels}); err != nil {
			return times, fmt.Errorf("floor: create network %s: %w", nets[i], err)
		}
	}
	perNet := (n + len(nets) - 1) / len(nets)
	logf("meshtest: measuring the engine floor: %d plain containers through the Docker API", n)
	ids := make([]string, n)
	begin := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i := range n {
		g.Go(func() error {
			res, err := b.cli.ContainerCreate(gctx, client.ContainerCreateOptions{
				Name:   fmt.Sprintf("meshtest-%s-%03d", opts.ID, i),
				Config: &container.Config{Image: image, Labels: labels},
				HostConfig: &container.HostConfig{
					NetworkMode:    container.NetworkMode(nets[i/perNet]),
					CapDrop:        []string{"ALL"},
					SecurityOpt:    []string{"no-new-privileges"},
					ReadonlyRootfs: true,
				},
			})
			if err != nil {
				return fmt.Errorf("floor: create container %d: %w", i, err)
			}
			ids[i] = res.ID
			if _, err := b.cli.ContainerStart(gctx, res.ID, client.ContainerStartOptions{}); err != nil {
				return fmt.Errorf("floor: start container %d: %w", i, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return times, err
	}
	times.Start = time.Since(begin)
	logf("meshtest: engine floor: %d containers in %.1f s", n, times.Start.Seconds())

	begin = time.Now()
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i, id := range ids {
		g.Go(func() error {
			if _, err := b.cli.ContainerRemove(gctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
				return fmt.Errorf("floor: remove container %d: %w", i, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return times, err // the deferred sweep removes the rest
	}
	times.Remove = time.Since(begin)
	logf("meshtest: engine floor: %d containers removed in %.1f s", n, times.Remove.Seconds())
	return times, nil
}
