package meshtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/topology"
)

func validSpec() *Spec {
	return &Spec{
		Name: "other", Image: "other:v1", P2PPort: 4001, MetricsPort: 8080,
		Args:     []string{"--connect={{.DialAddrs}}", "--port={{.P2PPort}}"},
		Identity: Identity{From: "log", Pattern: `Peer ID: (?P<id>\w+)`},
	}
}

func TestSpecCheck(t *testing.T) {
	require.NoError(t, validSpec().check())
	for _, tc := range []struct {
		name   string
		break_ func(*Spec)
		want   string
	}{
		{"no image", func(s *Spec) { s.Image = "" }, `set "image" (a local tag) or "build"`},
		{"both", func(s *Spec) { s.Build = &Build{Binary: "x"} }, `"image" or "build", not both`},
		{"port", func(s *Spec) { s.MetricsPort = 0 }, `"metrics_port" 0 is not a port`},
		{"unknown field", func(s *Spec) { s.Args = []string{"{{.Nope}}"} }, "can't evaluate field Nope"},
		{"bad template", func(s *Spec) { s.Env = map[string]string{"X": "{{.Name"} }, "env X"},
		{"identity from", func(s *Spec) { s.Identity.From = "dns" }, `use "assigned", "log" or "http"`},
		{"no id group", func(s *Spec) { s.Identity.Pattern = `Peer ID: \w+` }, "needs a group named id"},
		{"key without assignment", func(s *Spec) { s.Env = map[string]string{"K": "{{.Key}}"} }, `exist only with identity "from": "assigned"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.break_(s)
			assert.ErrorContains(t, s.check(), tc.want)
			assert.ErrorContains(t, s.check(), `spec "other"`, "the error names the spec")
		})
	}
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	s, err := LoadSpec(write("ok.json", `{"name":"x","image":"x:1","p2p_port":1,"metrics_port":2,
		"identity":{"from":"log","pattern":"id=(?P<id>\\S+)"},
		"connections":{"Name":"connections","Family":"libp2p_rcmgr_connections","Labels":{"scope":"system"}}}`))
	require.NoError(t, err)
	assert.Equal(t, "libp2p_rcmgr_connections", s.Connections.Family)

	_, err = LoadSpec(write("typo.json", `{"name":"x","imag":"x:1"}`))
	assert.ErrorContains(t, err, `unknown field "imag"`)
	_, err = LoadSpec(filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "missing.json")
}

func TestRenderNodeData(t *testing.T) {
	d := NodeData{Name: "peer-001", P2PPort: 4001, Dial: []PeerData{{Addr: "/dns4/a/tcp/1/p2p/A"}, {Addr: "/dns4/b/tcp/1/p2p/B"}}}
	got, err := render("-n {{.Name}} -p {{.P2PPort}} -d {{.DialAddrs}}", d)
	require.NoError(t, err)
	assert.Equal(t, "-n peer-001 -p 4001 -d /dns4/a/tcp/1/p2p/A,/dns4/b/tcp/1/p2p/B", got)
}

// TestIdentityNeverFound: a spec whose identity pattern never matches fails
// with the node's name, what was looked for and its last log lines, and
// leaves nothing behind.
func TestIdentityNeverFound(t *testing.T) {
	e := testEngine(t)
	s := BundledSpec()
	s.Name = "wrong-pattern"
	s.Identity = Identity{From: "log", Pattern: `my id is (?P<id>\w+)`}
	s.Env = map[string]string{"MESHNODE_DIAL": "{{.DialAddrs}}"}
	m, err := start(t.Context(), t.Name(), Config{Peers: 1, Spec: s, ConvergeTimeout: 5 * time.Second}, topology.Star(1), t.Logf)
	require.Error(t, err)
	require.NotNil(t, m)
	assert.Contains(t, err.Error(), "node bootstrap (spec wrong-pattern) not ready")
	assert.Contains(t, err.Error(), "peer ID not found yet")
	assert.Contains(t, err.Error(), `"event":"ready"`, "the node's own log lines are in the error")
	m.close()
	assert.Empty(t, leftovers(t, e, m.Run))
}
