package preflight_test

import (
	"fmt"

	"github.com/meshtest/meshtest/meshtest/preflight"
)

// The host of the issue, with the kernel's default neighbour table, asked
// for a mesh of 1,000 peers and their bootstrap. On a real host, h is
// preflight.Read().
func Example() {
	h := preflight.Host{
		Sysctl: map[string]int64{
			"net.ipv4.neigh.default.gc_thresh1": 128,
			"net.ipv4.neigh.default.gc_thresh2": 512,
			"net.ipv4.neigh.default.gc_thresh3": 1024,
			"kernel.threads-max":                192726,
			"kernel.pid_max":                    4194304,
		},
		OpenFiles:         1048576,
		MemAvailableBytes: 14 << 30,
	}
	fs := preflight.Check(h, preflight.Need{Containers: 1001, Bridges: 1, MemoryPerContainerBytes: 14 << 20})
	for _, f := range fs {
		fmt.Printf("%s: %s\n", f.Severity, f)
	}
	fmt.Println(preflight.Raise(fs))
	// Output:
	// error: net.ipv4.neigh.default.gc_thresh3 = 1024, need ≥ 2258 for 1001 containers: 1001 containers need 2002 entries in the kernel's neighbour table, which every network namespace shares (one on the host and one for the gateway in each container): past 1024 the kernel refuses new ones ("neighbor table overflow!") and nodes become unreachable; fix: sudo sysctl -w net.ipv4.neigh.default.gc_thresh1=512 net.ipv4.neigh.default.gc_thresh2=2048 net.ipv4.neigh.default.gc_thresh3=4096
	// warning: memory = 14.0 GiB, need ≥ 14.7 GiB for 1001 containers: 1001 containers at 14.0 MiB each need 13.7 GiB, which leaves less than 1 GiB for the harness, the engine and the page cache; fix: free 702.0 MiB on the host (stop what else runs), or run at most 950 containers
	// warning: net.ipv4.neigh.default.gc_thresh2 = 512, need ≥ 2002 for 1001 containers: 1001 containers need 2002 entries in the kernel's neighbour table, which every network namespace shares (one on the host and one for the gateway in each container): above 512, entries idle for 5 s are collected and resolved again, adding latency; fix: sudo sysctl -w net.ipv4.neigh.default.gc_thresh1=512 net.ipv4.neigh.default.gc_thresh2=2048 net.ipv4.neigh.default.gc_thresh3=4096
	// map[/proc/sys/net/ipv4/neigh/default/gc_thresh1:512 /proc/sys/net/ipv4/neigh/default/gc_thresh2:2048 /proc/sys/net/ipv4/neigh/default/gc_thresh3:4096]
}

// A harness that may not change the host refuses to start a mesh it cannot
// hold, naming what to change.
func ExampleError() {
	h := preflight.Host{Sysctl: map[string]int64{"net.ipv4.neigh.default.gc_thresh3": 1024}}
	err := preflight.Error(preflight.Check(h, preflight.Need{Containers: 1100}))
	fmt.Println(err)
	// Output:
	// preflight: bridge ports = 1023, need ≥ 1100 for 1100 containers: a Linux bridge takes at most 1023 interfaces (port 0 is its own), so the 1024th of 1100 containers on one network fails to attach with "exchange full"; fix: spread the mesh over at least 2 bridge networks (Need.Bridges), or run at most 1023 containers
	// preflight: net.ipv4.neigh.default.gc_thresh3 = 1024, need ≥ 2456 for 1100 containers: 1100 containers need 2200 entries in the kernel's neighbour table, which every network namespace shares (one on the host and one for the gateway in each container): past 1024 the kernel refuses new ones ("neighbor table overflow!") and nodes become unreachable; fix: sudo sysctl -w net.ipv4.neigh.default.gc_thresh1=1024 net.ipv4.neigh.default.gc_thresh2=4096 net.ipv4.neigh.default.gc_thresh3=8192
}
