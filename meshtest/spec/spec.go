package spec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/meshtest/meshtest/meshtest/metrics"
)

// Spec says how to run one kind of node: the bundled node (Bundled) or any
// other image. Its string fields Args, Env values and Files contents are Go
// templates filled per node with NodeData. A Spec is written in Go or as a
// JSON file (Load); the JSON names are the ones below.
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

	// Transport is what the p2p port speaks, and so the form of the
	// addresses other nodes dial: "tcp" (default, /tcp/P), "quic-v1"
	// (/udp/P/quic-v1) or "websocket" (/tcp/P/ws). Security names the
	// handshake, "noise" (default) or "tls", for nodes that take it (the
	// bundled node reads both from its environment); QUIC brings its own.
	Transport string `json:"transport,omitempty"`
	Security  string `json:"security,omitempty"`

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

	// Workloads says how the harness drives traffic through the node and
	// reads what it saw; nil: the node runs idle experiments only.
	Workloads *WorkloadAPI `json:"workloads,omitempty"`
}

// WorkloadAPI is the contract a node keeps so that the harness can measure
// traffic through it, in the spirit of libp2p/test-plans (environment in,
// JSON out): HTTP requests to the metrics port. A mesh that runs a
// workload tells every node through NodeData (Topic, Perf, Ping), which
// the spec's templates turn into the node's own flags or config, so a node
// of a mesh without workloads runs exactly as idle as before. Each entry is
// optional; a mesh asking for a workload its spec lacks fails before any
// container starts.
type WorkloadAPI struct {
	Gossip *GossipAPI `json:"gossip,omitempty"`
	// PerfPath answers POST {"peer","addr","upload_bytes","download_bytes",
	// "close"} with {"upload_bytes","download_bytes",
	// "time_to_first_byte_ns","download_ns","total_ns","connection_ns",
	// "error"}: one run of /perf/1.0.0, as the bundled node's POST /perf
	// (node/doc.go).
	PerfPath string `json:"perf_path,omitempty"`
	// PingPath answers GET ?peer=<ID>&count=N with {"rtts_ns":[…],
	// "error"}: round trips of /ipfs/ping/1.0.0 over the existing
	// connection, as the bundled node's GET /ping.
	PingPath string `json:"ping_path,omitempty"`
}

// GossipAPI is how a pubsub topic is driven and read.
type GossipAPI struct {
	// Publish publishes one message on the topic.
	Publish Request `json:"publish"`
	// RecordsPath, when set, answers GET with one JSON object a line,
	// {"id":"<32 hex>","first_delivery_ns":N,"duplicates":N}: the node's own
	// record of each message it received (first delivery by its clock),
	// read once at the end. The bundled node's GET /gossip/records.
	RecordsPath string `json:"records_path,omitempty"`
	// Subscribe, for software that keeps no records (Kubo): a streaming
	// request answering one JSON object a line per message received. The
	// harness holds it open from before publishing to the end, reads the
	// payload's header (its ID and publish time) and takes the time it read
	// the line as the delivery: its own clock, which on one machine is the
	// nodes'. Duplicates are then unknown. One of RecordsPath and
	// Subscribe is set.
	Subscribe *Stream `json:"subscribe,omitempty"`
	// ControlBytes, when set, is the node's count of control bytes sent
	// (GRAFT, PRUNE, IHAVE, IWANT, IDONTWANT), read before and after the
	// window.
	ControlBytes *metrics.Query `json:"control_bytes,omitempty"`
	// MeshPeers, when set, is the node's count of peers in its gossip
	// mesh, read at the end of the window for the duplicates floor;
	// without it the harness assumes min(D, degree).
	MeshPeers *metrics.Query `json:"mesh_peers,omitempty"`
}

// Request is an HTTP request to the node's metrics port. Path is a template
// (NodeData: {{.Topic}}, {{.TopicMultibase}}).
type Request struct {
	Method string `json:"method,omitempty"` // default POST
	Path   string `json:"path"`
	// Body is what the request carries:
	//   - "size": JSON {"size":N}; the node builds the payload and answers
	//     {"id":"<32 hex>","published_ns":N} (the bundled node's /publish).
	//   - "multipart": the harness builds the payload (meshtest/workload's
	//     Payload: a 16-byte ID and the publish time, then padding) and posts
	//     it as the form file "file" (Kubo's /api/v0/pubsub/pub).
	//   - "raw": the payload built so is the body.
	Body string `json:"body"`
}

// Stream is a streaming HTTP request whose answer is one JSON object a line.
type Stream struct {
	Method string `json:"method,omitempty"` // default POST
	Path   string `json:"path"`             // a template, as Request's
	// Data names the field holding the message payload; Encoding says how:
	// "multibase" (a prefix letter then the data; Kubo's "u", base64url)
	// or "base64" (standard, padded).
	Data     string `json:"data"`
	Encoding string `json:"encoding"`
}

// Publish bodies a GossipAPI may name.
const (
	BodySize      = "size"
	BodyMultipart = "multipart"
	BodyRaw       = "raw"
)

// Build makes an image offline: the bundled node of this module (Bundled),
// `CGO_ENABLED=0 go install Package` (a module path with @version, fetched
// through the Go module proxy) or a static Binary already on disk, copied
// into a FROM scratch image. Exactly one of the three is set.
type Build struct {
	// Bundled builds node/cmd/meshnode of this module from source. In a JSON
	// spec, {"build": {"bundled": true}} starts from the whole bundled spec
	// (Bundled()), so a file needs only what it changes, e.g. one env value.
	Bundled bool   `json:"bundled,omitempty"`
	Package string `json:"package,omitempty"` // e.g. "github.com/ipfs/kubo/cmd/ipfs@v0.43.1"
	// Requires pins other modules (module@version) by building Package from
	// a throwaway module that requires them too: for programs whose go.mod
	// has replace directives (which `go install pkg@version` refuses), or to
	// build against another version of a dependency.
	Requires []string `json:"requires,omitempty"`
	// Tags are Go build tags for Package, e.g. Prometheus's "remove_all_sd",
	// which leaves out the cloud service discoveries (most of its build).
	Tags   []string `json:"tags,omitempty"`
	Binary string   `json:"binary,omitempty"` // path of a static binary
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
	// Transport and Security are the spec's, defaults filled in: "tcp",
	// "noise" ("" for QUIC, whose handshake is its own).
	Transport, Security string
	// The workloads the mesh runs, for templates to turn on: the pubsub
	// topic every node joins ("" for none), and whether the perf and ping
	// endpoints must answer.
	Topic      string
	Perf, Ping bool
}

// TopicMultibase is Topic as Kubo's RPC API takes it: multibase base64url
// ("u" then unpadded base64url).
func (d NodeData) TopicMultibase() string {
	return "u" + base64.RawURLEncoding.EncodeToString([]byte(d.Topic))
}

// PeerData is a node as another node's templates see it.
type PeerData struct {
	Name, Host, ID string
	P2PPort        int
	Addr           string // /dns4/<host>/tcp/<port>/p2p/<id>, or the transport's form
}

// Transports a spec's p2p port may speak, and the form of the address a
// node dials it at.
var transportAddrs = map[string]string{
	"tcp":       "/dns4/%s/tcp/%d/p2p/%s",
	"quic-v1":   "/dns4/%s/udp/%d/quic-v1/p2p/%s",
	"websocket": "/dns4/%s/tcp/%d/ws/p2p/%s",
}

// TransportName is s.Transport with its default: "tcp".
func (s *Spec) TransportName() string {
	if s.Transport == "" {
		return "tcp"
	}
	return s.Transport
}

// SecurityName is s.Security with its default: "noise", or "" for QUIC,
// which brings its own TLS handshake.
func (s *Spec) SecurityName() string {
	switch {
	case s.TransportName() == "quic-v1":
		return ""
	case s.Security == "":
		return "noise"
	}
	return s.Security
}

// DialAddr is where a node of this spec is dialed: host and port in the
// transport's form, ending in /p2p/id.
func (s *Spec) DialAddr(host string, port int, id string) string {
	return fmt.Sprintf(transportAddrs[s.TransportName()], host, port, id)
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

// Ports of the bundled node inside its container. Nodes are reached on their
// own addresses, so every node can use the same ones.
const (
	BundledP2PPort     = 4001
	BundledMetricsPort = 9090
)

// FigureConnections is the sample column of a node's open connections, the
// figure convergence and drift are judged by.
const FigureConnections = "connections"

// Bundled is the bundled node of node/, built from source.
func Bundled() *Spec {
	return &Spec{
		Name:        "meshnode",
		Build:       &Build{Bundled: true},
		P2PPort:     BundledP2PPort,
		MetricsPort: BundledMetricsPort,
		MetricsPath: "/metrics",
		Env: map[string]string{
			"MESHNODE_KEY":          "{{.Key}}",
			"MESHNODE_LISTEN_PORT":  "{{.P2PPort}}",
			"MESHNODE_METRICS_PORT": "{{.MetricsPort}}",
			"MESHNODE_DIAL":         "{{.DialAddrs}}",
			"MESHNODE_TRANSPORT":    "{{.Transport}}",
			"MESHNODE_SECURITY":     "{{.Security}}",
			// Empty and false are the node's defaults: off.
			"MESHNODE_GOSSIP_TOPIC": "{{.Topic}}",
			"MESHNODE_PERF":         "{{.Perf}}",
			"MESHNODE_PING":         "{{.Ping}}",
		},
		Identity:      Identity{From: "assigned"},
		Ready:         Ready{HTTPPath: "/healthz"},
		Connections:   &metrics.Query{Name: FigureConnections, Family: "meshnode_connections"},
		PeersPath:     "/peers",
		Metrics:       metrics.DefaultQueries(),
		FilterMetrics: true,
		Workloads: &WorkloadAPI{
			Gossip: &GossipAPI{
				Publish:      Request{Path: "/publish", Body: BodySize},
				RecordsPath:  "/gossip/records",
				ControlBytes: &metrics.Query{Name: "gossip_control_bytes_sent", Family: "meshnode_gossip_control_bytes_total", Labels: map[string]string{"direction": "sent"}},
				MeshPeers:    &metrics.Query{Name: "gossip_mesh_peers", Family: "meshnode_gossip_mesh_peers"},
			},
			PerfPath: "/perf",
			PingPath: "/ping",
		},
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

// Load reads a spec from a JSON file. Unknown fields are errors, so a
// misspelt key is not silently ignored. A file whose build is
// {"bundled": true} starts from Bundled(): its other keys replace the bundled
// spec's, and its env and files are added to the bundled ones.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	return s, nil
}

// Parse reads a spec from JSON, as Load does.
func Parse(data []byte) (*Spec, error) {
	decode := func(s *Spec) error {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(s); err != nil {
			return fmt.Errorf("%w (see the README for the schema)", err)
		}
		return nil
	}
	var s Spec
	if err := decode(&s); err != nil {
		return nil, err
	}
	if s.Build != nil && s.Build.Bundled {
		// Decoding onto the bundled spec keeps what the file leaves out and
		// merges its maps into the bundled ones.
		s = *Bundled()
		if err := decode(&s); err != nil {
			return nil, err
		}
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Queries are the figures sampled from the node, the connection count
// included.
func (s *Spec) Queries() []metrics.Query {
	qs := s.Metrics
	if qs == nil {
		qs = defaultQueries()
	}
	if s.Connections != nil {
		has := false
		for _, q := range qs {
			has = has || q.Name == FigureConnections
		}
		if !has {
			c := *s.Connections
			c.Name = FigureConnections
			qs = append(qs, c)
		}
	}
	return qs
}

// buildTag is what `go build -tags` accepts as one tag.
var buildTag = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)

// Check validates a spec before anything starts, including that every
// template parses and uses only fields NodeData has.
func (s *Spec) Check() error {
	if s.Name == "" {
		return fmt.Errorf(`spec without a "name"`)
	}
	where := fmt.Sprintf("spec %q", s.Name)
	switch {
	case s.Image == "" && s.Build == nil:
		return fmt.Errorf(`%s: set "image" (a local tag) or "build"`, where)
	case s.Image != "" && s.Build != nil:
		return fmt.Errorf(`%s: set "image" or "build", not both`, where)
	case s.Build != nil && count(s.Build.Bundled, s.Build.Package != "", s.Build.Binary != "") != 1:
		return fmt.Errorf(`%s: "build" needs exactly one of "bundled", "package" or "binary"`, where)
	case s.Build != nil && len(s.Build.Tags) > 0 && s.Build.Package == "":
		return fmt.Errorf(`%s: "build.tags" apply to a "build.package" only; drop them or build from a package`, where)
	case s.Build != nil && slices.ContainsFunc(s.Build.Tags, func(t string) bool { return !buildTag.MatchString(t) }):
		return fmt.Errorf(`%s: "build.tags" %q: a Go build tag is letters, digits, "_" and "." (one tag per entry)`, where, s.Build.Tags)
	case s.P2PPort <= 0 || s.P2PPort > 65535:
		return fmt.Errorf(`%s: "p2p_port" %d is not a port`, where, s.P2PPort)
	case s.MetricsPort <= 0 || s.MetricsPort > 65535:
		return fmt.Errorf(`%s: "metrics_port" %d is not a port`, where, s.MetricsPort)
	case s.Transport == "webtransport":
		return fmt.Errorf(`%s: "transport" webtransport cannot be dialed by an address known before the node starts (it carries the hash of a certificate the node makes at start); use tcp, quic-v1 or websocket`, where)
	case transportAddrs[s.TransportName()] == "":
		return fmt.Errorf(`%s: "transport" %q; use tcp, quic-v1 or websocket`, where, s.Transport)
	case s.Security != "" && s.Security != "noise" && s.Security != "tls":
		return fmt.Errorf(`%s: "security" %q; use noise or tls`, where, s.Security)
	case s.Security != "" && s.TransportName() == "quic-v1":
		return fmt.Errorf(`%s: "security" %q with transport quic-v1: QUIC brings its own TLS 1.3 handshake; leave "security" out`, where, s.Security)
	}
	switch s.Identity.From {
	case "assigned":
	case "log", "http":
		re, err := LinePattern(s.Identity.Pattern)
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
		if _, err := LinePattern(p); err != nil {
			return fmt.Errorf(`%s: ready "log_pattern": %w`, where, err)
		}
	}
	if err := s.Workloads.check(where); err != nil {
		return err
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

// check validates the contract; nil is valid (no workloads).
func (w *WorkloadAPI) check(where string) error {
	if w == nil || w.Gossip == nil {
		return nil
	}
	g := w.Gossip
	switch g.Publish.Body {
	case BodySize, BodyMultipart, BodyRaw:
	default:
		return fmt.Errorf(`%s: workloads gossip publish "body" %q; use "size", "multipart" or "raw"`, where, g.Publish.Body)
	}
	if g.Publish.Path == "" {
		return fmt.Errorf(`%s: workloads gossip "publish" needs a "path"`, where)
	}
	if (g.RecordsPath == "") == (g.Subscribe == nil) {
		return fmt.Errorf(`%s: workloads gossip needs exactly one of "records_path" (the node keeps records) or "subscribe" (the harness reads a stream)`, where)
	}
	paths := []string{g.Publish.Path}
	if st := g.Subscribe; st != nil {
		if st.Path == "" || st.Data == "" {
			return fmt.Errorf(`%s: workloads gossip "subscribe" needs a "path" and the "data" field that holds the payload`, where)
		}
		if st.Encoding != "multibase" && st.Encoding != "base64" {
			return fmt.Errorf(`%s: workloads gossip subscribe "encoding" %q; use "multibase" or "base64"`, where, st.Encoding)
		}
		paths = append(paths, st.Path)
	}
	for _, p := range paths {
		if _, err := render(p, NodeData{Topic: "t"}); err != nil {
			return fmt.Errorf("%s: workloads gossip path: %w", where, err)
		}
	}
	return nil
}

// RenderPath fills a workload path template for one node.
func RenderPath(path string, d NodeData) (string, error) { return render(path, d) }

// LinePattern compiles a pattern that is matched against a node's whole
// output, in multi-line mode so that ^ and $ anchor at line ends.
func LinePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile("(?m)" + p)
}

func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Rendered is a spec filled in for one node: what a backend runs.
type Rendered struct {
	Args  []string
	Env   map[string]string
	Files map[string]string // path -> content
}

// Render fills every template of s for one node. Errors name the spec and
// the field.
func (s *Spec) Render(d NodeData) (Rendered, error) {
	r := Rendered{Env: map[string]string{}, Files: map[string]string{}}
	for k, v := range s.Env {
		out, err := render(v, d)
		if err != nil {
			return r, fmt.Errorf("spec %s: env %s: %w", s.Name, k, err)
		}
		r.Env[k] = out
	}
	for _, a := range s.Args {
		out, err := render(a, d)
		if err != nil {
			return r, fmt.Errorf("spec %s: args: %w", s.Name, err)
		}
		r.Args = append(r.Args, out)
	}
	for path, v := range s.Files {
		out, err := render(v, d)
		if err != nil {
			return r, fmt.Errorf("spec %s: file %s: %w", s.Name, path, err)
		}
		r.Files[path] = out
	}
	return r, nil
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
