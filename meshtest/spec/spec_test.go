package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validSpec() *Spec {
	return &Spec{
		Name: "other", Image: "other:v1", P2PPort: 4001, MetricsPort: 8080,
		Args:     []string{"--connect={{.DialAddrs}}", "--port={{.P2PPort}}"},
		Identity: Identity{From: "log", Pattern: `Peer ID: (?P<id>\w+)`},
	}
}

func TestSpecCheck(t *testing.T) {
	require.NoError(t, validSpec().Check())
	for _, tc := range []struct {
		name   string
		break_ func(*Spec)
		want   string
	}{
		{"no image", func(s *Spec) { s.Image = "" }, `set "image" (a local tag) or "build"`},
		{"both", func(s *Spec) { s.Build = &Build{Binary: "x"} }, `"image" or "build", not both`},
		{"tags without a package", func(s *Spec) { s.Image, s.Build = "", &Build{Binary: "x", Tags: []string{"netgo"}} }, `"build.tags" apply to a "build.package" only`},
		{"two tags in one", func(s *Spec) { s.Image, s.Build = "", &Build{Package: "a/b@v1", Tags: []string{"a,b"}} }, `"build.tags" ["a,b"]: a Go build tag is letters`},
		{"port", func(s *Spec) { s.MetricsPort = 0 }, `"metrics_port" 0 is not a port`},
		{"unknown field", func(s *Spec) { s.Args = []string{"{{.Nope}}"} }, "can't evaluate field Nope"},
		{"bad template", func(s *Spec) { s.Env = map[string]string{"X": "{{.Name"} }, "env X"},
		{"identity from", func(s *Spec) { s.Identity.From = "dns" }, `use "assigned", "log" or "http"`},
		{"no id group", func(s *Spec) { s.Identity.Pattern = `Peer ID: \w+` }, "needs a group named id"},
		{"key without assignment", func(s *Spec) { s.Env = map[string]string{"K": "{{.Key}}"} }, `exist only with identity "from": "assigned"`},
		{"transport", func(s *Spec) { s.Transport = "udp" }, `"transport" "udp"; use tcp, quic-v1 or websocket`},
		{"webtransport", func(s *Spec) { s.Transport = "webtransport" }, "hash of a certificate the node makes at start"},
		{"security", func(s *Spec) { s.Security = "plaintext" }, `"security" "plaintext"; use noise or tls`},
		{"security over quic", func(s *Spec) { s.Transport, s.Security = "quic-v1", "tls" }, "QUIC brings its own TLS 1.3 handshake"},
		{"publish body", func(s *Spec) { s.Workloads = gossipAPI(func(g *GossipAPI) { g.Publish.Body = "form" }) }, `publish "body" "form"`},
		{"publish path", func(s *Spec) { s.Workloads = gossipAPI(func(g *GossipAPI) { g.Publish.Path = "" }) }, `"publish" needs a "path"`},
		{"records and subscribe", func(s *Spec) {
			s.Workloads = gossipAPI(func(g *GossipAPI) { g.Subscribe = &Stream{Path: "/sub", Data: "data", Encoding: "base64"} })
		}, `exactly one of "records_path"`},
		{"neither records nor subscribe", func(s *Spec) { s.Workloads = gossipAPI(func(g *GossipAPI) { g.RecordsPath = "" }) }, `exactly one of "records_path"`},
		{"subscribe encoding", func(s *Spec) {
			s.Workloads = gossipAPI(func(g *GossipAPI) {
				g.RecordsPath, g.Subscribe = "", &Stream{Path: "/sub", Data: "data", Encoding: "hex"}
			})
		}, `subscribe "encoding" "hex"`},
		{"path template", func(s *Spec) { s.Workloads = gossipAPI(func(g *GossipAPI) { g.Publish.Path = "/pub?arg={{.Topik}}" }) }, "can't evaluate field Topik"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.break_(s)
			assert.ErrorContains(t, s.Check(), tc.want)
			assert.ErrorContains(t, s.Check(), `spec "other"`, "the error names the spec")
		})
	}
}

// gossipAPI is a valid gossip contract changed by change.
func gossipAPI(change func(*GossipAPI)) *WorkloadAPI {
	g := &GossipAPI{Publish: Request{Path: "/publish?t={{.TopicMultibase}}", Body: BodySize}, RecordsPath: "/records"}
	change(g)
	return &WorkloadAPI{Gossip: g}
}

// TestBundledWorkloadsOff: a node of a mesh without workloads gets the
// node's own defaults (empty, false), so it runs as idle as before.
func TestBundledWorkloadsOff(t *testing.T) {
	off, err := Bundled().Render(NodeData{})
	require.NoError(t, err)
	on, err := Bundled().Render(NodeData{Topic: "blocks", Perf: true, Ping: true})
	require.NoError(t, err)
	for _, k := range []string{"MESHNODE_GOSSIP_TOPIC", "MESHNODE_PERF", "MESHNODE_PING"} {
		assert.Contains(t, []string{"", "false"}, off.Env[k], k)
	}
	assert.Equal(t, "blocks", on.Env["MESHNODE_GOSSIP_TOPIC"])
	assert.Equal(t, "true", on.Env["MESHNODE_PERF"])
	assert.Equal(t, "true", on.Env["MESHNODE_PING"])
	assert.Equal(t, "uYmxvY2tz", NodeData{Topic: "blocks"}.TopicMultibase())
}

// TestDialAddr: other nodes dial a node at its transport's address form.
func TestDialAddr(t *testing.T) {
	for transport, want := range map[string]string{
		"":          "/dns4/bootstrap/tcp/4001/p2p/12D3",
		"tcp":       "/dns4/bootstrap/tcp/4001/p2p/12D3",
		"quic-v1":   "/dns4/bootstrap/udp/4001/quic-v1/p2p/12D3",
		"websocket": "/dns4/bootstrap/tcp/4001/ws/p2p/12D3",
	} {
		s := Bundled()
		s.Transport = transport
		require.NoError(t, s.Check())
		assert.Equal(t, want, s.DialAddr("bootstrap", 4001, "12D3"), "transport %q", transport)
	}
	s := Bundled()
	s.Transport = "quic-v1"
	assert.Empty(t, s.SecurityName(), "QUIC's handshake is its own")
	assert.Equal(t, "noise", Bundled().SecurityName())
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	s, err := Load(write("ok.json", `{"name":"x","image":"x:1","p2p_port":1,"metrics_port":2,
		"identity":{"from":"log","pattern":"id=(?P<id>\\S+)"},
		"connections":{"Name":"connections","Family":"libp2p_rcmgr_connections","Labels":{"scope":"system"}}}`))
	require.NoError(t, err)
	assert.Equal(t, "libp2p_rcmgr_connections", s.Connections.Family)

	_, err = Load(write("typo.json", `{"name":"x","imag":"x:1"}`))
	assert.ErrorContains(t, err, `unknown field "imag"`)
	_, err = Load(filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "missing.json")
}

func TestRenderNodeData(t *testing.T) {
	d := NodeData{Name: "peer-001", P2PPort: 4001, Dial: []PeerData{{Addr: "/dns4/a/tcp/1/p2p/A"}, {Addr: "/dns4/b/tcp/1/p2p/B"}}}
	got, err := render("-n {{.Name}} -p {{.P2PPort}} -d {{.DialAddrs}}", d)
	require.NoError(t, err)
	assert.Equal(t, "-n peer-001 -p 4001 -d /dns4/a/tcp/1/p2p/A,/dns4/b/tcp/1/p2p/B", got)
}

// TestBundledJSON: the bundled node can be written as a JSON spec that
// changes one thing and keeps the rest.
func TestBundledJSON(t *testing.T) {
	s, err := Parse([]byte(`{"name":"meshnode-limited","build":{"bundled":true},"env":{"MESHNODE_CONN_HIGH":"50"}}`))
	require.NoError(t, err)
	b := Bundled()
	assert.Equal(t, "meshnode-limited", s.Name)
	assert.True(t, s.Build.Bundled)
	assert.Equal(t, "50", s.Env["MESHNODE_CONN_HIGH"], "the file's env value")
	assert.Equal(t, b.Env["MESHNODE_DIAL"], s.Env["MESHNODE_DIAL"], "the bundled env is kept")
	assert.Equal(t, b.PeersPath, s.PeersPath)
	assert.Equal(t, b.Connections, s.Connections)
	assert.Equal(t, "assigned", s.Identity.From)

	_, err = Parse([]byte(`{"name":"x","build":{"bundled":true,"package":"a/b@v1"}}`))
	assert.ErrorContains(t, err, `exactly one of "bundled", "package" or "binary"`)
}

func TestRender(t *testing.T) {
	s := validSpec()
	s.Files = map[string]string{"/etc/x.conf": "peers = {{.DialAddrs}}"}
	s.Env = map[string]string{"NAME": "{{.Name}}"}
	r, err := s.Render(NodeData{Name: "peer-001", P2PPort: 4001, Dial: []PeerData{{Addr: "/dns4/a/tcp/1/p2p/A"}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"--connect=/dns4/a/tcp/1/p2p/A", "--port=4001"}, r.Args)
	assert.Equal(t, map[string]string{"NAME": "peer-001"}, r.Env)
	assert.Equal(t, "peers = /dns4/a/tcp/1/p2p/A", r.Files["/etc/x.conf"])

	s.Env["BAD"] = "{{.Nope}}"
	_, err = s.Render(NodeData{})
	assert.ErrorContains(t, err, `spec other: env BAD`)
}
