// Package cgroup reads a container's resource use straight from the host's
// cgroup and proc filesystems.
//
// Asking the Docker daemon for stats costs a request, a JSON document and
// daemon CPU per container per sample, and the daemon itself samples over a
// second or more; for 100 containers every second that is both slow and part
// of the load being measured. The kernel keeps the same counters in a few
// small files, which cost microseconds to read.
//
//	r, err := cgroup.NewReader("/sys/fs/cgroup", "/proc")
//	if err != nil { /* fall back to the Docker stats API */ }
//	c, err := r.Find(containerID) // once per container
//	h, err := c.Open(initPID)     // keeps its five files open
//	defer h.Close()
//	st, err := h.Read()           // every interval
//
// Both cgroup v1 (cgroupfs and systemd drivers; hybrid hosts included) and
// cgroup v2 are supported. The figures match what `docker stats` shows: memory
// is usage minus inactive file cache, network is summed over the container's
// interfaces except loopback.
//
// MemTotal reads the host's memory, the ceiling those figures are read
// against, from /proc/meminfo.
//
// The paths must be the host's: inside a container, /sys/fs/cgroup shows only
// that container's own tree, and NewReader or Find fails with the paths it
// tried.
package cgroup
