// Package backend is the seam between the meshtest fixture and whatever runs
// the nodes.
//
// The fixture (bring-up, convergence, sampling, the summary, the artifacts,
// the report) asks a [Backend] for a few things in its own words: run this
// rendered node, where is it, has it exited, its logs, its cost, remove the
// run. Only the package that implements Backend knows the engine:
// meshtest/backend/docker is the only importer of moby and testcontainers-go,
// so a second engine is a second package, not a branch in every step. The
// model is etcd's tests/framework: one cluster abstraction, two backends
// (real processes and in-process), and tests that do not care which one runs
// them. The fixture names Docker only where it picks the default backend
// (Config.Backend nil), in RequireDocker, and in MaxNodes, the size of one
// bridge network, which sets how many networks a large mesh takes
// (RunOptions.Networks).
//
// # The lifecycle, as the fixture drives it
//
//	RemoveAbandoned(ctx, logf)        first, at the start of every mesh
//	Image(ctx, spec, override, logf)  once per spec and mesh
//	HelperImage(ctx, logf)            once, if a node is shaped
//	Floor(...)                        only with Config.MeasureFloor, if a FloorMeasurer
//	NewRun(ctx, RunOptions{ID, Test}) the run's network
//	run.Exits(ctx)                    before the first node: every death, as it happens
//	run.Start(ctx, unit)              every node, in waves, with bounded parallelism
//	run.Start(ctx, sidecar)           a helper in a node's namespace (Unit.NetworkOf)
//	run.Status(ctx)                   after the waves: running? IP? MetricsAddr?
//	    ... convergence, proven over MetricsAddr ...
//	run.Act(ctx, name, action)        faults, each followed by Status for the new address
//	run.Cost(ctx, names)              once per sampling window; Read every interval
//	run.Status(ctx)                   after sampling: has a node exited?
//	run.Logs(ctx, name, tail)         when a node fails; all of them if the test did
//	RemoveRun(ctx, id, logf)          on every path (t.Cleanup, signal, deadline),
//	Leftovers(ctx, id)                then checked empty
//
// Waves: nodes whose identity the harness assigns all start at once; a node
// that dials one whose peer ID is learned after start waits for it. Info is
// read once for summary.json; HostAddr and CopyFrom serve Config.Monitor (an
// exporter Prometheus scrapes, and its snapshot).
//
// What each method promises, and why:
//
//   - RemoveAbandoned removes what runs of processes that no longer exist left behind,
//     and never a live process's run, anyone's: two `go test` processes may
//     share one engine.
//   - Image returns something Start can run, built on first use and reused:
//     bring-up does not pay for a build per mesh.
//   - NewRun makes a network that is isolated (no route out), reachable from
//     the harness, and whose every resource carries the run's ID: that ID is
//     what RemoveRun, Leftovers and RemoveAbandoned select on.
//   - Start returns once the unit is started, not ready: readiness and
//     convergence are the fixture's to prove, the same way on every backend.
//     On error the Instance still names what was created, so its logs can be
//     read.
//   - Status reports every unit with one call: at a thousand nodes, a call
//     per node would be the cost of bring-up.
//   - Cost opens readers for a window. A figure the backend cannot read is
//     NaN, never zero, and Source says where the figures come from and why
//     not from somewhere better.
//   - RemoveRun removes units, then the network, goes on past errors and
//     returns them all; nothing left is not an error. A network the engine
//     will not remove wraps [ErrStuckNetwork], so that no caller waits for
//     it or retries it.
//   - Leftovers is empty after RemoveRun: the fixture's proof that nothing is
//     left. [FloorMeasurer] is optional: the engine's raw speed, measured in
//     the same run, that bring-up is reported against.
//   - Act does one [Action] to one unit and returns once it is done, so that
//     the Status after it shows the new state and address. What each action
//     does to the unit's network namespace and address is part of the
//     contract (see Action): the fixture re-reads addresses after Start,
//     Restart and Connect, and restarts a node's sidecars after Start and
//     Restart. An action a backend cannot do wraps errors.ErrUnsupported:
//     a fault that is not what it claims would be worse than none. Remove
//     deletes a unit so that Start can create a newcomer of the same name
//     (churn with new identities; Swarm: remove the task's service and
//     create it anew).
//   - Exits is pushed, not polled, and misses nothing from the moment it
//     returns, so that a test fails within seconds of a death no fault
//     planned. Its channel says how it ended: closed after ctx, or closed
//     after an Exit with Err when the backend lost sight of deaths.
//   - Unit.NetworkOf runs meshtest's own helpers (the shaper) in a node's
//     network namespace: they see and shape the node's own interface, with
//     NET_ADMIN only. Status, Logs, Act and Exits treat sidecars as units;
//     RemoveRun removes them before their parents.
//   - HelperImage, like Image for the bundled node, builds on first use and
//     reuses after.
//
// # Docker (today)
//
// meshtest/backend/docker runs each unit as a container of one engine,
// created through testcontainers-go (Ryuk off: its image cannot be pulled
// offline, and cleanup is ours anyway) and otherwise driven by the engine API.
//
//   - NewRun creates a bridge network per run, meshtest-<run ID>, fresh every
//     time (and meshtest-<run ID>-net2, … when RunOptions.Networks asks for
//     more: a unit joins those its Unit.Networks name), and internal: nodes cannot dial the outside world, and the host
//     still reaches container IPs on it. Units find each other by their
//     Unit.Name alias (Docker's DNS answers on internal networks too).
//   - Start runs with least privilege: every capability dropped but
//     Unit.CapAdd, no-new-privileges, a read-only root unless files are
//     copied in. Status gives MetricsAddr as container IP and metrics port;
//     where the host cannot route to containers (Docker Desktop),
//     Options.PublishPorts publishes the port on 127.0.0.1 only, at the price
//     of a docker-proxy per unit and a network that cannot be internal.
//   - Cost reads each container's cgroup files on the host (v1 or v2) and
//     /proc/<pid>/net/dev of its network namespace, kept open for the window:
//     a few file reads a node, against a round trip through the daemon. Where
//     those files are out of reach (not Linux, Docker Desktop, a remote
//     engine, a harness in a container) it falls back to the stats API, and
//     Source says "docker-stats-api (cgroupfs: <why>)".
//   - Labels on every container and network name the run (meshtest.run,
//     meshtest.test) and the process that made it: host, PID, and the PID's
//     start time from /proc/<pid>/stat with the boot ID. Containers also
//     carry meshtest.node, .role and .group.
//   - RemoveAbandoned removes the runs of this host whose process is gone. A PID alone
//     would not do: PIDs are reused, quickly in a CI container's fresh PID
//     namespace, so a live PID with another start time counts as dead.
//   - RemoveRun stops each container with no grace period, removes it, then
//     removes the network. A network that still "has active endpoints" with
//     no container left (an engine bug, seen on 20.10 after bulk removals;
//     only a daemon restart clears it) is retried for 3 s and then reported
//     as ErrStuckNetwork with its remedy. The sweep tries it once, names it
//     once per process and never waits for it; fresh names per run keep it
//     from blocking the next run.
//   - Floor creates n plain containers through the API: no harness, no
//     identities, no convergence.
//   - Act is the engine's own verb: kill (SIGKILL), stop and restart (SIGTERM,
//     SIGKILL after StopGrace, 2 s, rather than the engine's 10 s), start,
//     pause and unpause (the cgroup freezer), network disconnect (forced) and
//     connect (with the unit's alias). Measured on 20.10: a started or
//     restarted container gets a new network namespace; a re-attached one
//     the lowest free address of the subnet, and a new interface (eth1,
//     eth2, …) in the same namespace.
//   - Exits reads the events API, filtered by the run's label to die and oom
//     events, from the moment of the call (the engine replays what came
//     before it subscribed), into an unbounded queue (the engine drops
//     events for a subscriber that falls behind). An oom event marks the
//     container's next die as OOMKilled. The two events race (containerd
//     watches the cgroup, the die comes from the exit), so a die by SIGKILL
//     waits up to 1 s for a late oom; one whose container is already gone
//     when containerd reads the kernel's notice is lost (measured: 4 of 40
//     OOM kills of a one-process container with 6 busy loops on 2 cores,
//     0 of 30 idle).
//   - A sidecar is a container with NetworkMode container:<parent's ID>: no
//     network, alias or port of its own, so Status gives it no IP. The
//     engine lets a parent be removed under its sidecar (which then runs on,
//     unable to restart), so RemoveRun and the sweep remove sidecars in a
//     first wave.
//   - HelperImage builds meshtest/shape/cmd/meshshaper as the bundled node
//     is built: CGO_ENABLED=0, FROM scratch, meshtest-shaper:<content hash>,
//     once per process.
//
// # Docker Swarm
//
// For meshes larger than one host: package docker's Swarm, opened from an
// engines file (docker.OpenSwarm, Config.Swarm, -backend=swarm), proven on
// three engines of one machine (scripts/swarm.sh). How each method maps:
//
//   - Image: built on the harness's engine as for Docker, then moved to
//     every engine of the swarm that lacks it by save and load (no registry
//     is assumed; 0.2–0.3 s for the node image here). Services name their
//     image by ID: an engine pulls a service's image by name before each
//     task and uses its own copy only once the pull fails (six tasks took
//     31.5 s to run with no registry reachable, 1.8 s by ID).
//   - NewRun: an overlay network, internal and attachable, and the run's
//     gateway on it (below). One network only: the overlay's subnet is a
//     /24, so Config refuses 240 units or more on a swarm.
//   - Start: one service per unit, replicas 1, with the unit's Name as its
//     alias on the overlay; DNS round robin (the VIP mode needs IPVS, which
//     this kernel lacks); restart condition none, so that an exit stays an
//     exit; every capability dropped but Unit.CapAdd, a read-only root;
//     Unit.Files (the identity key among them) as swarm configs labelled
//     with the run, mounted into the task (anyone with the manager's API
//     reads them, as they would read an env). It returns once the task
//     runs, or with the task's own error when the swarm gives up on it.
//   - Status: the run's services and their latest tasks, two calls to the
//     manager: state, overlay address, and Status.Engine, the engine that
//     runs the task (Tasks adds the task's container and the swarm's word
//     for its state).
//   - Reaching units: a task's address exists only inside the overlay, so
//     each run has a gateway, meshtest/gateway's meshgate: a plain container
//     on the manager's engine, on the overlay and on that engine's default
//     bridge, its HTTP CONNECT port published on the manager's address from
//     the engines file (never 0.0.0.0). The run is a backend.Dialer: every
//     connection of the harness to a unit (readiness, identity, convergence,
//     scrapes, workloads) is a tunnel through it, which needs the run's
//     token and goes only into the overlay's subnet. A scrape through it is
//     the same bytes as on a bridge; the harness's CPU for 51 nodes was
//     1.5 % of a core against 0.6 % on one engine's bridge.
//   - Cost: each unit's engine's stats API, one stream per unit for the
//     window (Docker 20.10 answers a request for one sample only at its
//     next one-second tick, which no 1 s interval survives); rates are
//     taken over the engine's own sample times. The engines' cgroups are
//     not the harness's to read on a real multi-host swarm.
//   - Logs and CopyFrom: from the task's container on its own engine, so the
//     harness must reach every engine's API (the engines file names them).
//   - Info names every engine and measures each one's clock against the
//     harness's (the engine's system time against the middle of the call,
//     best of three): what one-way times across engines can be off by.
//   - Exits: every engine's events (die and oom of the run's task
//     containers, by label), merged; a failed stream of any engine ends the
//     channel with its Err.
//   - Act: Kill, Stop, Pause and Unpause on the task's engine (swarm does
//     not see them; with restart condition none a killed task stays down);
//     Kill and Stop return once the manager, too, sees the task down (it
//     learns of the death after the fact). Start and Restart are a forced
//     service update through the manager: swarm stops the old task and
//     runs a new one, a new container with the same configs, so the same
//     identity, with a new overlay address, maybe on another engine.
//     Remove removes the unit's service, waits for its containers, and
//     removes its configs (TestChurn runs on the swarm). Not built,
//     ErrUnsupported: Disconnect and Connect (an engine can force-disconnect
//     a task from the overlay, but swarmkit does not expect it and a
//     re-attached task's DNS entry breaks, moby/moby#37376).
//   - RemoveRun: the gateway, the services, a wait until no engine holds a
//     task container (service rm returns before the containers go; after a
//     minute the rest are removed directly), then the configs and the
//     network, retried while an engine still tears down its endpoints.
//     Leftovers, ByTest and RemoveAbandoned use the same labels, on
//     services, configs and networks at the manager and containers on every
//     engine.
//   - Not available: NetworkOf (a service cannot join another's network
//     namespace; a sidecar would be a plain container on the task's engine
//     with NetworkMode container:<task>, following its parent when the task
//     is replaced), so HelperImage and link conditions; HostAddr (the
//     overlay has no route to the harness's host), so Monitor; several
//     networks; FloorMeasurer (n plain services until all tasks run would
//     be its floor).
//
// The same experiment on Docker and on the swarm, 50 peers of a star on
// this machine, agreed on the bootstrap's cost per connection: 3.92
// goroutines both, 76.8 KB against 79.7 KB of memory.
//
// # Kubernetes (on paper; nothing of it is built or claimed to work)
//
// A third backend for clusters that already run Kubernetes. It needs no new
// method on the seam: every one maps, and the figures it cannot give at the
// harness's cadence are absent or coarser, and say so in Source.
//
//   - Image: the image in a registry every kubelet can pull from, or loaded
//     into each node's runtime (kind load, k3s ctr images import);
//     imagePullPolicy IfNotPresent, so a local tag is never pulled.
//   - NewRun: a namespace per run, meshtest-<run>, labelled with the run
//     like every Docker resource. A NetworkPolicy in it admits traffic from
//     the namespace and the harness only and denies egress elsewhere: the
//     counterpart of an --internal bridge. It holds only where the CNI
//     enforces NetworkPolicy (Calico and Cilium do; not every CNI): NewRun
//     must check that it does, by a probe, or say the mesh is not isolated.
//   - Start: one Pod per node, not a Deployment (each node has its own
//     identity), named Unit.Name, restartPolicy Never so that an exit shows
//     in Status instead of a restart. A headless Service (clusterIP None)
//     over the run's pods, with the pod's hostname and subdomain set, gives
//     each node the DNS name <name>.<service>, which spec templates use as
//     Host. The key is a Secret per node, mounted as a file or passed by
//     secretKeyRef (never in the pod spec, which anyone who can get pods
//     reads); Unit.Files are a ConfigMap volume. The securityContext drops
//     ALL capabilities, adds Unit.CapAdd, sets readOnlyRootFilesystem and
//     allowPrivilegeEscalation false; MemoryBytes and CPUs are the limits.
//   - Status: one list of the run's pods by label: phase, podIP, and
//     nodeName, the machine that summary.json names as the node's engine.
//   - MetricsAddr: the pod IP, reachable inside the cluster only. The
//     harness runs in the cluster (a Job running the test binary, go test
//     -c), or reads through a sampler Deployment in the namespace, or
//     through Prometheus with kubernetes_sd_configs (role pod, the run's
//     label selector), which the monitor package would configure instead of
//     its static targets.
//   - Cost: the kubelet's cAdvisor endpoint, /metrics/cadvisor through the
//     API server's node proxy (RBAC: nodes/proxy), gives each container's
//     container_cpu_usage_seconds_total, container_memory_working_set_bytes
//     and the pod's container_network_*_bytes_total; /stats/summary gives
//     the same as JSON. The kubelet refreshes them about every 10 s (its
//     housekeeping interval), so at a 1 s interval most reads repeat the
//     last value: Read must return NaN for a figure that has not changed
//     since its timestamp rather than a cpu_cores of 0, and Source must
//     state the resolution. Per-second figures need a sampler DaemonSet
//     reading each machine's cgroupfs (hostPath /sys/fs/cgroup, read-only),
//     as on Swarm.
//   - Logs: pods/log. CopyFrom: kubectl cp is tar over pods/exec, and a
//     FROM scratch image has no tar: a sidecar with one that mounts the
//     same volume, or the file served over the node's HTTP endpoint.
//   - NetworkOf: a container in the node's pod, which shares its network
//     namespace by construction. It must be declared when the pod is
//     created (an ephemeral container cannot be removed, nor be given a
//     port), so the shaper is a sidecar of every shaped node from the
//     start, with capabilities NET_ADMIN alone, as on Docker.
//   - Act: Kill is a delete with gracePeriodSeconds 0; Stop a delete with
//     StopGrace; Start and Restart create the pod again with the same name,
//     Secret and ConfigMaps, so the same identity, with a new pod IP and
//     possibly on another machine (a nodeName pins it). Pause has no verb:
//     ErrUnsupported (a SIGSTOP needs shareProcessNamespace and a sidecar
//     that sends it, which stops the node but not its kernel's replies).
//     Disconnect and Connect are a deny-all NetworkPolicy on the pod's
//     labels and its removal: enforced asynchronously by the CNI, so the
//     event must record when the cut was verified (a probe from a peer),
//     not when the policy was written.
//   - Exits: a watch on the run's pods: containerStatuses[].state.terminated
//     gives exitCode and reason (OOMKilled) as Docker's die and oom events
//     do. A watch that ends with an error ends the channel with its Err.
//   - RemoveRun: delete the namespace (everything in it goes with it, pods
//     first), wait until it is gone, then the cluster-scoped leftovers, if
//     any. Leftovers and RemoveAbandoned list namespaces by the run label
//     and the process label, as the Docker sweep does with containers.
//   - FloorMeasurer: n pods of the same image until all are Running,
//     against the same n as the mesh: the scheduler and the kubelets' pod
//     start rate (image present) are the floor a Kubernetes bring-up is
//     measured against.
//   - Scale: a kubelet runs at most 110 pods by default (maxPods) and a node's
//     pod CIDR is commonly a /24, so 1000 peers take ten machines or a
//     raised maxPods and a larger node CIDR mask: the preflight's job, as
//     gc_thresh is on one host.
//
// What a third backend needs, then: a package under meshtest/backend that
// implements Backend and Run (and FloorMeasurer, HelperImage and Act if it
// can), a column in the figure table below, a clock statement (see
// Clocks), and the seam's tests run against it; nothing in the fixture
// changes.
//
// # An in-process simulated network (on paper)
//
// go-libp2p hosts in the test process, run under testing/synctest (as
// go-libp2p-pubsub's tests now run) so that time is virtual: a
// minute of sampling takes as long as its work, not a minute. synctest advances time
// only when every goroutine of the bubble is durably blocked, and one
// waiting on a real socket is not: under synctest the hosts need an
// in-memory network (mocknet, or x/simlibp2p's simnet, which go-libp2p's own
// synctest tests use), and real TCP on loopback runs in real time instead.
//
//   - Image: none. A spec whose Build is Bundled means "run node.Node in
//     process"; any other image is refused with an error that names the
//     docker backend. So are Config.Services.
//   - NewRun: the network (mocknet or simnet) of the run.
//   - Start: node.Start in a goroutine, its event output into a buffer.
//     node.Start today makes its own TCP transport and HTTP listener; the sim
//     needs options for both.
//   - Status: always running until closed; IP is "".
//   - MetricsAddr: an httptest server per node on the node's own registries
//     (libp2p.PrometheusRegisterer, never the global one). Under synctest
//     its listener must be in memory too, so the seam would grow a way to
//     dial a MetricsAddr.
//   - Logs: the node's event log buffer.
//   - Cost: there is no cgroup. Read returns every figure NaN, and Source
//     says "none (in process: no cgroup)". In one process the Go and process
//     collectors describe the test process, the same for every node, so the
//     sim serves only meshnode_* and libp2p's own metrics: connections,
//     peers and streams per node, while goroutines, heap, RSS and FDs are
//     absent rather than the process's total under each node's name.
//   - Time: under synctest, Elapsed, BringUp, Converge and Duration are
//     virtual, CPU time means nothing beside them (HarnessCPU too), and any
//     rate is per virtual second.
//   - RemoveRun: close every node, then the network. RemoveAbandoned: nothing survives
//     the process, so there is nothing to sweep. HostAddr and CopyFrom:
//     errors (no Prometheus). FloorMeasurer: not implemented; the fixture
//     then reports bring-up alone.
//   - Act: Kill closes the host at once (no goodbye to its peers), Stop
//     closes it gracefully (StopGrace bounds the close), Start makes a new
//     host with the same key (a new "address" on the simulated network),
//     Restart both. Pause has no freezer in process: ErrUnsupported, or,
//     with simnet, a link that holds every packet until Unpause. Disconnect
//     and Connect unlink and relink the host on the mocknet/simnet, which is
//     what those networks do natively.
//   - Exits: a node's goroutine ending is its death: Code 0 when it
//     returned, 1 when it failed, 137 for Kill; never OOMKilled (one
//     process, no cgroup). Pushed by the node's goroutine, so nothing is
//     polled, and under synctest At is virtual time.
//   - NetworkOf and HelperImage: no namespaces in process, and the shaper's
//     job is the simulated network's own (simnet's per-link latency and
//     bandwidth): HelperImage returns ErrUnsupported and conditions are
//     configured on the network instead.
//
// # Which figures each backend gives
//
// The Fig* constants of package meshtest and the README's figure table name
// the figures. "given": read from the harness host; "sampler": given only
// with a sampler per engine (or, for node figures, Prometheus in the
// overlay); "~10 s": the kubelet's cAdvisor figures, refreshed at its
// housekeeping interval, NaN between refreshes; "absent": NaN or missing,
// never invented.
//
//	figure                     docker  swarm    kubernetes  sim
//	cpu_cores, cpu_seconds     given   sampler  ~10 s       absent
//	mem_bytes, mem_rss_bytes   given   sampler  ~10 s       absent
//	pids                       given   sampler  sampler     absent
//	net_rx_bytes, net_tx_bytes given   sampler  ~10 s       absent
//	goroutines                 given   sampler  sampler     absent (process-wide in process)
//	heap_inuse_bytes           given   sampler  sampler     absent (process-wide in process)
//	rss_bytes, open_fds        given   sampler  sampler     absent (process-wide in process)
//	connections, peers         given   sampler  sampler     given
//	streams                    given   sampler  sampler     given
//
// Node figures (goroutines to streams) come from the node's /metrics, so on
// any backend they are there only if the image exports them; the bundled
// node does.
//
// # Clocks, for one-way times
//
// A gossip delay is a receiver's first-delivery time minus the publish
// time the message carries: two clocks. On one Docker engine every
// container reads the host's clock (no time namespace is set), so the
// difference carries no offset, and summary.json's gossip.clock says so.
// A backend that spans machines must do one of these, and say which in
// that field:
//
//   - Estimate each host's offset before and after the window, NTP-style:
//     a probe from the harness (or a sampler on each host) to a helper on
//     every host, offset = ((t1 − t0) + (t2 − t3)) / 2 over the round
//     trips with the smallest delay, which bounds the error by half that
//     round trip; subtract it from every delivery of that host's nodes, and
//     report the bound beside the delays. A drift between the two
//     estimates larger than the bound makes the delays untrustworthy, and
//     the summary says so instead of reporting them.
//   - Avoid one-way times: report round-trip figures only (ping, perf's
//     connection time, a publish acknowledged by every receiver through
//     the harness), or take every time on one clock, the harness's, as the
//     subscribe contract does (its delays then include the harness's own
//     path to each node, which it can measure with a ping to the node's
//     metrics port and subtract).
//
// Throughput, duplicates, delivery ratios and cost per message need no
// clock agreement and hold on any backend.
//
// # When a figure is absent
//
// What an experiment sees, in package series and the artifacts:
//
//   - Samples: a failed read leaves the figure out of Sample.Values; a
//     CostReader's NaN is kept as NaN. Both are gaps, never zeros: samples.csv
//     shows an empty cell or NaN.
//   - Statistics count only what was measured: series.Describe skips NaN and
//     Stats.N says how many values it summarised; RoleOverTime leaves out
//     rounds in which no node of the role reported.
//   - Charts draw only rounds with N > 0: the chart of a figure never
//     measured is still written, with its axes and no line.
//   - summary.json: roles, spread and over_time leave out a figure a role
//     never measured (no sample of the role had a value for it);
//     report.html leaves out rows with N 0.
//   - Assertions: RoleStats.Mean, Min, Max and Last return NaN when nothing
//     was measured, and testify's Less, Greater and their OrEqual forms fail
//     on NaN, so require.Less(t, peer.Max("cpu_cores"), 0.5) fails loudly on
//     the sim rather than passing on a made-up zero. Two traps remain:
//     RoleStats.Stats and Spread return the zero Stats (N 0, every field 0)
//     and series.Percentile returns 0 for no values, so a bound on
//     peer.Stats("cpu_cores").P95 passes unless the test checks N; and a
//     hand-written `if x > bound { t.Error(...) }` is false for NaN: write
//     the bound as what must hold.
package backend
