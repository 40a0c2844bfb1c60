//go:build !linux

package node

import "github.com/prometheus/client_golang/prometheus"

// newProcessSource returns client_golang's standard process collector: the
// lean source in process_linux.go reads Linux's /proc, and elsewhere (macOS
// for in-process tests) a scrape's cost matters less than its working at all.
func newProcessSource() prometheus.Gatherer {
	return standardProcessSource()
}
