package node

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// getJSON decodes the body of GET url into v and returns the status code.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, v), "GET %s: %s", url, body)
	return resp.StatusCode
}

// connectedPair starts a and b with cfg, b dialing a, and waits for the connection.
func connectedPair(t testing.TB, cfgA, cfgB Config) (a, b *Node) {
	t.Helper()
	a = startNode(t, cfgA)
	cfgB.Dial = []ma.Multiaddr{dialAddr(t, a)}
	b = startNode(t, cfgB)
	require.Eventually(t, func() bool { return len(peersOf(t, b).Peers) == 1 && len(peersOf(t, a).Peers) == 1 },
		10*time.Second, 20*time.Millisecond, "B never connected to A")
	return a, b
}

func TestPing(t *testing.T) {
	for _, transport := range []string{TransportTCP, TransportQUIC} {
		t.Run("transport="+transport, func(t *testing.T) {
			// Only the asking node has -ping: the answer is go-libp2p's default.
			a, b := connectedPair(t, Config{Transport: transport}, Config{Transport: transport, Ping: true})
			var resp PingResponse
			code := getJSON(t, baseURL(t, b)+"/ping?peer="+a.ID().String()+"&count=5", &resp)
			require.Equal(t, http.StatusOK, code, "error %q", resp.Error)
			require.Equal(t, a.ID().String(), resp.Peer)
			require.Empty(t, resp.Error)
			require.Len(t, resp.RTTs, 5)
			for _, rtt := range resp.RTTs {
				require.Positive(t, rtt)
				require.Less(t, rtt, int64(time.Second), "loopback RTT in ns")
			}
			require.Equal(t, 1, peersOf(t, b).Connections, "ping used the existing connection")
		})
	}
}

func TestPingErrors(t *testing.T) {
	a, b := connectedPair(t, Config{}, Config{Ping: true})
	stranger := mustPeerID(t)
	tests := []struct {
		name, url string
		code      int
		want      string
	}{
		{"disabled", baseURL(t, a) + "/ping?peer=" + b.ID().String(), http.StatusNotFound, "-ping"},
		{"bad peer", baseURL(t, b) + "/ping?peer=nope", http.StatusBadRequest, `peer "nope"`},
		{"bad count", baseURL(t, b) + "/ping?peer=" + a.ID().String() + "&count=0", http.StatusBadRequest, "count \"0\": expected an integer 1-100"},
		{"not connected", baseURL(t, b) + "/ping?peer=" + stranger, http.StatusBadGateway, "not connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp struct {
				Error string `json:"error"`
			}
			require.Equal(t, tt.code, getJSON(t, tt.url, &resp))
			require.Contains(t, resp.Error, tt.want)
		})
	}
}
