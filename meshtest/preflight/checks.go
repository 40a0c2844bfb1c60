package preflight

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// checks run in this order; Check sorts what they find.
var checks = []func(Host, Need) []Finding{
	bridgePorts,
	neighbours,
	backlog,
	openFiles,
	threads,
	inotify,
	conntrack,
	memory,
}

// bridgePorts: a Linux bridge numbers its ports in 10 bits and keeps port 0
// for itself (BR_MAX_PORTS = 1024, net/bridge/br_if.c), so it takes at most
// 1,023 interfaces; the gateway address sits on the bridge device, not on a
// port. Attaching the 1,024th container fails with "exchange full" (EXFULL).
// meshtest.MaxNodes is the same 1,023.
const maxPortsPerBridge = 1023

func bridgePorts(_ Host, n Need) []Finding {
	per := n.largestBridge()
	if per <= maxPortsPerBridge {
		return nil
	}
	why := fmt.Sprintf("a Linux bridge takes at most %d interfaces (port 0 is its own), so the %dth of %d containers on one network fails to attach with \"exchange full\"",
		maxPortsPerBridge, maxPortsPerBridge+1, n.Containers)
	if n.Bridges > 1 {
		why = fmt.Sprintf("a Linux bridge takes at most %d interfaces (port 0 is its own), and %d containers over %d networks put %d on one: the %dth fails to attach with \"exchange full\"",
			maxPortsPerBridge, n.Containers, n.Bridges, per, maxPortsPerBridge+1)
	}
	return []Finding{{
		Setting:  "bridge ports",
		Have:     maxPortsPerBridge,
		Want:     int64(per),
		Severity: SeverityError,
		Why:      why,
		Fix: fmt.Sprintf("spread the mesh over at least %d bridge networks (Need.Bridges), or run at most %d containers",
			ceilDiv(n.Containers, maxPortsPerBridge), maxPortsPerBridge*n.Bridges),
	}}
}

// neighbours: the kernel keeps one IPv4 neighbour (ARP) table for all network
// namespaces (arp_tbl; its gc_thresh settings exist only in the host's
// namespace), so every container's entries count against the host's limit.
// A mesh of n containers holds
//
//   - one entry on the host per container, since the harness scrapes every node;
//   - one in each container for the gateway, the address those scrapes come from;
//   - one in each container per peer it exchanges packets with (Need.Peers).
//
// gc_thresh3 is the hard maximum: past it the kernel refuses new entries
// ("neighbor table overflow!") and the nodes behind them are unreachable, an
// error. 256 entries above the mesh's are kept for the rest of the host
// (other networks, the LAN), a warning when missing. gc_thresh2 is the soft
// maximum: above it, entries not confirmed for 5 s are collected and
// re-resolved, which costs latency on a busy mesh, a warning below the
// mesh's count. gc_thresh1, below which nothing is collected, breaks
// nothing and is only raised along with the others.
const neighbourMargin = 256

func neighbours(h Host, n Need) []Finding {
	entries := int64(n.Containers) * int64(2+n.Peers)
	want := entries + neighbourMargin
	// Suggest twice the mesh's entries, rounded up to a power of two as the
	// defaults are (128/512/1024), with gc_thresh2 and gc_thresh1 in the
	// defaults' proportions.
	thresh3 := ceilPow2(max(2*entries, want))
	const v4 = "net.ipv4.neigh.default."
	fix := sysctlFix(h,
		setting{v4 + "gc_thresh1", thresh3 / 8},
		setting{v4 + "gc_thresh2", thresh3 / 2},
		setting{v4 + "gc_thresh3", thresh3})
	each := "one on the host and one for the gateway in each container"
	if n.Peers > 0 {
		each += fmt.Sprintf(", plus one per peer, %d each", n.Peers)
	}
	what := fmt.Sprintf("%d containers need %d entries in the kernel's neighbour table, which every network namespace shares (%s)",
		n.Containers, entries, each)

	var fs []Finding
	if have, ok := h.Sysctl[v4+"gc_thresh3"]; ok && have < want {
		f := Finding{Setting: v4 + "gc_thresh3", Have: have, Want: want, Fix: fix}
		if have < entries {
			f.Severity = SeverityError
			f.Why = what + fmt.Sprintf(": past %d the kernel refuses new ones (\"neighbor table overflow!\") and nodes become unreachable", have)
		} else {
			f.Severity = SeverityWarning
			f.Why = what + fmt.Sprintf(", which leaves %d of %d for the rest of the host", have-entries, have)
		}
		fs = append(fs, f)
	}
	if have, ok := h.Sysctl[v4+"gc_thresh2"]; ok && have < entries {
		fs = append(fs, Finding{
			Setting: v4 + "gc_thresh2", Have: have, Want: entries, Severity: SeverityWarning, Fix: fix,
			Why: what + fmt.Sprintf(": above %d, entries idle for 5 s are collected and resolved again, adding latency", have),
		})
	}
	// The bridges are IPv4-only here, so IPv6 neighbours matter only on a
	// network with IPv6 enabled: a warning at the same count.
	const v6 = "net.ipv6.neigh.default.gc_thresh3"
	if have, ok := h.Sysctl[v6]; ok && have < entries {
		fs = append(fs, Finding{
			Setting: v6, Have: have, Want: entries, Severity: SeverityWarning,
			Fix: sysctlFix(h, setting{v6, thresh3}),
			Why: fmt.Sprintf("on a network with IPv6 enabled, %d containers need %d IPv6 neighbour entries and the kernel refuses new ones past %d", n.Containers, entries, have),
		})
	}
	return fs
}

// backlog: a packet sent into a veth is queued on the sending CPU's
// backlog, up to net.core.netdev_max_backlog, and dropped beyond it. A
// broadcast on a bridge is one such packet per port, all at once: every
// ARP request the host sends to a network of p containers puts p packets
// on one backlog. Measured here with the default 1,000: a bridge of 1,023
// containers left the host unable to resolve any of the oldest ones (a
// bridge floods its newest port first), every readiness check to them
// timing out while the containers reached each other, and softnet_stat
// counting ~2,000 drops per connection attempt; at 1,001 a few first
// contacts needed a second ARP request. Below the largest network's
// containers it is an error; within backlogMargin of it (the other
// traffic sharing the backlog at that instant), a warning. The fix asks
// for twice the network, as a power of two.
const (
	minBacklog    = 1000
	backlogMargin = 256
)

func backlog(h Host, n Need) []Finding {
	const key = "net.core.netdev_max_backlog"
	have, ok := h.Sysctl[key]
	per := int64(n.largestBridge())
	want := max(minBacklog, per+backlogMargin)
	if !ok || have >= want {
		return nil
	}
	f := Finding{
		Setting: key, Have: have, Want: want, Severity: SeverityWarning,
		Fix: sysctlFix(h, setting{key, max(minBacklog, ceilPow2(2*per))}),
		Why: fmt.Sprintf("a broadcast (the host's ARP request for a node) on a network of %d containers queues %d packets at once on one CPU's backlog, which holds this many", per, per),
	}
	if have < per {
		f.Severity = SeverityError
		f.Why += fmt.Sprintf(": %d of them are dropped, and the host cannot resolve those nodes' addresses", per-have)
	}
	return []Finding{f}
}

// openFiles: the harness keeps, per node, the five files of a cgroup.Handle
// and a scrape connection open at once (6), and at times a second scrape
// connection and the monitor's (8 in all); 64 and 256 cover the runtime,
// the Docker API, artifacts and stdio. Below 6 per container opening fails
// (an error); below 8 it may, under load (a warning). The harness is a Go
// program, and Go raises the soft limit to the hard one at start-up, so it
// is the hard limit of the shell that runs go test that counts.
func openFiles(h Host, n Need) []Finding {
	if h.OpenFiles == 0 {
		return nil
	}
	c := int64(n.Containers)
	fail, want := 6*c+64, 8*c+256
	have := count(h.OpenFiles)
	if have >= want {
		return nil
	}
	f := Finding{
		Setting: "open files", Have: have, Want: want,
		Fix: fmt.Sprintf("ulimit -n %d  # in the shell that runs go test; beyond the hard limit (ulimit -Hn) raise it in /etc/security/limits.conf or with LimitNOFILE=",
			ceilPow2(want)),
	}
	if have < fail {
		f.Severity = SeverityError
		f.Why = fmt.Sprintf("the harness keeps at least 6 descriptors open per container, %d with its own for %d containers, and cannot open more than %d", fail, n.Containers, have)
	} else {
		f.Severity = SeverityWarning
		f.Why = fmt.Sprintf("the harness keeps up to 8 descriptors open per container, %d with its own for %d containers, and cannot open more than %d", want, n.Containers, have)
	}
	return []Finding{f}
}

// threads: every thread takes a PID, and each container brings ~20: the Go
// node's ~10 (its goroutines are not threads) and its containerd shim's ~10,
// another Go program. 4,096 are left for the rest of the host. Past either
// bound, fork and thread creation fail; the counts are rough, so a warning.
func threads(h Host, n Need) []Finding {
	want := 20*int64(n.Containers) + 4096
	var fs []Finding
	for _, key := range []string{"kernel.pid_max", "kernel.threads-max"} {
		fs = append(fs, below(h, key, want, SeverityWarning,
			fmt.Sprintf("%d containers run ~20 threads each (the node's and its shim's), every thread takes a PID, and creating threads fails past %s", n.Containers, key),
			sysctlFix(h, setting{key, min(ceilPow2(want), maxPID)}))...)
	}
	return fs
}

// maxPID is PID_MAX_LIMIT on 64-bit Linux, the most kernel.pid_max takes.
const maxPID = 1 << 22

// inotify: on cgroup v2 the containerd shim of every container opens one
// inotify instance to watch memory.events and cgroup.events for OOM kills
// (two watches); the shims all run as root and share root's
// max_user_instances with dockerd and systemd, for which 128 (the default)
// are kept. A shim that gets no instance only logs it and misses its
// container's OOM kills, so a warning. max_user_watches is per user too;
// 32 per container leaves room for followed logs and the rest of root's
// watchers, at a few hundred bytes of kernel memory each.
func inotify(h Host, n Need) []Finding {
	const instances, watches = "fs.inotify.max_user_instances", "fs.inotify.max_user_watches"
	c := int64(n.Containers)
	wantInstances, wantWatches := c+128, 32*c
	var out []Finding
	if h.CgroupVersion != 1 {
		out = below(h, instances, wantInstances, SeverityWarning,
			fmt.Sprintf("on cgroup v2 each of %d containers' shims takes one of root's inotify instances and misses its container's OOM kills without one", n.Containers),
			sysctlFix(h, setting{instances, ceilPow2(wantInstances)}))
	}
	return append(out,
		below(h, watches, wantWatches, SeverityWarning,
			fmt.Sprintf("%d containers' shims and followed logs take root's inotify watches and miss events without them", n.Containers),
			sysctlFix(h, setting{watches, ceilPow2(wantWatches)}))...)
}

// conntrack: with br_netfilter loaded, traffic between containers on a bridge
// passes netfilter, so every connection of the mesh and of the harness takes
// a conntrack entry; 64 per container covers a node's peers, its scrapes and
// the connections in TIME_WAIT. Past the limit the kernel drops the packets
// of new connections ("nf_conntrack: table full, dropping packet"), a
// warning since most meshes connect once. The key is absent when conntrack
// is not loaded: nothing to check.
func conntrack(h Host, n Need) []Finding {
	const key = "net.netfilter.nf_conntrack_max"
	want := 64 * int64(n.Containers)
	return below(h, key, want, SeverityWarning,
		fmt.Sprintf("connections among %d containers take conntrack entries where br_netfilter is loaded, and past %s new ones are dropped", n.Containers, key),
		sysctlFix(h, setting{key, ceilPow2(want)}))
}

// memory: the containers' expected use must fit in MemAvailable (an error
// when it does not: the OOM killer picks nodes or the harness), with 1 GiB
// to spare for the harness, the engine and the page cache (a warning).
const memoryHeadroom = 1 << 30

func memory(h Host, n Need) []Finding {
	per := n.MemoryPerContainerBytes
	if per == 0 || h.MemAvailableBytes == 0 {
		return nil
	}
	have := count(h.MemAvailableBytes)
	need := count(per) * int64(n.Containers)
	if need/int64(n.Containers) != count(per) {
		need = math.MaxInt64 - memoryHeadroom // no host has it: an error all the same
	}
	want := need + memoryHeadroom
	if have >= want {
		return nil
	}
	fit := max((have-memoryHeadroom)/count(per), 0)
	f := Finding{
		Setting: "memory", Have: have, Want: want, Unit: "B",
		Fix: fmt.Sprintf("free %s on the host (stop what else runs), or run at most %d containers", bytes(want-have), fit),
	}
	if have < need {
		f.Severity = SeverityError
		f.Why = fmt.Sprintf("%d containers at %s each need %s and the OOM killer will stop nodes or the harness", n.Containers, bytes(count(per)), bytes(need))
	} else {
		f.Severity = SeverityWarning
		f.Why = fmt.Sprintf("%d containers at %s each need %s, which leaves less than 1 GiB for the harness, the engine and the page cache", n.Containers, bytes(count(per)), bytes(need))
	}
	return []Finding{f}
}

// below returns a finding for the sysctl key when h knows it and it is under
// want; nothing when unknown.
func below(h Host, key string, want int64, sev Severity, why, fix string) []Finding {
	have, ok := h.Sysctl[key]
	if !ok || have >= want {
		return nil
	}
	return []Finding{{Setting: key, Have: have, Want: want, Severity: sev, Why: why, Fix: fix}}
}

type setting struct {
	key   string
	value int64
}

// sysctlFix writes the command that sets each known key of h that is below
// its value; it never lowers a setting. Raise reads the command back.
func sysctlFix(h Host, ss ...setting) string {
	var b strings.Builder
	b.WriteString(sysctlCommand)
	n := 0
	for _, s := range ss {
		if have, ok := h.Sysctl[s.key]; ok && have >= s.value {
			continue
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", s.key, s.value)
		n++
	}
	return b.String()
}

const sysctlCommand = "sudo sysctl -w "

// ceilPow2 returns the least power of two ≥ v (1 for v ≤ 1).
func ceilPow2(v int64) int64 {
	if v <= 1 {
		return 1
	}
	return 1 << bits.Len64(uint64(v-1))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// largestBridge is Need.LargestBridge, or the containers spread evenly.
func (n Need) largestBridge() int {
	if n.LargestBridge > 0 {
		return n.LargestBridge
	}
	return ceilDiv(n.Containers, max(n.Bridges, 1))
}
