package node

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// TestTransports starts a node on every transport and security go-libp2p
// supports here and has a second node of the same kind dial it.
func TestTransports(t *testing.T) {
	tests := []struct {
		transport, security string // as the config takes them
		wantSecurity        string // as the ready event reports it
		listen              string // the listen address's protocols, port left out
	}{
		{"", "", "noise", "/ip4/tcp"},
		{TransportTCP, SecurityTLS, "tls", "/ip4/tcp"},
		{TransportWebSocket, SecurityNoise, "noise", "/ip4/tcp/ws"},
		{TransportWebSocket, SecurityTLS, "tls", "/ip4/tcp/ws"},
		{TransportQUIC, "", "tls", "/ip4/udp/quic-v1"},
		{TransportWebTransport, "", "noise", "/ip4/udp/quic-v1/webtransport/certhash/certhash"},
	}
	for _, tt := range tests {
		cfg := Config{Transport: tt.transport, Security: tt.security}
		t.Run(fmt.Sprintf("transport=%s/security=%s", cfg.transportName(), tt.wantSecurity), func(t *testing.T) {
			t.Parallel()
			var outA, outB lineBuffer
			a := startNode(t, Config{Transport: tt.transport, Security: tt.security, Out: &outA})
			target := dialAddr(t, a)
			b := startNode(t, Config{Transport: tt.transport, Security: tt.security, Out: &outB, Dial: []ma.Multiaddr{target}})
			require.Eventually(t, func() bool {
				return slices.Equal(peersOf(t, a).Peers, []string{b.ID().String()}) &&
					slices.Equal(peersOf(t, b).Peers, []string{a.ID().String()})
			}, 10*time.Second, 20*time.Millisecond, "B never connected to A at %s", target)

			for _, a := range a.Addrs() {
				var protos []string
				for _, p := range a.Protocols() {
					protos = append(protos, p.Name)
				}
				require.Equal(t, tt.listen, "/"+strings.Join(protos, "/"), "listen address %s", a)
			}
			ready := outA.find(t, EventReady)[0]
			require.Equal(t, cfg.transportName(), ready.Transport)
			require.Equal(t, tt.wantSecurity, ready.Security)
			conn := outB.find(t, EventConnected)[0]
			require.Equal(t, a.ID().String(), conn.Peer)
			require.Equal(t, cfg.transportName(), dialTransport(ma.StringCast(conn.Addr)), "connected over %s", conn.Addr)
		})
	}
}

func TestTransportRefused(t *testing.T) {
	id := mustPeerID(t)
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of Start's error
	}{
		{"transport=quic-v1/security=noise", Config{Transport: TransportQUIC, Security: SecurityNoise},
			[]string{"-security noise", "-transport quic-v1", "TLS 1.3", "leave -security unset"}},
		{"transport=quic-v1/security=tls", Config{Transport: TransportQUIC, Security: SecurityTLS},
			[]string{"-security tls", "-transport quic-v1"}},
		{"transport=webtransport/security=noise", Config{Transport: TransportWebTransport, Security: SecurityNoise},
			[]string{"-security noise", "-transport webtransport", "Noise"}},
		{"transport=webtransport/security=tls", Config{Transport: TransportWebTransport, Security: SecurityTLS},
			[]string{"-security tls", "-transport webtransport"}},
		{"transport=webrtc", Config{Transport: "webrtc"}, []string{`-transport "webrtc"`, "quic-v1"}},
		{"security=plaintext", Config{Security: "plaintext"}, []string{`-security "plaintext"`, "noise"}},
		{"dial=quic-on-tcp", Config{Dial: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/1/quic-v1/p2p/" + id)}},
			[]string{"-dial /ip4/127.0.0.1/udp/1/quic-v1", "not a tcp address (its transport: quic-v1)", "-transport tcp"}},
		{"dial=tcp-on-websocket", Config{Transport: TransportWebSocket, Dial: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/p2p/" + id)}},
			[]string{"not a websocket address (its transport: tcp)", "/tcp/4001/ws/p2p/"}},
		{"dial=wss", Config{Transport: TransportWebSocket, Dial: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/wss/p2p/" + id)}},
			[]string{"not a websocket address (its transport: none the node runs)"}},
		{"dial=webtransport-without-certhash", Config{Transport: TransportWebTransport, Dial: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/1/quic-v1/webtransport/p2p/" + id)}},
			[]string{"needs the target's /certhash/", "self-signed", "ready event"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Start(t.Context(), tt.cfg)
			if n != nil {
				_ = n.Close()
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// mustPeerID is a fresh peer ID, for addresses nobody listens on.
func mustPeerID(t testing.TB) string {
	t.Helper()
	priv, err := generateKey()
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	return id.String()
}
