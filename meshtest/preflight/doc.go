// Package preflight checks, before any container starts, that this host can
// hold a mesh of n containers on Docker bridge networks, and says exactly
// what to change when it cannot.
//
// A mesh too big for its host does not fail at once: a user who asked for
// 1,000 peers on a host with the kernel's default neighbour table (1,024
// entries) waited 8 minutes for the containers to start before the kernel
// logged "neighbour: arp_cache: neighbor table overflow!" and nodes became
// unreachable. The limits that bite are few and readable in microseconds, so
// the harness reads them first:
//
//	h := preflight.Read()
//	fs := preflight.Check(h, preflight.Need{Containers: 1001, Bridges: 1, Peers: 8})
//	for _, f := range fs {
//		t.Logf("preflight: %s: %s", f.Severity, f)
//	}
//	if err := preflight.Error(fs); err != nil {
//		t.Fatal(err) // names each setting, its value, the bound and the command
//	}
//
// An error finding means the mesh will fail (refuse to start); a warning
// means it may run degraded. Each finding's Fix is the command that fixes it,
// and Raise turns the sysctl ones into writes for a harness that runs as root
// and is allowed to change the host (and puts the old values back).
//
// Check is pure: it reads a Host value, which Read fills from /proc/sys,
// getrlimit and /proc/meminfo and a test builds by hand. A value Read cannot
// read is left out and never checked, never guessed.
package preflight
