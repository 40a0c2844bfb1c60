package experiments_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// TestTransports converges a star of the bundled node over every transport
// and security handshake go-libp2p offers here (with yamux, and QUIC's own
// TLS): tcp and websocket × noise and tls, and quic-v1. Webtransport is left
// out: its dial address carries the hash of a certificate the node makes at
// start, which no peer can be told before it starts. Each star is proven by
// peer ID, then held for a short window without drift. The matrix is the
// bundled node's whatever -spec says; -transport and -security run one
// combination of any spec through TestStar.
func TestTransports(t *testing.T) {
	cfg, err := flags.Config("transports")
	require.NoError(t, err, "flags")
	meshtest.RequireDocker(t)
	for _, c := range []transportCase{
		{"tcp", "noise"}, {"tcp", "tls"},
		{"websocket", "noise"}, {"websocket", "tls"},
		{"quic-v1", ""},
	} {
		name := c.name()
		t.Run(name, func(t *testing.T) {
			run := c.config(cfg, "transport")
			mesh := meshtest.New(t, run)
			rec := mesh.Record(t, 3*time.Second)
			t.Logf("%s: converged in %.2f s after bring-up", name, mesh.Converge.Seconds())
			assert.Equal(t, float64(run.Peers), rec.Role("bootstrap").Min(meshtest.FigConns))

			// The bootstrap says what it speaks, and every connection it
			// accepted came over that transport.
			dir := t.TempDir()
			require.NoError(t, mesh.WriteLogs(t.Context(), dir))
			log, err := os.ReadFile(filepath.Join(dir, "logs", "bootstrap.log"))
			require.NoError(t, err)
			assert.Contains(t, string(log), `"transport":"`+c.transport+`"`, "the ready event")
			security := c.security
			if security == "" {
				security = "tls" // QUIC's own handshake is TLS 1.3
			}
			assert.Contains(t, string(log), `"security":"`+security+`"`, "the ready event")
			conns := 0
			for line := range strings.SplitSeq(string(log), "\n") {
				if !strings.Contains(line, `"event":"connected"`) {
					continue
				}
				conns++
				assert.Contains(t, line, map[string]string{"tcp": "/tcp/", "websocket": "/ws", "quic-v1": "/quic-v1"}[c.transport], "a connection over %s: %s", c.transport, line)
				if c.transport == "tcp" {
					assert.NotContains(t, line, "/ws")
				}
			}
			assert.Equal(t, run.Peers, conns, "connections the bootstrap accepted")
			mesh.Close()
		})
	}
}

// transportCase is one transport and security handshake of the bundled
// node; security "" is QUIC's own TLS.
type transportCase struct{ transport, security string }

// name is the sub-test's: transport=tcp/security=noise,
// transport=quic-v1/security=quic.
func (c transportCase) name() string {
	return fmt.Sprintf("transport=%s/security=%s", c.transport, cmp.Or(c.security, "quic"))
}

// config is cfg running the bundled node over c on every node, named
// prefix-<transport>.
func (c transportCase) config(cfg meshtest.Config, prefix string) meshtest.Config {
	cfg.Name = prefix + "-" + c.transport
	cfg.Spec, cfg.BootstrapSpec = spec.Bundled(), nil
	cfg.Spec.Transport, cfg.Spec.Security = c.transport, c.security
	return cfg
}
