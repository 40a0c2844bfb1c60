package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// stopGrace is backend.StopGrace in the engine's unit, whole seconds.
var stopGrace = int(backend.StopGrace.Seconds())

// Act does a to a unit's container with the engine's own verb: kill, stop
// and restart (SIGTERM, then SIGKILL after backend.StopGrace), start, pause
// and unpause (the cgroup freezer), and a forced network disconnect or a
// connect with the unit's alias. Each call returns once the engine has done
// it; the engine's kill, for one, waits until the container has exited.
func (r *run) Act(ctx context.Context, name string, a backend.Action) error {
	id, err := r.container(name)
	if err != nil {
		return fmt.Errorf("%s %s: %w", a, name, err)
	}
	switch a {
	case backend.Kill:
		_, err = r.b.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
	case backend.Stop:
		_, err = r.b.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &stopGrace})
	case backend.Start:
		_, err = r.b.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	case backend.Restart:
		_, err = r.b.cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &stopGrace})
	case backend.Pause:
		_, err = r.b.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	case backend.Unpause:
		_, err = r.b.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	case backend.Disconnect, backend.Connect:
		if parent := r.parentOf(name); parent != "" {
			return fmt.Errorf("%s %s: a sidecar has no network of its own (it shares %s's; act on %s): %w", a, name, parent, parent, errors.ErrUnsupported)
		}
		for _, net := range r.networksOf(name) {
			if a == backend.Disconnect {
				_, err = r.b.cli.NetworkDisconnect(ctx, net, client.NetworkDisconnectOptions{Container: id, Force: true})
			} else {
				_, err = r.b.cli.NetworkConnect(ctx, net, client.NetworkConnectOptions{
					Container:      id,
					EndpointConfig: &network.EndpointSettings{Aliases: []string{name}},
				})
			}
			if err != nil {
				break
			}
		}
	case backend.Remove:
		if _, err = r.b.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err == nil {
			r.forget(name)
		}
	default:
		return fmt.Errorf("%q %s: not an action the docker backend knows: %w", string(a), name, errors.ErrUnsupported)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", a, name, err)
	}
	return nil
}
