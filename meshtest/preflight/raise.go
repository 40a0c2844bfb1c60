package preflight

import (
	"strconv"
	"strings"
)

// Raise returns the sysctl writes, path under /proc/sys -> value, that would
// fix the sysctl findings of fs: what their Fix commands would write, every
// key of a command included (raising gc_thresh3 also raises gc_thresh1 and
// gc_thresh2), the largest value where two findings write one key. Findings
// whose fix is not a sysctl (open files, bridge ports, memory) are not in
// it; it is nil when there is nothing to write.
//
// It is for a harness that runs as root (Host.Root) and is allowed to change
// the host: it writes each value and puts the old one, Host.Sysctl of the
// same key, back when the mesh is gone.
func Raise(fs []Finding) map[string]int64 {
	var w map[string]int64
	for _, f := range fs {
		args, ok := strings.CutPrefix(f.Fix, sysctlCommand)
		if !ok {
			continue
		}
		for _, arg := range strings.Fields(args) {
			if strings.HasPrefix(arg, "#") {
				break
			}
			key, v, ok := strings.Cut(arg, "=")
			if !ok {
				continue
			}
			value, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			if w == nil {
				w = make(map[string]int64)
			}
			path := SysctlPath(key)
			if old, ok := w[path]; !ok || value > old {
				w[path] = value
			}
		}
	}
	return w
}

// SysctlPath maps a sysctl name to its file, as sysctl(8) does:
// "net.ipv4.neigh.default.gc_thresh3" ->
// "/proc/sys/net/ipv4/neigh/default/gc_thresh3". A name already written with
// slashes maps the same way.
func SysctlPath(key string) string {
	return "/proc/sys/" + strings.ReplaceAll(strings.TrimPrefix(key, "/"), ".", "/")
}
