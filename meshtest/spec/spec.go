package meshtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/meshtest/meshtest/meshtest/metrics"
)

// Spec says how to run one kind of node: the bundled node (BundledSpec) or
// any other image. Its string fields Args, Env values and Files contents are
// Go templates filled per node with NodeData. A Spec is written in Go or as a
// JSON file (LoadSpec); the JSON names are the ones below.
type Spec struct {
	// Name names the spec's group in roles, labels and reports: "meshnode".
	Name string `json:"name"`
	// Image is a local image tag. No registry is reachable: build it first,
	// or use Build.
	Image string `json:"image,omitempty"`
	// Build builds the image offline from a Go package or a static binary.
	Build *Build `json:"build,omitempty"`

	P2PPort     int    `json:"p2p_port"`               // libp2p port inside the container
	MetricsPort int    `json:"metrics_port"`           // Prometheus port inside the container
	MetricsPath string `json:"metrics_path,omitempty"` // default "/metrics"

	Args []string          `json:"args,omitempty"` // container command (after the image's entrypoint), templates
	Env  map[string]string `json:"env,omitempty"`  // values are templates
	// Files are placed in the container before it starts: path -> content
	// (a template). The root filesystem is then writable, since Docker cannot
	// copy into a read-only one.
	Files map[string]string `json:"files,omitempty"`
	// Tmpfs mounts writable memory-backed directories: path -> options
	// ("" or e.g. "size=16m"), for software that needs a scratch directory.
	Tmpfs map[string]string `json:"tmpfs,omitempty"`

	Identity Identity `json:"identity"`
	Ready    Ready    `json:"ready"`

	// Connections counts a node's open connections from its metrics, so
	// convergence can be proven for any software that exposes such a figure.
	// Nil: convergence is unverified, and the experiment says so.
	Connections *metrics.Query `json:"connections,omitempty"`
	// PeersPath is an endpoint listing connected peer IDs as the bundled
	// node's /peers does; when set, convergence is checked peer by peer.
	PeersPath string `json:"peers_path,omitempty"`
	// Metrics are the figures sampled from the node's endpoint; default: the
	// Go runtime and process figures every client_golang program exposes.
	Metrics []metrics.Query `json:"metrics,omitempty"`
	// FilterMetrics asks the endpoint for only the families sampled, with
	// repeated name[] parameters (the bundled node supports it).
	FilterMetrics bool `json:"filter_metrics,omitempty"`

	// MemoryBytes and CPUs limit each container; 0 means no limit.
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	// CapAdd grants capabilities beyond none, only when asked (e.g.
	// NET_ADMIN for traffic shaping).
	CapAdd []string `json:"cap_add,omitempty"`

	bundled bool // BundledSpec: built from node/ in this module
}

// Build makes an image offline: `CGO_ENABLED=0 go install Package` (a module
// path with @version, fetched through the Go module proxy) or a static Binary
// already on disk, copied into a FROM scratch image.
type Build struct {
	Package string `json:"package,omitempty"` // e.g. "github.com/ipfs/kubo/cmd/ipfs@v0.43.1"
	// Requires pins other modules (module@version) by building Package from
	// a throwaway module that requires them too: for programs whose go.mod
	// has replace directives (which `go install pkg@version` refuses), or to
	// build against another version of a dependency.
	Requires []string `json:"requires,omitempty"`
	Binary   string   `json:"binary,omitempty"` // path of a static binary
}

// Identity says how the harness learns a node's peer ID.
type Identity struct {
	// From is "assigned" (the harness generates the key and hands it in with
	// {{.Key}}: every ID is known before any container starts), "log" (a
	// line of the node's output matches Pattern) or "http" (the body of
	// MetricsPort+Path matches Pattern). Patterns are matched in multi-line
	// mode: ^ and $ anchor at the ends of a line.
	From    string `json:"from"`
	Pattern string `json:"pattern,omitempty"` // a regexp with a group named id
	Path    string `json:"path,omitempty"`
}

// Ready says when a node is up: a log line matching LogPattern, a 200 from
// HTTPPath on the metrics port, or Metric reaching MetricMin. Empty means a
// 200 from the metrics path.
type Ready struct {
	LogPattern string         `json:"log_pattern,omitempty"`
	HTTPPath   string         `json:"http_path,omitempty"`
	Metric     *metrics.Query `json:"metric,omitempty"`
	MetricMin  float64        `json:"metric_min,omitempty"`
}

// NodeData is what a spec's templates see for one node.
type NodeData struct {
	Index       int    // position in the topology; 0 is the bootstrap
	Name        string // "bootstrap", "peer-007": also the node's DNS name on the mesh network
	Role        string
	Host        string // the node's DNS name, as others reach it
	P2PPort     int
	MetricsPort int
	Key         string // base64 libp2p private key, when identity is assigned
	PeerID      string // the node's own ID, when assigned
	Dial        []PeerData
	Bootstrap   PeerData // node 0; its ID is empty while unknown
}

// PeerData is a node as another node's templates see it.
type PeerData struct {
	Name, Host, ID string
	P2PPort        int
	Addr           string // /dns4/<host>/tcp/<port>/p2p/<id>
}

// DialAddrs joins the Addr of every node to dial with commas: the usual form
// of a "peers to connect to" flag.
func (d NodeData) DialAddrs() string {
	var out []string
	for _, p := range d.Dial {
		out = append(out, p.Addr)
	}
	return strings.Join(out, ",")
}

// BundledSpec is the bundled node of node/, built from source.
func BundledSpec() *Spec {
	return &Spec{
		Name:        "meshnode",
		P2PPort:     P2PPort,
		MetricsPort: MetricsPort,
		MetricsPath: "/metrics",
		Env: map[string]string{
			"MESHNODE_KEY":          "{{.Key}}",
			"MESHNODE_LISTEN_PORT":  "{{.P2PPort}}",
			"MESHNODE_METRICS_PORT": "{{.MetricsPort}}",
			"MESHNODE_DIAL":         "{{.DialAddrs}}",
		},
		Identity:      Identity{From: "assigned"},
		Ready:         Ready{HTTPPath: "/healthz"},
		Connections:   &metrics.Query{Name: FigConns, Family: "meshnode_connections"},
		PeersPath:     "/peers",
		Metrics:       metrics.DefaultQueries(),
		FilterMetrics: true,
		bundled:       true,
	}
}

// defaultQueries are the figures any client_golang program exposes.
func defaultQueries() []metrics.Query {
	var out []metrics.Query
	for _, q := range metrics.DefaultQueries() {
		if strings.HasPrefix(q.Family, "go_") || strings.HasPrefix(q.Family, "process_") {
			out = append(out, q)
		}
	}
	return out
}

// LoadSpec reads a spec from a JSON file. Unknown fields are errors, so a
// misspelt key is not silently ignored.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("spec %s: %w (see the README for the schema)", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	return &s, nil
}

// queries are the figures sampled from the node, the connection count
// included.
func (s *Spec) queries() []metrics.Query {
	qs := s.Metrics
	if qs == nil {
		qs = defaultQueries()
	}
	if s.Connections != nil {
		has := false
		for _, q := range qs {
			has = has || q.Name == FigConns
		}
		if !has {
			c := *s.Connections
			c.Name = FigConns
			qs = append(qs, c)
		}
	}
	return qs
}

// check validates a spec before anything starts, including that every
// template parses and uses only fields NodeData has.
func (s *Spec) check() error {
	if s.Name == "" {
		return fmt.Errorf(`spec without a "name"`)
	}
	where := fmt.Sprintf("spec %q", s.Name)
	switch {
	case s.Image == "" && s.Build == nil:
		return fmt.Errorf(`%s: set "image" (a local tag) or "build"`, where)
	case s.Image != "" && s.Build != nil:
		return fmt.Errorf(`%s: set "image" or "build", not both`, where)
	case s.Build != nil && (s.Build.Package == "") == (s.Build.Binary == ""):
		return fmt.Errorf(`%s: "build" needs exactly one of "package" or "binary"`, where)
	case s.P2PPort <= 0 || s.P2PPort > 65535:
		return fmt.Errorf(`%s: "p2p_port" %d is not a port`, where, s.P2PPort)
	case s.MetricsPort <= 0 || s.MetricsPort > 65535:
		return fmt.Errorf(`%s: "metrics_port" %d is not a port`, where, s.MetricsPort)
	}
	switch s.Identity.From {
	case "assigned":
	case "log", "http":
		re, err := compileLinePattern(s.Identity.Pattern)
		if err != nil {
			return fmt.Errorf(`%s: identity "pattern": %w`, where, err)
		}
		if re.SubexpIndex("id") < 0 {
			return fmt.Errorf(`%s: identity "pattern" %q needs a group named id, e.g. "Peer ID: (?P<id>\\w+)"`, where, s.Identity.Pattern)
		}
	default:
		return fmt.Errorf(`%s: identity "from" is %q; use "assigned", "log" or "http"`, where, s.Identity.From)
	}
	if p := s.Ready.LogPattern; p != "" {
		if _, err := compileLinePattern(p); err != nil {
			return fmt.Errorf(`%s: ready "log_pattern": %w`, where, err)
		}
	}
	probe := NodeData{Dial: []PeerData{{}}}
	for _, a := range s.Args {
		if _, err := render(a, probe); err != nil {
			return fmt.Errorf("%s: args: %w", where, err)
		}
	}
	for k, v := range s.Env {
		if _, err := render(v, probe); err != nil {
			return fmt.Errorf("%s: env %s: %w", where, k, err)
		}
	}
	for path, v := range s.Files {
		if _, err := render(v, probe); err != nil {
			return fmt.Errorf("%s: file %s: %w", where, path, err)
		}
	}
	if s.Identity.From != "assigned" {
		for _, t := range append(append([]string{}, s.Args...), mapValues(s.Env)...) {
			if strings.Contains(t, ".Key") || strings.Contains(t, ".PeerID") {
				return fmt.Errorf(`%s: a template uses .Key or .PeerID, which exist only with identity "from": "assigned"`, where)
			}
		}
	}
	return nil
}

// compileLinePattern compiles a pattern that is matched against a node's
// whole output, in multi-line mode so that ^ and $ anchor at line ends.
func compileLinePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile("(?m)" + p)
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// render fills one template. An unknown field is an error naming it
// (text/template reports "can't evaluate field X in type NodeData").
func render(text string, d NodeData) (string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("template %q: %w", text, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("template %q: %w", text, err)
	}
	return b.String(), nil
}
