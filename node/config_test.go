package node

import (
	"errors"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	priv, err := generateKey()
	require.NoError(t, err)
	key, err := EncodeKey(priv)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	addr := fmt.Sprintf("/ip4/10.0.0.2/tcp/4001/p2p/%s", id)

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string // substrings the error must contain
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			require.Equal(t, Config{ListenPort: 4001, MetricsPort: 9090, DialTimeout: 2 * time.Minute}, c)
		}},
		{name: "flags", args: []string{"-listen-port", "0", "-metrics-port=0", "-key", key, "-dial", addr + " , " + addr,
			"-dial-timeout", "5s", "-redial", "-keepalive", "1500ms", "-max-conns", "300", "-conn-low", "10", "-conn-high", "20", "-extra-bytes-per-conn", "4096"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 0, c.ListenPort)
				require.Equal(t, 0, c.MetricsPort)
				require.True(t, priv.Equals(c.Key))
				require.Len(t, c.Dial, 2)
				require.Equal(t, addr, c.Dial[0].String())
				require.Equal(t, 5*time.Second, c.DialTimeout)
				require.True(t, c.Redial)
				require.Equal(t, 1500*time.Millisecond, c.Keepalive)
				require.Equal(t, 300, c.MaxConns)
				require.Equal(t, 10, c.ConnLow)
				require.Equal(t, 20, c.ConnHigh)
				require.Equal(t, 4096, c.ExtraBytesPerConn)
			}},
		{name: "env", env: map[string]string{"MESHNODE_LISTEN_PORT": "4002", "MESHNODE_KEY": key, "MESHNODE_DIAL": addr,
			"MESHNODE_DIAL_TIMEOUT": "1m", "MESHNODE_CONN_HIGH": "5", "MESHNODE_EXTRA_BYTES_PER_CONN": "1",
			"MESHNODE_REDIAL": "true", "MESHNODE_KEEPALIVE": "2s"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 4002, c.ListenPort)
				require.Equal(t, 9090, c.MetricsPort)
				require.True(t, priv.Equals(c.Key))
				require.Len(t, c.Dial, 1)
				require.Equal(t, time.Minute, c.DialTimeout)
				require.Equal(t, 5, c.ConnHigh)
				require.Equal(t, 1, c.ExtraBytesPerConn)
				require.True(t, c.Redial)
				require.Equal(t, 2*time.Second, c.Keepalive)
			}},
		{name: "flag wins over env", args: []string{"-listen-port", "4003", "-dial-timeout", "3s"},
			env: map[string]string{"MESHNODE_LISTEN_PORT": "4002", "MESHNODE_DIAL_TIMEOUT": "not a duration"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 4003, c.ListenPort)
				require.Equal(t, 3*time.Second, c.DialTimeout)
			}},
		{name: "redial=false wins over env", args: []string{"-redial=false", "-keepalive", "0"},
			env: map[string]string{"MESHNODE_REDIAL": "1", "MESHNODE_KEEPALIVE": "5s"},
			check: func(t *testing.T, c Config) {
				require.False(t, c.Redial)
				require.Zero(t, c.Keepalive, "0 keeps yamux's default")
			}},
		{name: "empty env is unset", env: map[string]string{"MESHNODE_LISTEN_PORT": "", "MESHNODE_KEY": ""},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 4001, c.ListenPort)
				require.Nil(t, c.Key)
			}},
		{name: "bad duration flag", args: []string{"-dial-timeout", "2 minutes"},
			wantErr: []string{"-dial-timeout", "Go duration", `"2 minutes"`}},
		{name: "bad duration env", env: map[string]string{"MESHNODE_DIAL_TIMEOUT": "10"},
			wantErr: []string{"MESHNODE_DIAL_TIMEOUT", "-dial-timeout", "Go duration"}},
		{name: "zero duration", args: []string{"-dial-timeout", "0s"}, wantErr: []string{"-dial-timeout", "positive"}},
		{name: "bad redial flag", args: []string{"-redial=maybe"}, wantErr: []string{"-redial", "true or false", `"maybe"`}},
		{name: "bad redial env", env: map[string]string{"MESHNODE_REDIAL": "yes"}, wantErr: []string{"MESHNODE_REDIAL", "-redial", "true or false"}},
		{name: "bad keepalive flag", args: []string{"-keepalive", "5"}, wantErr: []string{"-keepalive", "Go duration", `"5"`}},
		{name: "negative keepalive env", env: map[string]string{"MESHNODE_KEEPALIVE": "-1s"}, wantErr: []string{"MESHNODE_KEEPALIVE", "-keepalive", "non-negative"}},
		{name: "bad key base64", args: []string{"-key", "not base64!"}, wantErr: []string{"-key", "base64", "MarshalPrivateKey"}},
		{name: "bad key bytes", env: map[string]string{"MESHNODE_KEY": "aGVsbG8="}, wantErr: []string{"MESHNODE_KEY", "-key", "private key"}},
		{name: "dial without p2p", args: []string{"-dial", "/ip4/10.0.0.2/tcp/4001"}, wantErr: []string{"-dial", "/p2p/<peer ID>", "/ip4/10.0.0.2/tcp/4001"}},
		{name: "dial not a multiaddr", args: []string{"-dial", "10.0.0.2:4001"}, wantErr: []string{"-dial", "multiaddr", "10.0.0.2:4001"}},
		{name: "bad port", args: []string{"-metrics-port", "70000"}, wantErr: []string{"-metrics-port", "0-65535"}},
		{name: "negative count", env: map[string]string{"MESHNODE_MAX_CONNS": "-1"}, wantErr: []string{"MESHNODE_MAX_CONNS", "non-negative"}},
		{name: "low without high", args: []string{"-conn-low", "10"}, wantErr: []string{"-conn-low", "-conn-high"}},
		{name: "low above high", args: []string{"-conn-low", "30", "-conn-high", "20"}, wantErr: []string{"conn-low <= conn-high"}},
		{name: "transport and security flags", args: []string{"-transport", "websocket", "-security", "tls", "-dial", "/ip4/10.0.0.2/tcp/4001/ws/p2p/" + id.String()},
			check: func(t *testing.T, c Config) {
				require.Equal(t, TransportWebSocket, c.Transport)
				require.Equal(t, SecurityTLS, c.Security)
			}},
		{name: "transport env", env: map[string]string{"MESHNODE_TRANSPORT": "quic-v1", "MESHNODE_DIAL": "/ip4/10.0.0.2/udp/4001/quic-v1/p2p/" + id.String()},
			check: func(t *testing.T, c Config) {
				require.Equal(t, TransportQUIC, c.Transport)
				require.Empty(t, c.Security)
			}},
		{name: "security env", env: map[string]string{"MESHNODE_SECURITY": "noise"},
			check: func(t *testing.T, c Config) { require.Equal(t, SecurityNoise, c.Security) }},
		{name: "bad transport flag", args: []string{"-transport", "udp"}, wantErr: []string{"-transport", "tcp, quic-v1, websocket, webtransport", `"udp"`}},
		{name: "bad transport env", env: map[string]string{"MESHNODE_TRANSPORT": "QUIC"}, wantErr: []string{"MESHNODE_TRANSPORT", "-transport", "quic-v1"}},
		{name: "bad security flag", args: []string{"-security", "tls1.3"}, wantErr: []string{"-security", "noise, tls", `"tls1.3"`}},
		{name: "bad security env", env: map[string]string{"MESHNODE_SECURITY": "none"}, wantErr: []string{"MESHNODE_SECURITY", "-security"}},
		{name: "security with quic", args: []string{"-transport", "quic-v1", "-security", "noise"}, wantErr: []string{"-security noise", "-transport quic-v1", "leave -security unset"}},
		{name: "dial of another transport", args: []string{"-transport", "quic-v1", "-dial", addr}, wantErr: []string{"-dial", "not a quic-v1 address (its transport: tcp)"}},
		{name: "ping flag", args: []string{"-ping"}, check: func(t *testing.T, c Config) { require.True(t, c.Ping) }},
		{name: "ping env", env: map[string]string{"MESHNODE_PING": "true"}, check: func(t *testing.T, c Config) { require.True(t, c.Ping) }},
		{name: "bad ping flag", args: []string{"-ping=often"}, wantErr: []string{"-ping", "true or false", `"often"`}},
		{name: "bad ping env", env: map[string]string{"MESHNODE_PING": "on"}, wantErr: []string{"MESHNODE_PING", "-ping", "true or false"}},
		{name: "perf flag", args: []string{"-perf=true"}, check: func(t *testing.T, c Config) { require.True(t, c.Perf) }},
		{name: "perf env", env: map[string]string{"MESHNODE_PERF": "1"}, check: func(t *testing.T, c Config) { require.True(t, c.Perf) }},
		{name: "bad perf flag", args: []string{"-perf=2"}, wantErr: []string{"-perf", "true or false", `"2"`}},
		{name: "bad perf env", env: map[string]string{"MESHNODE_PERF": "yes"}, wantErr: []string{"MESHNODE_PERF", "-perf", "true or false"}},
		{name: "gossip flags", args: []string{"-gossip-topic", "blocks", "-gossip-rate", "2.5", "-gossip-size", "4096"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "blocks", c.GossipTopic)
				require.Equal(t, 2.5, c.GossipRate)
				require.Equal(t, 4096, c.GossipSize)
			}},
		{name: "gossip env", env: map[string]string{"MESHNODE_GOSSIP_TOPIC": "t", "MESHNODE_GOSSIP_RATE": "10"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "t", c.GossipTopic)
				require.Equal(t, 10.0, c.GossipRate)
				require.Zero(t, c.GossipSize, "0 means DefaultGossipSize")
			}},
		{name: "bad gossip rate flag", args: []string{"-gossip-topic", "t", "-gossip-rate", "fast"}, wantErr: []string{"-gossip-rate", "messages per second", `"fast"`}},
		{name: "negative gossip rate env", env: map[string]string{"MESHNODE_GOSSIP_TOPIC": "t", "MESHNODE_GOSSIP_RATE": "-1"}, wantErr: []string{"MESHNODE_GOSSIP_RATE", "-gossip-rate", "non-negative"}},
		{name: "NaN gossip rate", args: []string{"-gossip-topic", "t", "-gossip-rate", "NaN"}, wantErr: []string{"-gossip-rate", "non-negative"}},
		{name: "gossip rate without topic", args: []string{"-gossip-rate", "1"}, wantErr: []string{"-gossip-rate 1", "needs -gossip-topic"}},
		{name: "gossip size below header", args: []string{"-gossip-topic", "t", "-gossip-size", "10"}, wantErr: []string{"-gossip-size 10", "24-"}},
		{name: "gossip size too big", args: []string{"-gossip-topic", "t", "-gossip-size", "2000000"}, wantErr: []string{"-gossip-size 2000000", "bytes"}},
		{name: "bad gossip size env", env: map[string]string{"MESHNODE_GOSSIP_SIZE": "1k"}, wantErr: []string{"MESHNODE_GOSSIP_SIZE", "-gossip-size", "non-negative integer"}},
		{name: "unknown flag", args: []string{"-peers", "3"}, wantErr: []string{"-peers"}},
		{name: "positional", args: []string{"extra"}, wantErr: []string{"unexpected arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	_, err := ParseConfig([]string{"-h"}, nil)
	require.True(t, errors.Is(err, flag.ErrHelp))
	for _, name := range []string{"-listen-port", "MESHNODE_DIAL_TIMEOUT", "-redial", "MESHNODE_KEEPALIVE", "-extra-bytes-per-conn", "-transport", "MESHNODE_SECURITY"} {
		require.ErrorContains(t, err, name, "usage lists every flag and variable")
	}
}

func TestKeyRoundTrip(t *testing.T) {
	priv, err := generateKey()
	require.NoError(t, err)
	s, err := EncodeKey(priv)
	require.NoError(t, err)
	got, err := DecodeKey(s)
	require.NoError(t, err)
	require.True(t, priv.Equals(got))
}

func TestStartRejectsBadConfig(t *testing.T) {
	_, err := Start(t.Context(), Config{ConnLow: 5})
	require.ErrorContains(t, err, "-conn-low")
	_, err = Start(t.Context(), Config{Keepalive: -time.Second})
	require.ErrorContains(t, err, "-keepalive")
}
