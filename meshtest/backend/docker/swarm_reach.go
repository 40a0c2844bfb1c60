package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/gateway"
)

// How the harness reaches and measures the units of a swarm run. A task's
// address is on the run's overlay, which exists only inside the engines:
// the harness's host has no route to it. Each run therefore gets a gateway
// (meshgate, of meshtest/gateway): a plain container on the manager's
// engine, attached to the overlay (it is attachable for this) and to that
// engine's default bridge, whose CONNECT port is published on the
// manager's address from the engines file, never on 0.0.0.0. The harness
// opens every connection to a unit through it (backend.Dialer), and a
// tunnel needs the run's token and goes only to the overlay's subnet.
// Container figures come from each unit's own engine, by its stats API:
// the engines' cgroups are on other hosts in a real swarm.

// gatewayNode is the gateway's LabelNode: no node is named so, and a death
// of it shows by this name.
const gatewayNode = "meshtest-gateway"

// gatewayPatience bounds the wait for a started gateway to answer.
const gatewayPatience = 20 * time.Second

// startGateway starts the run's gateway on the manager's engine and waits
// until its port answers.
func (r *swarmRun) startGateway(ctx context.Context, logf backend.Logf) error {
	mgr := r.s.manager
	img, err := r.s.local.GatewayImage(ctx, logf)
	if err != nil {
		return fmt.Errorf("gateway of run %s: %w", r.id, err)
	}
	if _, err := mgr.cli.ImageInspect(ctx, img); err != nil {
		if err := copyImage(ctx, r.s.local.cli.Client, mgr.cli, img); err != nil {
			return fmt.Errorf("gateway of run %s: move %s to %s: %w", r.id, img, mgr.Name, err)
		}
	}
	subnet, err := r.subnet(ctx)
	if err != nil {
		return fmt.Errorf("gateway of run %s: %w", r.id, err)
	}
	host, err := netip.ParseAddr(mgr.Addr)
	if err != nil {
		return fmt.Errorf("gateway of run %s: the manager's address %q in the engines file: %w (want an IP the harness reaches)", r.id, mgr.Addr, err)
	}
	token := make([]byte, 16)
	rand.Read(token)
	labels := runLabels(r.id, r.test)
	labels[LabelNode], labels[LabelRole] = gatewayNode, "gateway"
	port := network.MustParsePort(strconv.Itoa(gateway.Port) + "/tcp")
	res, err := mgr.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: r.serviceName("gateway"),
		Config: &container.Config{
			Image:        img,
			Cmd:          []string{"-allow", subnet.String()},
			Env:          []string{"MESHGATE_TOKEN=" + hex.EncodeToString(token)},
			Labels:       labels,
			ExposedPorts: network.PortSet{port: {}},
		},
		HostConfig: &container.HostConfig{
			NetworkMode:    "bridge", // the engine's own: it publishes the port
			PortBindings:   network.PortMap{port: {{HostIP: host}}},
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			ReadonlyRootfs: true,
			Resources:      container.Resources{Memory: 64 << 20},
		},
	})
	if err != nil {
		return fmt.Errorf("gateway of run %s: create on %s: %w", r.id, mgr.Name, err)
	}
	if _, err := mgr.cli.NetworkConnect(ctx, r.networkID, client.NetworkConnectOptions{Container: res.ID}); err != nil {
		return fmt.Errorf("gateway of run %s: join %s: %w", r.id, r.network, err)
	}
	if _, err := mgr.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("gateway of run %s: start on %s: %w", r.id, mgr.Name, err)
	}
	cins, err := mgr.cli.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("gateway of run %s: inspect: %w", r.id, err)
	}
	var addr string
	if cins.Container.NetworkSettings != nil {
		for _, b := range cins.Container.NetworkSettings.Ports[port] {
			addr = net.JoinHostPort(host.String(), b.HostPort)
		}
	}
	if addr == "" {
		return fmt.Errorf("gateway of run %s: %s published no port on %s", r.id, mgr.Name, host)
	}
	var dialErr error
	if err := poll(ctx, gatewayPatience, 100*time.Millisecond, func() (bool, error) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			dialErr = err
			return false, nil
		}
		c.Close()
		return true, nil
	}); err != nil {
		logs, _ := containerLogs(context.WithoutCancel(ctx), mgr.cli, res.ID, 20)
		return fmt.Errorf("gateway of run %s at %s does not answer within %v: %w\n%s", r.id, addr, gatewayPatience, dialErr, logs)
	}
	r.gateway = &gateway.Dialer{Addr: addr, Token: hex.EncodeToString(token)}
	return nil
}

// subnetPatience bounds the wait for the manager to give a new overlay its
// subnet: it allocates after it has answered the create (seen once in
// about twenty runs here: no subnet 20 ms after the create).
const subnetPatience = 10 * time.Second

// subnet is the run's overlay's subnet, once the manager has allocated it.
func (r *swarmRun) subnet(ctx context.Context) (netip.Prefix, error) {
	var subnet netip.Prefix
	err := poll(ctx, subnetPatience, 100*time.Millisecond, func() (bool, error) {
		ins, err := r.s.manager.cli.NetworkInspect(ctx, r.networkID, client.NetworkInspectOptions{})
		if err != nil {
			return false, fmt.Errorf("inspect network %s: %w", r.network, err)
		}
		for _, c := range ins.Network.IPAM.Config {
			if c.Subnet.IsValid() {
				subnet = c.Subnet
				return true, nil
			}
		}
		return false, nil
	})
	if errors.Is(err, errPatience) {
		err = fmt.Errorf("network %s has no subnet %v after its creation", r.network, subnetPatience)
	}
	return subnet, err
}

// DialContext opens a connection to addr on the run's overlay through the
// run's gateway.
func (r *swarmRun) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return r.gateway.DialContext(ctx, network, addr)
}

// Cost reads each unit's figures from its own engine's stats API.
func (r *swarmRun) Cost(ctx context.Context, names []string) (backend.CostReader, error) {
	tasks, err := r.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	units := map[string]statsUnit{}
	for _, name := range names {
		t, ok := tasks[name]
		e := r.s.engine(t.Engine)
		if !ok || e == nil || t.Container == "" {
			return nil, fmt.Errorf("cost of %s: no task container of run %s (task %q)", name, r.id, t.Task)
		}
		units[name] = statsUnit{cli: e.cli, id: t.Container}
	}
	return openStatsStreams(units, "docker-stats-api of each unit's engine (swarm: the engines' cgroups are not the harness's to read)"), nil
}

// HostAddr is unsupported: the overlay has no route to the harness's host,
// so a listener of the harness (Prometheus's exporter) is out of the
// units' reach.
func (r *swarmRun) HostAddr(context.Context) (string, error) {
	return "", fmt.Errorf("swarm run %s: the overlay has no route to the harness's host: %w", r.id, errors.ErrUnsupported)
}

// CopyFrom streams a path out of the unit's task container, from its
// engine.
func (r *swarmRun) CopyFrom(ctx context.Context, name, path string) (io.ReadCloser, error) {
	t, e, err := r.task(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("copy %s out of %s: %w", path, name, err)
	}
	res, err := e.cli.CopyFromContainer(ctx, t.Container, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, fmt.Errorf("copy %s out of %s on %s: %w", path, name, e.Name, err)
	}
	return res.Content, nil
}

// task is the unit's latest task and its engine.
func (r *swarmRun) task(ctx context.Context, name string) (SwarmStatus, *swarmEngine, error) {
	tasks, err := r.Tasks(ctx)
	if err != nil {
		return SwarmStatus{}, nil, err
	}
	t, ok := tasks[name]
	e := r.s.engine(t.Engine)
	if !ok || e == nil || t.Container == "" {
		return t, nil, fmt.Errorf("no task container of %s in run %s (task %q)", name, r.id, t.Task)
	}
	return t, e, nil
}
