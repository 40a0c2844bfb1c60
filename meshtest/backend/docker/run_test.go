package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/node"
)

// testRun is a run of b for t, removed when t ends.
func testRun(t *testing.T, b *Backend, prefix string) backend.Run {
	t.Helper()
	id := prefix + "-" + randomHex(t, 4)
	removeRunOnCleanup(t, b, id)
	r, err := b.NewRun(t.Context(), backend.RunOptions{ID: id, Test: t.Name()})
	require.NoError(t, err)
	return r
}

// soloNode is the bundled node as a unit that dials no one, with an assigned
// identity whose peer ID it returns.
func soloNode(t *testing.T, b *Backend) (backend.Unit, string) {
	t.Helper()
	s := spec.Bundled()
	img, err := b.Image(t.Context(), s, "", t.Logf)
	require.NoError(t, err, "the bundled node's image")
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	key, err := node.EncodeKey(priv)
	require.NoError(t, err)
	r, err := s.Render(spec.NodeData{Name: "solo", Role: "peer", Host: "solo", P2PPort: s.P2PPort, MetricsPort: s.MetricsPort, Key: key, PeerID: id.String()})
	require.NoError(t, err)
	return backend.Unit{Name: "solo", Role: "peer", Group: s.Name, Image: img, Rendered: r, MetricsPort: s.MetricsPort}, id.String()
}

// readyEvent waits for the node's ready line in its logs and returns it.
func readyEvent(t *testing.T, r backend.Run, name string) node.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var logs string
	for {
		var err error
		logs, err = r.Logs(ctx, name, 0)
		if err == nil {
			sc := bufio.NewScanner(strings.NewReader(logs))
			for sc.Scan() {
				var e node.Event
				if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event == node.EventReady {
					return e
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s wrote no ready line in 30 s (logs error: %v); logs:\n%s", name, err, logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// get asks url until it answers 200 or the time is up.
func get(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, res.Status)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestStartNode starts one bundled node and checks what Start promises:
// least privilege, the run's network kind, a status the harness reaches the
// node by, its logs and its cost; and that RemoveRun leaves nothing. With
// PublishPorts (the path Docker Desktop takes, forced here) the metrics
// port is published on 127.0.0.1 only.
func TestStartNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"routed", Options{}},
		{"published", Options{PublishPorts: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBackend(t, tc.opts)
			ctx := t.Context()
			r := testRun(t, b, "start-"+tc.name)
			u, id := soloNode(t, b)
			inst, err := r.Start(ctx, u)
			require.NoError(t, err)
			assert.Equal(t, "solo", inst.Name)
			assert.Equal(t, u.Image, inst.Image)
			require.NotEmpty(t, inst.Handle, "the container's ID")

			ins, err := b.cli.ContainerInspect(ctx, inst.Handle, client.ContainerInspectOptions{})
			require.NoError(t, err)
			hc := ins.Container.HostConfig
			assert.Equal(t, []string{"ALL"}, hc.CapDrop)
			assert.Empty(t, hc.CapAdd)
			assert.True(t, hc.ReadonlyRootfs, "read-only root filesystem")
			assert.Contains(t, hc.SecurityOpt, "no-new-privileges")
			labels := ins.Container.Config.Labels
			assert.Equal(t, r.ID(), labels[LabelRun])
			assert.Equal(t, "solo", labels[LabelNode])
			assert.Equal(t, self.String(), labels[labelProcess])

			nw, err := b.cli.NetworkInspect(ctx, r.Network(), client.NetworkInspectOptions{})
			require.NoError(t, err)
			assert.Equal(t, !tc.opts.PublishPorts, nw.Network.Internal, "the run's network is internal unless ports are published")

			ready := readyEvent(t, r, "solo")
			assert.Equal(t, id, ready.PeerID, "the node runs with the assigned key")
			assert.Equal(t, "given", ready.Key)
			logs, err := r.Logs(ctx, "solo", 1)
			require.NoError(t, err)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(logs), "\n")+1, "tail 1 keeps one line: %q", logs)

			all, err := r.Status(ctx)
			require.NoError(t, err)
			require.Contains(t, all, "solo")
			st := all["solo"]
			assert.True(t, st.Running, "state %q", st.State)
			assert.Equal(t, "running", st.State)
			assert.NotEmpty(t, net.ParseIP(st.IP), "an IP on the run's network: %q", st.IP)
			// What the engine bound, not only what it was asked.
			var bound []string
			for port, bindings := range ins.Container.NetworkSettings.Ports {
				for _, pb := range bindings {
					bound = append(bound, fmt.Sprintf("%v on %v:%s", port, pb.HostIP, pb.HostPort))
				}
			}
			if tc.opts.PublishPorts {
				host, port, err := net.SplitHostPort(st.MetricsAddr)
				require.NoError(t, err, "MetricsAddr %q", st.MetricsAddr)
				assert.Equal(t, "127.0.0.1", host)
				assert.Contains(t, bound, fmt.Sprintf("%d/tcp on 127.0.0.1:%s", u.MetricsPort, port), "MetricsAddr is the metrics port's binding")
				assert.Len(t, bound, 1, "only the metrics port is bound, on loopback only")
				assert.Len(t, hc.PortBindings, 1, "only the metrics port is published: %v", hc.PortBindings)
				for port, bindings := range hc.PortBindings {
					for _, pb := range bindings {
						assert.Equal(t, "127.0.0.1", pb.HostIP.String(), "%v is published on loopback only", port)
					}
				}
			} else {
				assert.Empty(t, hc.PortBindings, "no port published")
				assert.Empty(t, bound, "no port bound")
				assert.Equal(t, net.JoinHostPort(st.IP, strconv.Itoa(u.MetricsPort)), st.MetricsAddr)
			}
			assert.NoError(t, get(ctx, "http://"+st.MetricsAddr+"/healthz"), "the harness reaches the node at MetricsAddr")

			hostAddr, err := r.HostAddr(ctx)
			require.NoError(t, err)
			assert.NotNil(t, net.ParseIP(hostAddr).To4(), "HostAddr %q is an IPv4 address", hostAddr)

			cost, err := r.Cost(ctx, []string{"solo"})
			require.NoError(t, err)
			t.Cleanup(func() { cost.Close() })
			assert.Equal(t, "cgroupfs", cost.Source())
			stats, err := cost.Read(ctx, "solo")
			require.NoError(t, err)
			assert.Positive(t, stats.MemoryBytes, "memory: %+v", stats)
			assert.Positive(t, stats.PIDs, "tasks: %+v", stats)
			_, err = r.Cost(ctx, []string{"no-such-unit"})
			assert.ErrorContains(t, err, "no-such-unit", "a unit that was not started")

			require.NoError(t, b.RemoveRun(ctx, r.ID(), t.Logf))
			left, err := b.Leftovers(ctx, r.ID())
			require.NoError(t, err)
			assert.Empty(t, left, "after RemoveRun")
		})
	}
}

// TestStartSettings: what a unit asks for reaches its container, and only
// that; files make the root filesystem writable, since Docker cannot copy
// into a read-only one, and are there when the unit starts.
func TestStartSettings(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	r := testRun(t, b, "settings")
	for _, tc := range []struct {
		name  string
		unit  backend.Unit
		check func(t *testing.T, ins container.InspectResponse)
	}{
		{
			name: "plain",
			unit: backend.Unit{Rendered: spec.Rendered{Args: []string{"-flag", "x"}, Env: map[string]string{"GREETING": "hello"}}},
			check: func(t *testing.T, ins container.InspectResponse) {
				hc := ins.HostConfig
				assert.True(t, hc.ReadonlyRootfs, "read-only root filesystem")
				assert.Equal(t, []string{"ALL"}, hc.CapDrop)
				assert.Empty(t, hc.CapAdd)
				assert.Zero(t, hc.Memory, "no memory limit")
				assert.Zero(t, hc.NanoCPUs, "no CPU limit")
				assert.Empty(t, hc.Tmpfs)
				assert.Equal(t, []string{"-flag", "x"}, []string(ins.Config.Cmd))
				assert.Contains(t, ins.Config.Env, "GREETING=hello")
			},
		},
		{
			name: "files",
			unit: backend.Unit{Rendered: spec.Rendered{Files: map[string]string{"/etc/meshtest/greeting.txt": "hello, node\n"}}},
			check: func(t *testing.T, ins container.InspectResponse) {
				assert.False(t, ins.HostConfig.ReadonlyRootfs, "files need a writable root filesystem")
				assert.Equal(t, []string{"ALL"}, ins.HostConfig.CapDrop, "and nothing else changes")
				rc, err := r.CopyFrom(t.Context(), ins.Config.Labels[LabelNode], "/etc/meshtest/greeting.txt")
				require.NoError(t, err)
				defer rc.Close()
				tr := tar.NewReader(rc)
				h, err := tr.Next()
				require.NoError(t, err, "the archive holds the file")
				assert.Equal(t, "greeting.txt", h.Name)
				assert.Equal(t, int64(0o644), h.Mode&0o777)
				data, err := io.ReadAll(tr)
				require.NoError(t, err)
				assert.Equal(t, "hello, node\n", string(data))
			},
		},
		{
			name: "limits",
			unit: backend.Unit{MemoryBytes: 64 << 20, CPUs: 0.5},
			check: func(t *testing.T, ins container.InspectResponse) {
				assert.Equal(t, int64(64<<20), ins.HostConfig.Memory)
				assert.Equal(t, int64(500_000_000), ins.HostConfig.NanoCPUs)
			},
		},
		{
			name: "capabilities",
			unit: backend.Unit{CapAdd: []string{"NET_ADMIN"}},
			check: func(t *testing.T, ins container.InspectResponse) {
				assert.Equal(t, []string{"ALL"}, ins.HostConfig.CapDrop)
				// The engine stores capabilities by their kernel names.
				assert.Equal(t, []string{"CAP_NET_ADMIN"}, []string(ins.HostConfig.CapAdd))
			},
		},
		{
			name: "tmpfs",
			unit: backend.Unit{Tmpfs: map[string]string{"/scratch": "size=1m"}},
			check: func(t *testing.T, ins container.InspectResponse) {
				assert.True(t, ins.HostConfig.ReadonlyRootfs, "tmpfs needs no writable root filesystem")
				assert.Equal(t, map[string]string{"/scratch": "size=1m"}, ins.HostConfig.Tmpfs)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.unit
			u.Name, u.Role, u.Group, u.Image, u.MetricsPort = tc.name, "service", "sleeper", img, 9090
			inst, err := r.Start(t.Context(), u)
			require.NoError(t, err)
			ins, err := b.cli.ContainerInspect(t.Context(), inst.Handle, client.ContainerInspectOptions{})
			require.NoError(t, err)
			require.True(t, ins.Container.State.Running, "state %s", ins.Container.State.Status)
			assert.Contains(t, ins.Container.HostConfig.SecurityOpt, "no-new-privileges")
			tc.check(t, ins.Container)
		})
	}
}

// TestStartFailure: a unit whose container is created but cannot start
// makes Start fail naming the unit, returns the container so its logs can be
// read, and RemoveRun removes it.
func TestStartFailure(t *testing.T) {
	b := testBackend(t, Options{})
	img := sleeperImage(t, b)
	r := testRun(t, b, "startfail")
	u := backend.Unit{Name: "broken", Role: "service", Group: "sleeper", Image: img, MetricsPort: 9090,
		Tmpfs: map[string]string{"/scratch": "size=bogus"}} // accepted on create, refused by the runtime on start
	inst, err := r.Start(t.Context(), u)
	require.Error(t, err)
	t.Logf("Start: %v", err)
	assert.Contains(t, err.Error(), "start broken ("+img+")")
	assert.NotEmpty(t, inst.Handle, "the created container is named")

	all, err := r.Status(t.Context())
	require.NoError(t, err)
	if assert.Contains(t, all, "broken") {
		assert.False(t, all["broken"].Running, "state %q", all["broken"].State)
	}
	_, err = r.Logs(t.Context(), "broken", 0)
	assert.NoError(t, err, "its logs can be read")

	require.NoError(t, b.RemoveRun(t.Context(), r.ID(), t.Logf))
	left, err := b.Leftovers(t.Context(), r.ID())
	require.NoError(t, err)
	assert.Empty(t, left, "after RemoveRun")
}

// A Start whose context ends mid-call still returns only once the engine
// has finished with the container: it reports the container it made, or
// made none. A create cancelled at the client goes on in the daemon, and
// the teardown that follows an aborted bring-up must not meet it there
// (joins and removals on one network at once can hang Docker 20.10's
// network API).
func TestStartCancelledMidCallLeavesNoCreateInFlight(t *testing.T) {
	Require(t)
	b := testBackend(t, Options{})
	r := testRun(t, b, "cancelled")
	u, _ := soloNode(t, b)
	for k, after := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		u := u
		u.Name = fmt.Sprintf("cut-%d", k)
		ctx, cancel := context.WithTimeout(t.Context(), after)
		inst, err := r.Start(ctx, u)
		cancel()
		time.Sleep(time.Second) // time for a create still under way to land
		list, lerr := b.cli.ContainerList(t.Context(), client.ContainerListOptions{All: true,
			Filters: runFilter(r.ID()).Add("label", LabelNode+"="+u.Name)})
		require.NoError(t, lerr)
		if inst.Handle == "" {
			assert.Empty(t, list.Items, "Start cut after %v returned no container (%v), yet one landed later", after, err)
		} else {
			require.Len(t, list.Items, 1, "Start cut after %v", after)
			assert.Equal(t, inst.Handle, list.Items[0].ID)
		}
	}
}
