package docker

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/meshtest/meshtest/meshtest/backend"
)

// run is one mesh's network and containers.
type run struct {
	b        *Backend
	id       string
	test     string
	network  string   // the first of networks
	networks []string // RunOptions.Networks of them

	mu         sync.Mutex
	containers map[string]string   // unit name -> container ID
	joined     map[string][]string // unit name -> the networks it joined
	parents    map[string]string   // sidecar's unit name -> its parent's (Unit.NetworkOf)
}

var _ backend.Run = (*run)(nil)

// NewRun creates the run's bridge network. It is internal (no route out, so
// a node never dials the outside world; the host still reaches container IPs
// on it) unless ports are published, which Docker does not do from internal
// networks.
//
// With RunOptions.Networks above 1 it creates that many, named
// meshtest-<run>, meshtest-<run>-net2, …: each is its own bridge, and
// Docker keeps bridges apart, so units reach each other across networks
// only through a unit attached to both. A network that fails to be created
// leaves the ones before it, labelled, for RemoveRun.
func (b *Backend) NewRun(ctx context.Context, opts backend.RunOptions) (backend.Run, error) {
	r := &run{b: b, id: opts.ID, test: opts.Test, network: networkName(opts.ID),
		containers: map[string]string{}, parents: map[string]string{}, joined: map[string][]string{}}
	for i := range max(1, opts.Networks) {
		name := extraNetworkName(r.network, i)
		if _, err := b.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver:   "bridge",
			Internal: !b.opts.PublishPorts,
			Labels:   runLabels(opts.ID, opts.Test),
		}); err != nil {
			return nil, fmt.Errorf("create network %s (%d of %d): %w", name, i+1, max(1, opts.Networks), err)
		}
		r.networks = append(r.networks, name)
	}
	return r, nil
}

// extraNetworkName is the name of a run's network i (from 0) after its
// first, which is named first.
func extraNetworkName(first string, i int) string {
	if i == 0 {
		return first
	}
	return fmt.Sprintf("%s-net%d", first, i+1)
}

// unitNetworks are the names of the networks u joins.
func (r *run) unitNetworks(u backend.Unit) ([]string, error) {
	if len(u.Networks) == 0 {
		return []string{r.network}, nil
	}
	var out []string
	for _, i := range u.Networks {
		if i < 0 || i >= len(r.networks) {
			return nil, fmt.Errorf("network %d: the run has %d (RunOptions.Networks)", i, len(r.networks))
		}
		out = append(out, r.networks[i])
	}
	return out, nil
}

func (r *run) ID() string      { return r.id }
func (r *run) Network() string { return r.network }

func (r *run) RemoveCommand() string {
	// xargs -r: with no container left, `docker rm -f` alone would fail and
	// keep the network.
	return fmt.Sprintf("docker ps -aq --filter label=%s=%s | xargs -r docker rm -f; docker network rm %s", LabelRun, r.id, strings.Join(r.networks, " "))
}

// startCallTimeout bounds one container's create and start at the engine:
// seconds normally, so only a hung engine reaches it.
const startCallTimeout = 2 * time.Minute

// Start creates and starts a unit's container with least privilege: every
// capability dropped but those the unit asks for, no-new-privileges, a
// read-only root filesystem unless files must be copied in, and no port
// published unless the backend must. A sidecar (Unit.NetworkOf) runs in
// its parent's network namespace (NetworkMode container:<id>) with no
// network, alias or port of its own.
func (r *run) Start(ctx context.Context, u backend.Unit) (backend.Instance, error) {
	inst := backend.Instance{Name: u.Name, Image: u.Image}
	networks, err := r.unitNetworks(u)
	if err != nil {
		return inst, fmt.Errorf("start %s (%s): %w", u.Name, u.Image, err)
	}
	aliases := map[string][]string{}
	for _, n := range networks {
		aliases[n] = []string{u.Name}
	}
	var mode container.NetworkMode
	if u.NetworkOf != "" {
		parent, err := r.sidecarParent(u)
		if err != nil {
			return inst, fmt.Errorf("start %s (%s): %w", u.Name, u.Image, err)
		}
		networks, aliases, mode = nil, nil, container.NetworkMode("container:"+parent)
	} else {
		mode = container.NetworkMode(networks[0])
	}
	labels := runLabels(r.id, r.test)
	labels[LabelNode] = u.Name
	labels[LabelRole] = u.Role
	labels[LabelGroup] = u.Group
	labels[labelMetricsPort] = strconv.Itoa(u.MetricsPort)
	var files []testcontainers.ContainerFile
	for path, content := range u.Files {
		files = append(files, testcontainers.ContainerFile{Reader: strings.NewReader(content), ContainerFilePath: path, FileMode: 0o644})
	}
	var exposed []string
	if r.b.opts.PublishPorts && u.NetworkOf == "" {
		exposed = []string{fmt.Sprintf("%d/tcp", u.MetricsPort)}
	}
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        u.Image,
			Name:         "meshtest-" + r.id + "-" + u.Name,
			Cmd:          u.Args,
			Env:          u.Env,
			Labels:       labels,
			Files:        files,
			Tmpfs:        u.Tmpfs,
			ExposedPorts: exposed,
			// The networks are joined here, not through the request's
			// Networks: for those, testcontainers inspects each network
			// (verbose, every endpoint listed) before the create, a cost
			// that grows with the mesh. At 1000 nodes on one bridge that
			// made bring-up quadratic; this is a constant cost per node.
			EndpointSettingsModifier: func(eps map[string]*network.EndpointSettings) {
				if len(networks) > 0 {
					eps[networks[0]] = &network.EndpointSettings{Aliases: aliases[networks[0]]}
				}
			},
			LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
				// API 1.41 creates a container on one network; the rest
				// are joined before it starts, so that no node ever runs
				// without all of them.
				PostCreates: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
					for _, n := range networks[min(1, len(networks)):] {
						if _, err := r.b.cli.NetworkConnect(ctx, n, client.NetworkConnectOptions{
							Container:      c.GetContainerID(),
							EndpointConfig: &network.EndpointSettings{Aliases: aliases[n]},
						}); err != nil {
							return fmt.Errorf("join network %s: %w", n, err)
						}
					}
					return nil
				}},
			}},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = mode
				hc.CapDrop = []string{"ALL"}
				hc.CapAdd = u.CapAdd
				hc.SecurityOpt = []string{"no-new-privileges"}
				// Docker cannot copy files into a read-only root filesystem.
				hc.ReadonlyRootfs = len(u.Files) == 0
				hc.Memory = u.MemoryBytes
				hc.NanoCPUs = int64(u.CPUs * 1e9)
				if len(exposed) > 0 {
					// Loopback only, with a port the engine picks: never 0.0.0.0.
					hc.PortBindings = network.PortMap{
						network.MustParsePort(exposed[0]): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
					}
				}
			},
		},
		Started: true,
		// testcontainers logs every container's lifecycle; at 100 nodes that
		// buries the test's own output, so progress is the harness's to print.
		Logger: tclog.NewNoopLogger(),
	}
	if err := ctx.Err(); err != nil {
		return inst, fmt.Errorf("start %s (%s): %w", u.Name, u.Image, context.Cause(ctx))
	}
	// Once begun, the create and start run to the end at the engine even
	// if ctx ends: a call cancelled at the client goes on in the daemon,
	// where its endpoint joins the network while the teardown that follows
	// removes the run's other endpoints. Docker 20.10's libnetwork takes
	// its network and controller locks in opposite orders on those two
	// paths (moby/libnetwork#2649), and this engine was seen to hang its
	// whole network API after such an aborted bring-up. Waiting for the
	// call (seconds) keeps joins and removals apart.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startCallTimeout)
	defer cancel()
	c, err := testcontainers.GenericContainer(cctx, req)
	if c != nil && c.GetContainerID() != "" {
		inst.Handle = c.GetContainerID()
		r.mu.Lock()
		r.containers[u.Name] = inst.Handle
		if u.NetworkOf != "" {
			r.parents[u.Name] = u.NetworkOf
		} else {
			r.joined[u.Name] = networks
		}
		r.mu.Unlock()
	}
	if err != nil {
		return inst, fmt.Errorf("start %s (%s): %w", u.Name, u.Image, err)
	}
	return inst, nil
}

// sidecarParent is the container whose network namespace sidecar u joins:
// its parent's, which must be a unit of this run and no sidecar itself (a
// chain would only hide whose namespace it is).
func (r *run) sidecarParent(u backend.Unit) (string, error) {
	if u.NetworkOf == u.Name {
		return "", fmt.Errorf("NetworkOf names the unit itself")
	}
	id, err := r.container(u.NetworkOf)
	if err != nil {
		return "", fmt.Errorf("NetworkOf: %w (start the parent first)", err)
	}
	if grand := r.parentOf(u.NetworkOf); grand != "" {
		return "", fmt.Errorf("NetworkOf %s is itself a sidecar (of %s): join %s instead", u.NetworkOf, grand, grand)
	}
	return id, nil
}

// parentOf is the unit whose network namespace name shares, "" for a unit
// that is not a sidecar.
func (r *run) parentOf(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parents[name]
}

// forget drops a removed unit from the run, so that its name can be
// started again.
func (r *run) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.containers, name)
	delete(r.parents, name)
	delete(r.joined, name)
}

// networksOf are the networks unit name joined when it started.
func (r *run) networksOf(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.joined[name]; len(n) > 0 {
		return n
	}
	return []string{r.network}
}

func (r *run) container(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.containers[name]
	if !ok {
		return "", fmt.Errorf("no container of %s in run %s", name, r.id)
	}
	return id, nil
}

// Status reads every container of the run with one list call.
func (r *run) Status(ctx context.Context) (map[string]backend.Status, error) {
	list, err := r.b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(r.id)})
	if err != nil {
		return nil, fmt.Errorf("list containers of run %s: %w", r.id, err)
	}
	out := map[string]backend.Status{}
	for _, c := range list.Items {
		name := c.Labels[LabelNode]
		if name == "" {
			continue
		}
		// A paused container has not exited: its processes and connections
		// are all there, frozen.
		st := backend.Status{State: string(c.State), Running: c.State == container.StateRunning || c.State == container.StatePaused}
		if c.NetworkSettings != nil {
			// The first network the unit is on: the harness reaches every
			// network of the run.
			for _, n := range r.networks {
				if ep := c.NetworkSettings.Networks[n]; ep != nil && ep.IPAddress.IsValid() {
					st.IP = ep.IPAddress.String()
					break
				}
			}
		}
		port := metricsPortOf(c.Labels)
		if r.b.opts.PublishPorts {
			for _, p := range c.Ports {
				if p.PublicPort != 0 && p.IP.IsLoopback() && (port == 0 || int(p.PrivatePort) == port) {
					st.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", p.PublicPort)
				}
			}
		} else if st.IP != "" && port != 0 {
			st.MetricsAddr = fmt.Sprintf("%s:%d", st.IP, port)
		}
		out[name] = st
	}
	return out, nil
}

// Logs returns a container's output, stdout and stderr interleaved by time
// as the engine stores them.
func (r *run) Logs(ctx context.Context, name string, tail int) (string, error) {
	id, err := r.container(name)
	if err != nil {
		return "", err
	}
	return r.b.logs(ctx, id, tail)
}

// HostAddr is the gateway of the run's bridge: the host's own address on
// it, which containers reach even on an internal network.
func (r *run) HostAddr(ctx context.Context) (string, error) {
	ins, err := r.b.cli.NetworkInspect(ctx, r.network, client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect network %s: %w", r.network, err)
	}
	for _, c := range ins.Network.IPAM.Config {
		if c.Gateway.IsValid() && c.Gateway.Is4() {
			return c.Gateway.String(), nil
		}
	}
	return "", fmt.Errorf("network %s has no IPv4 gateway", r.network)
}

// CopyFrom streams path out of a unit's container as a tar archive.
func (r *run) CopyFrom(ctx context.Context, name, path string) (io.ReadCloser, error) {
	id, err := r.container(name)
	if err != nil {
		return nil, err
	}
	res, err := r.b.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, fmt.Errorf("copy %s out of %s: %w", path, name, err)
	}
	return res.Content, nil
}

// metricsPortOf reads the metrics port Start put in a container's labels.
func metricsPortOf(labels map[string]string) int {
	p, _ := strconv.Atoi(labels[labelMetricsPort])
	return p
}
