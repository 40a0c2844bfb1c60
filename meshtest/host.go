package meshtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/meshtest/meshtest/meshtest/preflight"
)

// bundledNodeHostBytes is what an idle bundled node costs the host: ~8.6 MB
// in its cgroup and ~5 MB for its shim, namespaces and veth (1,000 scratch
// containers took 5.1 GB here), and on fuse-overlayfs its own copy of the
// binary's pages in the page cache, which every container maps from its
// own mount. MemAvailable counts those as free, yet they are the running
// code: at 1,501 nodes here 14.1 GB were used and 10.2 GB cached, of which
// 7.8 GB survived a cache drop, and the kernel's memory pressure (PSI)
// stood at 99 % with every node's HTTP too stalled to answer. That is
// 16 MB a node; 1,001 nodes ran fine.
const bundledNodeHostBytes = 16 << 20

// preflight checks, before any container starts, that this host can hold
// the mesh: the bridge's ports, the neighbour table every namespace
// shares, open files, threads, memory (package preflight). Errors refuse
// the mesh with the setting, its value, the value needed and the command
// that raises it; warnings are logged. With Config.RaiseHostLimits, as
// root, it raises the sysctls itself and puts them back at teardown. Only
// for a local Docker engine: the limits read are this host's.
func (m *Mesh) preflight() error {
	info := m.environment().engine
	if info.Backend != "docker" || os.Getenv("DOCKER_HOST") != "" && !strings.HasPrefix(os.Getenv("DOCKER_HOST"), "unix://") {
		return nil
	}
	h := preflight.Read()
	if v, err := strconv.Atoi(info.CgroupVersion); err == nil {
		h.CgroupVersion = v
	}
	need := m.hostNeed()
	findings := preflight.Check(h, need)
	if m.Config.RaiseHostLimits && h.Root {
		if err := m.raiseHostLimits(preflight.Raise(findings)); err != nil {
			return err
		}
		findings = preflight.Check(preflight.Read(), need)
	}
	for _, f := range findings {
		if f.Severity == preflight.SeverityWarning {
			m.logf("meshtest: host: %s", f)
		}
	}
	if err := preflight.Error(findings); err != nil {
		hint := "raise it, or run as root with Config.RaiseHostLimits (-raise-host-limits) to have it raised for the run"
		return fmt.Errorf("this host cannot hold a mesh of %d containers (%s):\n%w", need.Containers, hint, err)
	}
	return nil
}

// hostNeed is what the mesh asks of the host. Helpers share their node's
// network namespace, so they take no bridge port and no neighbour entry.
func (m *Mesh) hostNeed() preflight.Need {
	n := len(m.Nodes) + len(m.Config.Services)
	if m.Config.Monitor {
		n++
	}
	peers := 0
	if m.Graph.N > 0 {
		peers = (2*len(m.Graph.Edges) + m.Graph.N - 1) / m.Graph.N // mean degree, rounded up
	}
	var mem uint64
	for _, node := range m.Nodes {
		per := uint64(node.spec.MemoryBytes)
		if per == 0 && node.spec.Build != nil && node.spec.Build.Bundled {
			per = bundledNodeHostBytes
		}
		mem = max(mem, per)
	}
	need := preflight.Need{Containers: n, Bridges: m.Config.networks(), Peers: peers, MemoryPerContainerBytes: mem}
	if need.Bridges > 1 {
		// Peers fill networks in blocks; the bootstrap, services and the
		// monitor join every one.
		need.LargestBridge = min(m.Config.Peers, m.Config.networkSize()) + n - m.Config.Peers
	}
	return need
}

// raiseHostLimits writes the sysctls and registers their old values to be
// written back when the mesh is removed.
func (m *Mesh) raiseHostLimits(writes map[string]int64) error {
	for path, v := range writes {
		old, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("raise %s: %w", path, err)
		}
		if err := os.WriteFile(path, []byte(strconv.FormatInt(v, 10)), 0o644); err != nil {
			return fmt.Errorf("raise %s to %d: %w", path, v, err)
		}
		m.logf("meshtest: host: raised %s from %s to %d for this run", path, strings.TrimSpace(string(old)), v)
		m.onTeardown(func() {
			if err := os.WriteFile(path, old, 0o644); err != nil {
				m.logf("meshtest: host: could not put %s back to %s: %v", path, strings.TrimSpace(string(old)), err)
			}
		})
	}
	return nil
}
