package docker

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/gateway"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// Swarm runs units as services of a Docker Swarm: one service per unit,
// replicas 1, on an attachable overlay network, placed by the swarm across
// its engines. Images are built on the harness's own engine (the local
// Backend) and moved to every engine by save and load, since a swarm's
// engines share no image store and no registry is assumed. The harness
// reaches the units through a gateway on the overlay (swarm_reach.go) and
// reads their cost from their own engines. Sidecars (the shaper), several
// networks per run, HostAddr, and Act's Disconnect and Connect are not
// built: errors.ErrUnsupported; doc.go's Swarm section says how they map.
//
// The engines are read from a file of one line per engine, "name socket
// address role", as scripts/swarm.sh writes it: the harness reaches every
// engine's API, the manager's for the swarm and each engine's own for its
// containers.
type Swarm struct {
	local     *Backend // builds images
	ownsLocal bool     // OpenSwarm made local: Close closes it
	engines   []*swarmEngine
	manager   *swarmEngine
	byNode    map[string]*swarmEngine // swarm node ID -> its engine

	mu  sync.Mutex
	ids map[string]string // image as named -> its ID, on every engine after Distribute

	infoOnce sync.Once
	info     backend.Info
}

// SwarmEngine is one engine of a swarm as the engines file names it.
type SwarmEngine struct {
	Name    string // "e1"
	Socket  string // its API: a unix socket path, or a URL (tcp://host:2376)
	Addr    string // its address in the swarm
	Manager bool
}

type swarmEngine struct {
	SwarmEngine
	cli    *client.Client
	nodeID string
}

// ReadSwarmEngines reads an engines file. Errors name the file and line.
func ReadSwarmEngines(path string) ([]SwarmEngine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("swarm engines: %w (scripts/swarm.sh up writes the file)", err)
	}
	defer f.Close()
	var out []SwarmEngine
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 4 || (fields[3] != "manager" && fields[3] != "worker") {
			return nil, fmt.Errorf("swarm engines %s:%d: %q: want \"name socket address manager|worker\"", path, line, sc.Text())
		}
		if _, err := netip.ParseAddr(fields[2]); err != nil {
			// The gateway's port is published on the manager's address.
			return nil, fmt.Errorf("swarm engines %s:%d: address %q: want the engine's IP address as the harness reaches it", path, line, fields[2])
		}
		out = append(out, SwarmEngine{Name: fields[0], Socket: fields[1], Addr: fields[2], Manager: fields[3] == "manager"})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("swarm engines %s: %w", path, err)
	}
	if !slices.ContainsFunc(out, func(e SwarmEngine) bool { return e.Manager }) {
		return nil, fmt.Errorf("swarm engines %s: no manager among %d engines", path, len(out))
	}
	return out, nil
}

// NewSwarm connects to every engine of the swarm and checks that each is
// in it; local builds the images.
func NewSwarm(ctx context.Context, local *Backend, engines []SwarmEngine) (*Swarm, error) {
	s := &Swarm{local: local, byNode: map[string]*swarmEngine{}, ids: map[string]string{}}
	for _, e := range engines {
		host := dockerHost(e.Socket)
		cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("swarm engine %s (%s): %w", e.Name, host, err)
		}
		se := &swarmEngine{SwarmEngine: e, cli: cli}
		s.engines = append(s.engines, se)
		info, err := cli.Info(ctx, client.InfoOptions{})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("swarm engine %s (%s) does not answer: %w (is the swarm up? scripts/swarm.sh status)", e.Name, host, err)
		}
		if info.Info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
			s.Close()
			return nil, fmt.Errorf("swarm engine %s (%s) is not in a swarm (state %q)", e.Name, host, info.Info.Swarm.LocalNodeState)
		}
		if e.Manager && !info.Info.Swarm.ControlAvailable {
			s.Close()
			return nil, fmt.Errorf("swarm engine %s (%s) is named a manager but is not one", e.Name, host)
		}
		se.nodeID = info.Info.Swarm.NodeID
		s.byNode[se.nodeID] = se
		if e.Manager && s.manager == nil {
			s.manager = se
		}
	}
	return s, nil
}

// dockerHost is an engines file's socket as DOCKER_HOST words it.
func dockerHost(socket string) string {
	if strings.HasPrefix(socket, "/") {
		return "unix://" + socket
	}
	return socket
}

// OpenSwarm connects to the swarm the engines file at path names, with a
// Backend of its own for the harness's engine (found as New finds it),
// which Close closes too.
func OpenSwarm(ctx context.Context, path string) (*Swarm, error) {
	engines, err := ReadSwarmEngines(path)
	if err != nil {
		return nil, err
	}
	local, err := New(ctx, Options{})
	if err != nil {
		return nil, err
	}
	s, err := NewSwarm(ctx, local, engines)
	if err != nil {
		local.Close()
		return nil, err
	}
	s.ownsLocal = true
	return s, nil
}

// Close closes the engines' clients, and the local Backend if OpenSwarm
// made it; NewSwarm's local is the caller's.
func (s *Swarm) Close() error {
	var errs []error
	if s.ownsLocal {
		errs = append(errs, s.local.Close())
	}
	for _, e := range s.engines {
		errs = append(errs, e.cli.Close())
	}
	return errors.Join(errs...)
}

// Name names the backend in logs and summaries.
func (s *Swarm) Name() string { return "swarm" }

var _ backend.Backend = (*Swarm)(nil)
var _ backend.Dialer = (*swarmRun)(nil)

// Info describes the manager's engine and names every engine.
func (s *Swarm) Info(ctx context.Context) backend.Info {
	s.infoOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		s.info = engineInfo(ctx, s.manager.cli)
		s.info.Backend, s.info.Engines = "swarm", s.Engines()
		for _, e := range s.engines {
			if c, err := engineClock(ctx, e); err == nil {
				s.info.Clocks = append(s.info.Clocks, c)
			}
		}
	})
	return s.info
}

// engineClock measures e's clock against the harness's: the best of three
// info calls, by round trip.
func engineClock(ctx context.Context, e *swarmEngine) (backend.EngineClock, error) {
	best := backend.EngineClock{Engine: e.Name, UncertaintyMs: math.Inf(1)}
	for range 3 {
		before := time.Now()
		info, err := e.cli.Info(ctx, client.InfoOptions{})
		after := time.Now()
		if err != nil {
			return best, err
		}
		at, err := time.Parse(time.RFC3339Nano, info.Info.SystemTime)
		if err != nil {
			return best, fmt.Errorf("engine %s: system time %q: %w", e.Name, info.Info.SystemTime, err)
		}
		half := after.Sub(before) / 2
		if ms := float64(half) / 1e6; ms < best.UncertaintyMs {
			best.UncertaintyMs = ms
			best.OffsetMs = float64(at.Sub(before.Add(half))) / 1e6
		}
	}
	return best, nil
}

// HelperImage is unsupported: the helper runs as a sidecar in its node's
// network namespace, and a swarm service cannot join another's.
func (s *Swarm) HelperImage(context.Context, backend.Logf) (string, error) {
	return "", fmt.Errorf("the network helper (link conditions) on a swarm: a service cannot join another's network namespace: %w", errors.ErrUnsupported)
}

// Engines names the swarm's engines.
func (s *Swarm) Engines() []string {
	var out []string
	for _, e := range s.engines {
		out = append(out, e.Name)
	}
	return out
}

// Image builds or checks s's image on the harness's engine, as the Docker
// backend does, and moves it to every engine of the swarm that lacks it.
func (s *Swarm) Image(ctx context.Context, sp *spec.Spec, override string, logf backend.Logf) (string, error) {
	img, err := s.local.Image(ctx, sp, override, logf)
	if err != nil {
		return "", err
	}
	return img, s.Distribute(ctx, img, logf)
}

// Distribute copies image from the harness's engine to every engine of the
// swarm that does not hold it, by save and load (0.8 s for the node image
// here). An engine that holds an image of that name holds that content:
// meshtest's tags are content hashes.
func (s *Swarm) Distribute(ctx context.Context, image string, logf backend.Logf) error {
	local, err := s.local.cli.ImageInspect(ctx, image)
	if err != nil {
		return fmt.Errorf("move image %s to the swarm: the harness's engine does not hold it: %w", image, err)
	}
	s.mu.Lock()
	s.ids[image] = local.ID
	s.mu.Unlock()
	for _, e := range s.engines {
		if _, err := e.cli.ImageInspect(ctx, image); err == nil {
			continue
		}
		begin := time.Now()
		if err := copyImage(ctx, s.local.cli.Client, e.cli, image); err != nil {
			return fmt.Errorf("move image %s to swarm engine %s: %w", image, e.Name, err)
		}
		logf("meshtest: image %s moved to swarm engine %s in %.1f s", image, e.Name, time.Since(begin).Seconds())
	}
	return nil
}

// copyImage streams image out of from and into to.
func copyImage(ctx context.Context, from, to *client.Client, image string) error {
	saved, err := from.ImageSave(ctx, []string{image})
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer saved.Close()
	loaded, err := to.ImageLoad(ctx, saved, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer loaded.Close()
	if _, err := io.Copy(io.Discard, loaded); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if _, err := to.ImageInspect(ctx, image); err != nil {
		return fmt.Errorf("load: the engine does not hold it after the load: %w", err)
	}
	return nil
}

// taskImage is what a service names as its image: the ID that Distribute
// found, where it ran. An engine pulls a service's image by name before it
// starts each task, and falls back to its own copy only once the pull has
// failed (measured here, with no registry reachable: 31.5 s for six tasks
// to run); an image named by its ID is never pulled. After save and load the
// ID is the same on every engine: it is the digest of the image's config.
func (s *Swarm) taskImage(image string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.ids[image]; ok {
		return id
	}
	return image
}

// swarmRun is one mesh on the swarm: its overlay network and services.
type swarmRun struct {
	s         *Swarm
	id, test  string
	network   string // its name
	networkID string
	gateway   *gateway.Dialer
}

// NewRun creates the run's overlay network, internal (no route out) and
// attachable, and the run's gateway on it (swarm_reach.go). One network
// only: an overlay's subnet is a /24 by default, so more than ~250 units
// would need a larger subnet asked for here, which is not done yet.
func (s *Swarm) NewRun(ctx context.Context, opts backend.RunOptions) (backend.Run, error) {
	if opts.Networks > 1 {
		return nil, fmt.Errorf("swarm run %s: %d networks asked for: the swarm backend runs a mesh on one overlay network: %w", opts.ID, opts.Networks, errors.ErrUnsupported)
	}
	r := &swarmRun{s: s, id: opts.ID, test: opts.Test, network: networkName(opts.ID)}
	res, err := s.manager.cli.NetworkCreate(ctx, r.network, client.NetworkCreateOptions{
		Driver:     "overlay",
		Scope:      "swarm",
		Internal:   true,
		Attachable: true,
		Labels:     runLabels(opts.ID, opts.Test),
	})
	if err != nil {
		return nil, fmt.Errorf("create overlay network %s: %w", r.network, err)
	}
	r.networkID = res.ID
	if err := r.startGateway(ctx, func(string, ...any) {}); err != nil {
		return nil, err // RemoveRun removes the network and what of the gateway exists
	}
	return r, nil
}

func (r *swarmRun) ID() string      { return r.id }
func (r *swarmRun) Network() string { return r.network }

// serviceName is unit's service: also its container's name prefix.
func (r *swarmRun) serviceName(unit string) string { return "meshtest-" + r.id + "-" + unit }

// Start creates the unit's service, with the same least privilege as the
// Docker backend's containers (every capability dropped but the unit's, a
// read-only root filesystem), restart condition none so that an exit stays
// an exit, and DNS round robin: the VIP mode needs IPVS. Unit.Files become
// swarm configs, labelled with the run. It returns once the unit's task
// runs, as the Docker backend's Start returns once its container does.
func (r *swarmRun) Start(ctx context.Context, u backend.Unit) (backend.Instance, error) {
	inst := backend.Instance{Name: u.Name, Image: u.Image}
	if u.NetworkOf != "" {
		return inst, fmt.Errorf("start %s: a sidecar (Unit.NetworkOf %s) on a swarm: %w", u.Name, u.NetworkOf, errors.ErrUnsupported)
	}
	if len(u.Networks) > 1 || (len(u.Networks) == 1 && u.Networks[0] != 0) {
		return inst, fmt.Errorf("start %s: networks %v: the swarm run has one: %w", u.Name, u.Networks, errors.ErrUnsupported)
	}
	labels := runLabels(r.id, r.test)
	labels[LabelNode] = u.Name
	labels[LabelRole] = u.Role
	labels[LabelGroup] = u.Group
	labels[labelMetricsPort] = strconv.Itoa(u.MetricsPort)

	var configs []*swarm.ConfigReference
	for path, content := range u.Files {
		name := fmt.Sprintf("meshtest-%s-%s-%d", r.id, u.Name, len(configs))
		res, err := r.s.manager.cli.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: name, Labels: labels},
			Data:        []byte(content),
		}})
		if err != nil {
			return inst, fmt.Errorf("start %s: config for %s: %w", u.Name, path, err)
		}
		configs = append(configs, &swarm.ConfigReference{ConfigID: res.ID, ConfigName: name,
			File: &swarm.ConfigReferenceFileTarget{Name: path, UID: "0", GID: "0", Mode: 0o444}})
	}
	var mounts []mount.Mount
	for path, opts := range u.Tmpfs {
		m := mount.Mount{Type: mount.TypeTmpfs, Target: path}
		if size, ok := tmpfsSize(opts); ok {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: size}
		}
		mounts = append(mounts, m)
	}
	env := make([]string, 0, len(u.Env))
	for k, v := range u.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: r.serviceName(u.Name), Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:          r.s.taskImage(u.Image),
				Labels:         labels,
				Args:           u.Args,
				Env:            env,
				Hostname:       u.Name,
				ReadOnly:       true, // configs are mounted, not copied: the root can stay read-only
				Mounts:         mounts,
				Configs:        configs,
				CapabilityDrop: []string{"ALL"},
				CapabilityAdd:  u.CapAdd,
				StopGracePeriod: func() *time.Duration {
					d := backend.StopGrace
					return &d
				}(),
			},
			Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{
				MemoryBytes: u.MemoryBytes,
				NanoCPUs:    int64(u.CPUs * 1e9),
			}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: r.networkID, Aliases: []string{u.Name}}},
		},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	res, err := r.s.manager.cli.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	if err != nil {
		return inst, fmt.Errorf("start %s (%s): create service: %w", u.Name, u.Image, err)
	}
	inst.Handle = res.ID
	return inst, r.awaitTask(ctx, u.Name, res.ID, "")
}

// taskPatience bounds the wait for a service's task to run: the swarm
// places it at once and its engine starts it in a second or two here, but
// a loaded engine can take much longer.
const taskPatience = 2 * time.Minute

// awaitTask waits until the service's newest task, other than old, runs,
// and fails with the task's own error when the swarm gives up on it (an
// image an engine lacks, a limit no engine can meet).
func (r *swarmRun) awaitTask(ctx context.Context, unit, service, old string) error {
	filter := make(client.Filters).Add("service", service)
	last := "pending"
	err := poll(ctx, taskPatience, 200*time.Millisecond, func() (bool, error) {
		tasks, err := r.s.manager.cli.TaskList(ctx, client.TaskListOptions{Filters: filter})
		if err != nil {
			return false, fmt.Errorf("list its tasks: %w", err)
		}
		var newest *swarm.Task
		for i, t := range tasks.Items {
			if newest == nil || t.Meta.CreatedAt.After(newest.Meta.CreatedAt) {
				newest = &tasks.Items[i]
			}
		}
		if newest == nil || newest.ID == old {
			return false, nil
		}
		switch t := newest; t.Status.State {
		case swarm.TaskStateRunning:
			return true, nil
		case swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateOrphaned:
			return false, fmt.Errorf("its task is %s: %s", t.Status.State, cmp.Or(t.Status.Err, t.Status.Message))
		default:
			last = string(t.Status.State) + " (" + t.Status.Message + ")"
			return false, nil
		}
	})
	if errors.Is(err, errPatience) {
		err = fmt.Errorf("its task is not running within %v: %s", taskPatience, last)
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", unit, err)
	}
	return nil
}

// errPatience is poll's error when its patience runs out.
var errPatience = errors.New("patience ran out")

// poll calls done every interval until it reports true or an error, ctx
// ends (context.Cause), or patience passes (errPatience): for the swarm's
// state that no call waits for (a task placed, a subnet allocated, a
// death seen by the manager).
func poll(ctx context.Context, patience, every time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(patience)
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errPatience
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(every):
		}
	}
}

// tmpfsSize reads size=N from tmpfs options, as the Docker backend passes
// them ("rw,size=64m").
func tmpfsSize(opts string) (int64, bool) {
	for _, o := range strings.Split(opts, ",") {
		v, ok := strings.CutPrefix(o, "size=")
		if !ok {
			continue
		}
		mult := int64(1)
		switch {
		case strings.HasSuffix(v, "k"):
			mult, v = 1<<10, strings.TrimSuffix(v, "k")
		case strings.HasSuffix(v, "m"):
			mult, v = 1<<20, strings.TrimSuffix(v, "m")
		case strings.HasSuffix(v, "g"):
			mult, v = 1<<30, strings.TrimSuffix(v, "g")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n > 0 {
			return n * mult, true
		}
	}
	return 0, false
}

// SwarmStatus is a unit's state on the swarm: Status, its engine, and its
// task's container there.
type SwarmStatus struct {
	backend.Status
	Engine    string // the engine that runs its task ("e2"); "" before one is assigned
	Container string // the task's container ID on that engine
	Task      string // the task's state as the swarm words it ("running", "failed", …)
	TaskID    string // the latest task's ID
}

// Status reports every unit of the run by its latest task, with two calls
// to the manager, and names its engine. MetricsAddr is the task's overlay
// address, which the harness reaches through DialContext.
func (r *swarmRun) Status(ctx context.Context) (map[string]backend.Status, error) {
	tasks, err := r.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]backend.Status, len(tasks))
	for unit, t := range tasks {
		st := t.Status
		st.Engine = t.Engine
		out[unit] = st
	}
	return out, nil
}

// Tasks is Status with each unit's task: its container there, and the
// task's state in the swarm's words.
func (r *swarmRun) Tasks(ctx context.Context) (map[string]SwarmStatus, error) {
	mgr := r.s.manager.cli
	svcs, err := mgr.ServiceList(ctx, client.ServiceListOptions{Filters: runFilter(r.id)})
	if err != nil {
		return nil, fmt.Errorf("status of run %s: list services: %w", r.id, err)
	}
	out := map[string]SwarmStatus{}
	if len(svcs.Items) == 0 {
		return out, nil
	}
	unitOf := map[string]string{} // service ID -> unit
	port := map[string]string{}   // unit -> metrics port
	filter := make(client.Filters)
	for _, svc := range svcs.Items {
		unit := svc.Spec.Labels[LabelNode]
		unitOf[svc.ID], port[unit] = unit, svc.Spec.Labels[labelMetricsPort]
		filter.Add("service", svc.ID)
		out[unit] = SwarmStatus{Task: "pending"}
	}
	tasks, err := mgr.TaskList(ctx, client.TaskListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("status of run %s: list tasks: %w", r.id, err)
	}
	latest := map[string]swarm.Task{}
	for _, t := range tasks.Items {
		unit, ok := unitOf[t.ServiceID]
		if !ok {
			continue
		}
		if cur, seen := latest[unit]; !seen || t.Meta.CreatedAt.After(cur.Meta.CreatedAt) {
			latest[unit] = t
		}
	}
	for unit, t := range latest {
		st := SwarmStatus{Task: string(t.Status.State), TaskID: t.ID}
		st.State = string(t.Status.State)
		st.Running = t.Status.State == swarm.TaskStateRunning
		if e := r.s.byNode[t.NodeID]; e != nil {
			st.Engine = e.Name
		}
		if t.Status.ContainerStatus != nil {
			st.Container = t.Status.ContainerStatus.ContainerID
		}
		if st.Running {
			for _, na := range t.NetworksAttachments {
				if na.Network.ID == r.networkID && len(na.Addresses) > 0 {
					st.IP = na.Addresses[0].Addr().String()
				}
			}
			if st.IP != "" {
				st.MetricsAddr = st.IP + ":" + port[unit]
			}
		}
		out[unit] = st
	}
	return out, nil
}

// Logs returns the unit's output from its task's container on that
// container's own engine.
func (r *swarmRun) Logs(ctx context.Context, name string, tail int) (string, error) {
	t, e, err := r.task(ctx, name)
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", name, err)
	}
	return containerLogs(ctx, e.cli, t.Container, tail)
}

func (s *Swarm) engine(name string) *swarmEngine {
	for _, e := range s.engines {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// RemoveCommand is the shell command that removes the run by hand, on the
// manager.
func (r *swarmRun) RemoveCommand() string {
	return fmt.Sprintf("docker -H %s rm -f %s; docker -H %[1]s service ls -q --filter label=%s=%s | xargs -r docker -H %[1]s service rm; "+
		"docker -H %[1]s config ls -q --filter label=%[3]s=%[4]s | xargs -r docker -H %[1]s config rm; docker -H %[1]s network rm %[5]s",
		dockerHost(r.s.manager.Socket), r.serviceName("gateway"), LabelRun, r.id, r.network)
}

// swarmTaskLabel marks the containers an engine runs for swarm tasks.
const swarmTaskLabel = "com.docker.swarm.task.id"

// swarmRemovePatience bounds how long RemoveRun waits for the engines to
// remove a run's task containers after its services are gone: the manager
// answers a service's removal at once and each engine stops and removes
// its tasks afterwards (StopGrace at most, then the removal).
const swarmRemovePatience = time.Minute

// RemoveRun removes the run's services, waits until no engine holds a
// container of it, then removes its configs and its network. It keeps going
// past errors and returns them all.
func (s *Swarm) RemoveRun(ctx context.Context, id string, logf backend.Logf) error {
	mgr := s.manager.cli
	var errs []error
	svcs, err := mgr.ServiceList(ctx, client.ServiceListOptions{Filters: runFilter(id)})
	if err != nil {
		errs = append(errs, fmt.Errorf("remove run %s: list services: %w", id, err))
	}
	for _, svc := range svcs.Items {
		if _, err := mgr.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove service %s: %w", svc.Spec.Name, err))
		}
	}
	// The gateway is no task, nor is anything else the swarm did not
	// start: nothing but this removes them.
	if left, err := s.containers(ctx, runFilter(id), "run "+id); err == nil {
		for _, c := range left {
			if c.labels[swarmTaskLabel] == "" {
				if _, err := c.engine.cli.ContainerRemove(context.WithoutCancel(ctx), c.id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("remove container %s on %s: %w", c.name, c.engine.Name, err))
				}
			}
		}
	}
	deadline := time.Now().Add(swarmRemovePatience)
	for {
		left, err := s.containers(ctx, runFilter(id), "run "+id)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			// What the swarm did not remove in time: remove it directly.
			for _, c := range left {
				if _, err := c.engine.cli.ContainerRemove(context.WithoutCancel(ctx), c.id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("remove container %s on %s: %w", c.name, c.engine.Name, err))
				}
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cfgs, err := mgr.ConfigList(ctx, client.ConfigListOptions{Filters: runFilter(id)})
	if err != nil {
		errs = append(errs, fmt.Errorf("remove run %s: list configs: %w", id, err))
	}
	for _, c := range cfgs.Items {
		if _, err := mgr.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove config %s: %w", c.Spec.Name, err))
		}
	}
	nets, err := mgr.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(id)})
	if err != nil {
		errs = append(errs, fmt.Errorf("remove run %s: list networks: %w", id, err))
	}
	for _, n := range nets.Items {
		// The manager refuses while an engine still tears down the
		// network's last endpoints: a few seconds after the tasks are gone.
		var err error
		for try := 0; try < 50; try++ {
			if _, err = mgr.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err == nil || cerrdefs.IsNotFound(err) {
				err = nil
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// swarmContainer is a container of a run on one engine.
type swarmContainer struct {
	engine   *swarmEngine
	id, name string
	labels   map[string]string
}

// containers lists what filter matches on every engine; of names it in
// errors ("run swarm-1a2b").
func (s *Swarm) containers(ctx context.Context, filter client.Filters, of string) ([]swarmContainer, error) {
	var out []swarmContainer
	for _, e := range s.engines {
		cs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
		if err != nil {
			return nil, fmt.Errorf("list containers of %s on %s: %w", of, e.Name, err)
		}
		for _, c := range cs.Items {
			out = append(out, swarmContainer{engine: e, id: c.ID, name: strings.TrimPrefix(strings.Join(c.Names, ","), "/"), labels: c.Labels})
		}
	}
	return out, nil
}

// Leftovers lists what of run id the swarm still holds: services, configs
// and networks on the manager, containers and networks on every engine.
func (s *Swarm) Leftovers(ctx context.Context, id string) ([]string, error) {
	return s.labelled(ctx, runFilter(id), "run "+id)
}

// ByTest lists what the swarm holds of any run of the named test, as
// Backend.ByTest does on one engine: for a test that cannot know its run
// (a process stopped before New returned).
func (s *Swarm) ByTest(ctx context.Context, test string) ([]string, error) {
	return s.labelled(ctx, make(client.Filters).Add("label", LabelTest+"="+test), "test "+test)
}

// labelled lists what matches filter on the swarm; of names it in errors.
func (s *Swarm) labelled(ctx context.Context, filter client.Filters, of string) ([]string, error) {
	mgr := s.manager.cli
	var out []string
	svcs, err := mgr.ServiceList(ctx, client.ServiceListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list services of %s: %w", of, err)
	}
	for _, svc := range svcs.Items {
		out = append(out, "service "+svc.Spec.Name)
	}
	cfgs, err := mgr.ConfigList(ctx, client.ConfigListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list configs of %s: %w", of, err)
	}
	for _, c := range cfgs.Items {
		out = append(out, "config "+c.Spec.Name)
	}
	cs, err := s.containers(ctx, filter, of)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out = append(out, "container "+c.name+" on "+c.engine.Name)
	}
	for _, e := range s.engines {
		// An overlay shows on a worker only while it has a task on it; the
		// manager lists it until it is removed.
		nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			return nil, fmt.Errorf("list networks of %s on %s: %w", of, e.Name, err)
		}
		for _, n := range nets.Items {
			out = append(out, "network "+n.Name+" on "+e.Name)
		}
	}
	return out, nil
}

// RemoveAbandoned removes the runs on the swarm whose meshtest process, on
// this host, no longer exists, found by the labels of their services,
// configs and networks on the manager and their containers on every engine
// (as the Docker backend's sweep finds them by its containers and
// networks).
func (s *Swarm) RemoveAbandoned(ctx context.Context, logf backend.Logf) {
	mgr := s.manager.cli
	all := make(client.Filters).Add("label", LabelRun)
	dead := map[string]bool{}
	consider := func(labels map[string]string) {
		if run, ok := abandonedRun(labels); ok {
			dead[run] = true
		}
	}
	svcs, err := mgr.ServiceList(ctx, client.ServiceListOptions{Filters: all})
	if err != nil {
		logf("meshtest: swarm sweep: list services: %v (what killed runs left is not removed this time)", err)
		return
	}
	for _, svc := range svcs.Items {
		consider(svc.Spec.Labels)
	}
	cfgs, err := mgr.ConfigList(ctx, client.ConfigListOptions{Filters: all})
	if err != nil {
		logf("meshtest: swarm sweep: list configs: %v (what killed runs left is not removed this time)", err)
		return
	}
	for _, c := range cfgs.Items {
		consider(c.Spec.Labels)
	}
	nets, err := mgr.NetworkList(ctx, client.NetworkListOptions{Filters: all})
	if err != nil {
		logf("meshtest: swarm sweep: list networks: %v (what killed runs left is not removed this time)", err)
		return
	}
	for _, n := range nets.Items {
		consider(n.Labels)
	}
	// A gateway or a task container can outlive everything the manager
	// lists (a process killed in the middle of RemoveRun).
	cs, err := s.containers(ctx, all, "any run")
	if err != nil {
		logf("meshtest: swarm sweep: %v (what killed runs left is not removed this time)", err)
		return
	}
	for _, c := range cs {
		consider(c.labels)
	}
	for run := range dead {
		logf("meshtest: removing swarm run %s left by a process that no longer exists", run)
		if err := s.RemoveRun(ctx, run, logf); err != nil {
			logf("meshtest: swarm sweep of run %s: %v", run, err)
		}
	}
}

// Exits follows the die and oom events of the run's task containers on
// every engine, each stream read as the Docker backend reads its one
// (replayed from the moment of the call, queued, a late oom awaited), and
// merged into one channel. A stream that fails ends the channel with an
// Exit that names its engine; the others are then no longer watched.
func (r *swarmRun) Exits(ctx context.Context) (<-chan backend.Exit, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("exits of run %s: %w", r.id, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	since := time.Now()
	filters := runFilter(r.id).Add("type", string(events.ContainerEventType)).
		Add("event", string(events.ActionDie), string(events.ActionOOM))
	merged := make(chan backend.Exit)
	var wg sync.WaitGroup
	for _, e := range r.s.engines {
		res := e.cli.Events(ctx, client.EventsListOptions{Since: eventsSince(since), Filters: filters})
		one := make(chan backend.Exit)
		go (&run{id: r.id + " on " + e.Name}).followExits(ctx, res, one, oomGrace)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := range one {
				select {
				case merged <- x:
				case <-ctx.Done():
					return
				}
				if x.Err != nil {
					cancel() // the channel ends with this error
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		close(merged)
	}()
	return merged, nil
}

// Act does a to the unit's task container on its own engine, where the
// engine owns the verb and swarm does not see it: kill, stop (SIGTERM, then
// SIGKILL after backend.StopGrace), pause and unpause. With restart
// condition none, a killed or stopped task stays down. Start and Restart
// go through the manager, a forced update of the unit's service: the swarm
// stops the old task (a death, as on Docker) and runs a new one, a new
// container with the same configs and so the same identity, with a new
// overlay address, on whichever engine the swarm picks; Act returns once
// it runs. Remove removes the unit's service, waits until its task
// containers are gone, and removes its configs. Disconnect and Connect:
// errors.ErrUnsupported.
func (r *swarmRun) Act(ctx context.Context, name string, a backend.Action) error {
	switch a {
	case backend.Kill, backend.Stop, backend.Pause, backend.Unpause:
	case backend.Start, backend.Restart:
		return r.replaceTask(ctx, name, a)
	case backend.Remove:
		return r.removeUnit(ctx, name)
	default:
		return fmt.Errorf("%s %s: not on the swarm backend: %w", a, name, errors.ErrUnsupported)
	}
	st, e, err := r.task(ctx, name)
	if err != nil {
		return fmt.Errorf("%s %s: %w", a, name, err)
	}
	switch a {
	case backend.Kill:
		_, err = e.cli.ContainerKill(ctx, st.Container, client.ContainerKillOptions{Signal: "KILL"})
	case backend.Stop:
		_, err = e.cli.ContainerStop(ctx, st.Container, client.ContainerStopOptions{Timeout: &stopGrace})
	case backend.Pause:
		_, err = e.cli.ContainerPause(ctx, st.Container, client.ContainerPauseOptions{})
	case backend.Unpause:
		_, err = e.cli.ContainerUnpause(ctx, st.Container, client.ContainerUnpauseOptions{})
	}
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", a, name, e.Name, err)
	}
	if a == backend.Kill || a == backend.Stop {
		return r.awaitDown(ctx, name, st.TaskID)
	}
	return nil
}

// awaitDown waits until the manager no longer counts the unit's task as
// running. Its engine reports the container's death to the manager after
// the fact (the task still showed running right after the kill here), and
// until then Status would show a dead unit up, and a Start would take it
// for running and do nothing.
func (r *swarmRun) awaitDown(ctx context.Context, name, task string) error {
	err := poll(ctx, taskPatience, 100*time.Millisecond, func() (bool, error) {
		tasks, err := r.Tasks(ctx)
		if err != nil {
			return false, err
		}
		st := tasks[name]
		return st.TaskID != task || !st.Running, nil
	})
	if errors.Is(err, errPatience) {
		return fmt.Errorf("%s's task still runs, as its manager sees it, %v after its container died", name, taskPatience)
	}
	return err
}

// replaceTask starts the unit's service's task anew (Start, Restart). A
// Start of a unit that runs does nothing, as on Docker.
func (r *swarmRun) replaceTask(ctx context.Context, name string, a backend.Action) error {
	tasks, err := r.Tasks(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", a, name, err)
	}
	st, ok := tasks[name]
	if !ok {
		return fmt.Errorf("%s %s: no such unit in run %s", a, name, r.id)
	}
	if a == backend.Start && st.Running {
		return nil
	}
	mgr := r.s.manager.cli
	svc, err := mgr.ServiceInspect(ctx, r.serviceName(name), client.ServiceInspectOptions{})
	if err != nil {
		return fmt.Errorf("%s %s: %w", a, name, err)
	}
	spec := svc.Service.Spec
	spec.TaskTemplate.ForceUpdate++
	if _, err := mgr.ServiceUpdate(ctx, svc.Service.ID, client.ServiceUpdateOptions{Version: svc.Service.Version, Spec: spec}); err != nil {
		return fmt.Errorf("%s %s: update its service: %w", a, name, err)
	}
	if err := r.awaitTask(ctx, name, svc.Service.ID, st.TaskID); err != nil {
		return fmt.Errorf("%s %s: %w", a, name, err)
	}
	return nil
}

// removeUnit removes one unit's service, its task containers and its
// configs, so that Start can create a unit of the same name.
func (r *swarmRun) removeUnit(ctx context.Context, name string) error {
	mgr := r.s.manager.cli
	if _, err := mgr.ServiceRemove(ctx, r.serviceName(name), client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	unit := runFilter(r.id).Add("label", LabelNode+"="+name)
	var left []swarmContainer
	err := poll(ctx, swarmRemovePatience, 200*time.Millisecond, func() (bool, error) {
		var err error
		left, err = r.s.containers(ctx, unit, "unit "+name)
		return len(left) == 0, err
	})
	if errors.Is(err, errPatience) {
		err = fmt.Errorf("%d task containers still there %v after its service's removal", len(left), swarmRemovePatience)
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	cfgs, err := mgr.ConfigList(ctx, client.ConfigListOptions{Filters: unit})
	if err != nil {
		return fmt.Errorf("remove %s: list its configs: %w", name, err)
	}
	for _, c := range cfgs.Items {
		if _, err := mgr.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove %s: config %s: %w", name, c.Spec.Name, err)
		}
	}
	return nil
}
