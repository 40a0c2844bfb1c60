package meshtest

import (
	"cmp"
	"fmt"
	"regexp"
	"runtime"
	"time"
)

// MaxNodes is the most containers one Linux bridge network can hold: a bridge
// takes at most 1024 ports and the gateway is one of them.
const MaxNodes = 1023

// Config describes one experiment's mesh. The zero value of every field but
// Peers is usable; withDefaults documents what it becomes. A Config maps
// one-to-one to the experiment flags and is saved verbatim in the summary.
type Config struct {
	// Name names the experiment in container names, labels and artifact
	// file names, e.g. "star". Default "mesh". Letters, digits and '-'.
	Name string `json:"name"`

	// Peers is the number of nodes besides the bootstrap: 1..MaxNodes-1.
	Peers int `json:"peers"`

	// Spec says how to run every node; nil means BundledSpec(), the node
	// in node/ built from source into a FROM scratch image.
	Spec *Spec `json:"spec,omitempty"`
	// BootstrapSpec, when set, runs the bootstrap (node 0) instead of Spec.
	BootstrapSpec *Spec `json:"bootstrap_spec,omitempty"`
	// Groups split the peers between specs, in order: the first Count peers
	// run Groups[0].Spec, and so on; the counts must add up to Peers. Each
	// group's peers take the group's name as their role, so a test compares
	// groups the way TestStar compares the bootstrap with the peers.
	Groups []Group `json:"groups,omitempty"`

	// Image, when set, replaces the image of every spec: the same node
	// contract, another build of it.
	Image string `json:"image,omitempty"`

	// Env is added to every node's environment, e.g.
	// {"MESHNODE_CONN_HIGH": "50"}.
	Env map[string]string `json:"env,omitempty"`

	// Parallelism bounds how many containers are created at once. Default 4:
	// measured here, the engine starts ~5-6 containers/s and more does not help.
	Parallelism int `json:"parallelism"`

	// ConvergeTimeout bounds the wait for every edge of the topology to be
	// connected. Default 60 s plus 200 ms per node.
	ConvergeTimeout time.Duration `json:"converge_timeout"`

	// Interval is the sampling period of Record. Default 1 s.
	Interval time.Duration `json:"interval"`

	// Keep leaves the mesh running after the test and prints how to remove it.
	Keep bool `json:"keep,omitempty"`

	// ResultsDir, when set, receives a copy of the artifacts, for runs
	// without `go test -artifacts` whose artifact directory is temporary.
	ResultsDir string `json:"results_dir,omitempty"`

	// PublishPorts reaches nodes through their metrics port published on
	// 127.0.0.1 (never 0.0.0.0) instead of their container IPs. Needed where
	// the host cannot route to container IPs (Docker Desktop on macOS and
	// Windows), where it is the default. It costs a docker-proxy process per
	// node, and the mesh network then cannot be internal: Docker publishes no
	// ports from internal networks.
	PublishPorts bool `json:"publish_ports,omitempty"`

	// Monitor deploys a real Prometheus server (built from source) into the
	// mesh, scraping every node and the harness's container samples; its
	// TSDB snapshot goes into the artifacts. Off: nothing of it is built.
	Monitor bool `json:"monitor,omitempty"`
	// Services are started on the mesh's network once it has converged:
	// other tools (a collector, a log store) that are not nodes.
	Services []*Spec `json:"services,omitempty"`

	// MeasureFloor makes New first create and start Peers+1 plain containers
	// straight through the Docker API, so bring-up is reported against the raw
	// engine measured in the same run.
	MeasureFloor bool `json:"measure_floor,omitempty"`
}

// Group is a share of the peers running one spec.
type Group struct {
	Name  string `json:"name"` // the peers' role; default the spec's name
	Spec  *Spec  `json:"spec"`
	Count int    `json:"count"`
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*$`)

func (c Config) withDefaults() Config {
	if runtime.GOOS != "linux" {
		c.PublishPorts = true
	}
	if c.Name == "" {
		c.Name = "mesh"
	}
	if c.Parallelism == 0 {
		c.Parallelism = 4
	}
	if c.ConvergeTimeout == 0 {
		c.ConvergeTimeout = 60*time.Second + time.Duration(c.Peers+1)*200*time.Millisecond
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	return c
}

// validate returns an error naming the field, the value and the fix.
func (c Config) validate() error {
	switch {
	case c.Peers < 1:
		return fmt.Errorf("peers = %d: a mesh needs at least 1 peer besides the bootstrap; set -peers between 1 and %d", c.Peers, MaxNodes-1)
	case c.Peers+1 > MaxNodes:
		return fmt.Errorf("peers = %d: one Docker bridge network holds at most %d containers (a Linux bridge has 1024 ports), so at most %d peers besides the bootstrap; set -peers between 1 and %d", c.Peers, MaxNodes, MaxNodes-1, MaxNodes-1)
	case !validName.MatchString(c.Name):
		return fmt.Errorf("name %q: use letters, digits and '-' (it becomes part of container names)", c.Name)
	case c.Parallelism < 1:
		return fmt.Errorf("parallelism = %d: must be at least 1", c.Parallelism)
	case c.Interval < 100*time.Millisecond:
		return fmt.Errorf("interval = %v: sample at most every 100ms; a scrape of every node must fit in one interval", c.Interval)
	case c.ConvergeTimeout < time.Second:
		return fmt.Errorf("converge timeout = %v: allow at least 1s", c.ConvergeTimeout)
	}
	for _, s := range []*Spec{c.Spec, c.BootstrapSpec} {
		if s != nil && !s.bundled {
			if err := s.check(); err != nil {
				return err
			}
		}
	}
	for i, s := range c.Services {
		if s == nil {
			return fmt.Errorf("service %d is nil", i)
		}
		if !s.bundled {
			sc := *s
			if sc.Identity.From == "" {
				sc.Identity.From = "assigned" // a service has no identity to learn
			}
			if err := sc.check(); err != nil {
				return fmt.Errorf("service %d: %w", i, err)
			}
		}
	}
	if len(c.Groups) > 0 {
		sum := 0
		seen := map[string]bool{"bootstrap": true}
		for i, g := range c.Groups {
			if g.Spec == nil {
				return fmt.Errorf("group %d (%q) has no spec", i, g.Name)
			}
			if !g.Spec.bundled {
				if err := g.Spec.check(); err != nil {
					return fmt.Errorf("group %d: %w", i, err)
				}
			}
			name := cmp.Or(g.Name, g.Spec.Name)
			if seen[name] {
				return fmt.Errorf("group name %q is used twice (or is \"bootstrap\"): give each group its own name", name)
			}
			seen[name] = true
			if g.Count < 1 {
				return fmt.Errorf("group %q: count %d, need at least 1", name, g.Count)
			}
			sum += g.Count
		}
		if sum != c.Peers {
			return fmt.Errorf("groups hold %d peers in all, but peers = %d: make the counts add up", sum, c.Peers)
		}
	}
	return nil
}

// Check reports what is wrong with c, as New would, without touching Docker:
// experiments call it first so that bad flags fail fast and clearly even on
// a machine without an engine.
func (c Config) Check() error {
	return c.withDefaults().validate()
}
