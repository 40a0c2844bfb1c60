package metrics

// Query names one figure meshtest samples from a node's endpoint: the sum of
// the series of Family that match Labels, recorded in column Name.
//
// A spec file writes it {"name": …, "family": …, "labels": {…}}, in the
// snake_case of the keys around it. encoding/json matches keys regardless of
// case, so files written before the tags existed, with "Name", "Family" and
// "Labels", still load.
type Query struct {
	// Name is the column name in samples, charts and reports, e.g. "goroutines".
	Name string `json:"name"`
	// Family is the Prometheus metric family, e.g. "go_goroutines".
	Family string `json:"family"`
	// Labels restricts the sum to matching series; nil means all series.
	Labels map[string]string `json:"labels,omitempty"`
}

// DefaultQueries returns the figures sampled from the bundled node: the Go
// runtime and process figures every client_golang program exposes, and the
// node's own meshnode_* gauges for the libp2p state it holds. It returns a
// fresh slice, so callers may append to it.
func DefaultQueries() []Query {
	return []Query{
		{Name: "goroutines", Family: "go_goroutines"},
		{Name: "heap_inuse_bytes", Family: "go_memstats_heap_inuse_bytes"},
		{Name: "rss_bytes", Family: "process_resident_memory_bytes"},
		{Name: "open_fds", Family: "process_open_fds"},
		{Name: "process_cpu_seconds", Family: "process_cpu_seconds_total"},
		{Name: "connections", Family: "meshnode_connections"},
		{Name: "peers", Family: "meshnode_peers"},
		{Name: "streams", Family: "meshnode_streams"},
	}
}

// FamilyNames returns the distinct families qs read, in order of first use:
// the names to pass to FilterURL.
func FamilyNames(qs []Query) []string {
	names := make([]string, 0, len(qs))
	seen := make(map[string]bool, len(qs))
	for _, q := range qs {
		if !seen[q.Family] {
			seen[q.Family] = true
			names = append(names, q.Family)
		}
	}
	return names
}

// Extract evaluates qs against f. It returns the value of every query that
// matched, keyed by Query.Name, and the names of those that did not (family
// absent, no series matching the labels, or a summary or histogram), in the
// order of qs. A node that lacks a figure is not an error here: the sampler
// records a gap and the experiment decides whether that matters.
func Extract(f Families, qs []Query) (values map[string]float64, missing []string) {
	values = make(map[string]float64, len(qs))
	for _, q := range qs {
		v, ok := f.Value(q.Family, q.Labels)
		if !ok {
			missing = append(missing, q.Name)
			continue
		}
		values[q.Name] = v
	}
	return values, missing
}
