package node

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postPerf sends req to POST /perf on n and decodes the answer.
func postPerf(t testing.TB, n *Node, req any) (int, PerfResponse) {
	t.Helper()
	body, err := json.Marshal(req)
	require.NoError(t, err)
	resp, err := http.Post(baseURL(t, n)+"/perf", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out PerfResponse
	require.NoError(t, json.Unmarshal(data, &out), "POST /perf: %s", data)
	return resp.StatusCode, out
}

// requirePlausible checks the times of a perf run that moved its bytes.
func requirePlausible(t testing.TB, r PerfResponse) {
	t.Helper()
	require.Positive(t, r.UploadNs)
	require.Positive(t, r.TimeToFirstByteNs)
	require.Positive(t, r.DownloadNs)
	require.GreaterOrEqual(t, r.TimeToFirstByteNs, r.UploadNs, "the server sends only after the upload")
	require.GreaterOrEqual(t, r.TotalNs, r.TimeToFirstByteNs+r.DownloadNs-1)
	require.Less(t, r.TotalNs, int64(30*time.Second))
}

func TestPerf(t *testing.T) {
	const up, down = 3<<20 + 17, 5<<20 + 3 // not multiples of the 64 KiB block
	for _, transport := range []string{TransportTCP, TransportQUIC} {
		t.Run("transport="+transport, func(t *testing.T) {
			a, b := connectedPair(t, Config{Transport: transport, Perf: true}, Config{Transport: transport, Perf: true})
			code, r := postPerf(t, b, PerfRequest{Peer: a.ID().String(), UploadBytes: up, DownloadBytes: down})
			require.Equal(t, http.StatusOK, code, "error %q", r.Error)
			require.Equal(t, uint64(up), r.UploadBytes)
			require.Equal(t, uint64(down), r.DownloadBytes)
			require.Zero(t, r.ConnectionNs, "already connected")
			requirePlausible(t, r)
			require.Equal(t, 1, peersOf(t, b).Connections, "perf used the existing connection")
		})
	}
}

func TestPerfNewConnection(t *testing.T) {
	a := startNode(t, Config{Perf: true})
	b := startNode(t, Config{Perf: true})
	code, r := postPerf(t, b, PerfRequest{Peer: a.ID().String(), Addr: dialAddr(t, a).String(), UploadBytes: 1 << 20, DownloadBytes: 1 << 20})
	require.Equal(t, http.StatusOK, code, "error %q", r.Error)
	require.Positive(t, r.ConnectionNs, "connected for the run")
	require.Less(t, r.ConnectionNs, int64(10*time.Second))
	requirePlausible(t, r)
	require.Equal(t, []string{a.ID().String()}, peersOf(t, b).Peers)

	code, r = postPerf(t, b, PerfRequest{Peer: a.ID().String(), Addr: dialAddr(t, a).String(), DownloadBytes: 10})
	require.Equal(t, http.StatusOK, code, "error %q", r.Error)
	require.Zero(t, r.ConnectionNs, "the connection of the first run is reused")
	require.Equal(t, uint64(10), r.DownloadBytes)
}

// With close, every run measures a handshake of its own and leaves the
// peers as they were; a connection that existed before is kept.
func TestPerfCloseNewConnection(t *testing.T) {
	a := startNode(t, Config{Perf: true})
	b := startNode(t, Config{Perf: true})
	for run := range 2 {
		code, r := postPerf(t, b, PerfRequest{Peer: a.ID().String(), Addr: dialAddr(t, a).String(), DownloadBytes: 10, Close: true})
		require.Equal(t, http.StatusOK, code, "run %d: error %q", run, r.Error)
		require.Positive(t, r.ConnectionNs, "run %d: a new connection each time", run)
		require.Empty(t, peersOf(t, b).Peers, "run %d: the connection it opened is closed", run)
	}
	code, r := postPerf(t, b, PerfRequest{Peer: a.ID().String(), Addr: dialAddr(t, a).String(), DownloadBytes: 10})
	require.Equal(t, http.StatusOK, code, "error %q", r.Error)
	code, r = postPerf(t, b, PerfRequest{Peer: a.ID().String(), Addr: dialAddr(t, a).String(), DownloadBytes: 10, Close: true})
	require.Equal(t, http.StatusOK, code, "error %q", r.Error)
	require.Zero(t, r.ConnectionNs, "over the existing connection")
	require.Equal(t, []string{a.ID().String()}, peersOf(t, b).Peers, "a connection the run did not open stays")
}

func TestPerfErrors(t *testing.T) {
	plain := startNode(t, Config{})
	a, b := connectedPair(t, Config{}, Config{Perf: true}) // a does not answer perf
	stranger := mustPeerID(t)
	tests := []struct {
		name string
		n    *Node
		req  any
		code int
		want string
	}{
		{"disabled", plain, PerfRequest{Peer: a.ID().String()}, http.StatusNotFound, "-perf"},
		{"bad body", b, map[string]any{"peer": a.ID().String(), "upload": 1}, http.StatusBadRequest, "unknown field"},
		{"bad peer", b, PerfRequest{Peer: "nope"}, http.StatusBadRequest, `peer "nope"`},
		{"addr of another transport", b, PerfRequest{Peer: stranger, Addr: "/ip4/127.0.0.1/udp/1/quic-v1"}, http.StatusBadRequest, "not a tcp address"},
		{"addr of another peer", b, PerfRequest{Peer: stranger, Addr: dialAddr(t, a).String()}, http.StatusBadRequest, "another peer"},
		{"not connected, no addr", b, PerfRequest{Peer: stranger}, http.StatusBadGateway, "not connected and no addr"},
		{"server without -perf", b, PerfRequest{Peer: a.ID().String(), DownloadBytes: 1}, http.StatusBadGateway, "/perf/1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := json.Marshal(tt.req)
			require.NoError(t, err)
			resp, err := http.Post(baseURL(t, tt.n)+"/perf", "application/json", strings.NewReader(string(body)))
			require.NoError(t, err)
			defer resp.Body.Close()
			var out struct {
				Error string `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			require.Equal(t, tt.code, resp.StatusCode, "error %q", out.Error)
			require.Contains(t, out.Error, tt.want)
		})
	}
}
