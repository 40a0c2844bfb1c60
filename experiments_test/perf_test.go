package experiments_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/conditions"
	"github.com/meshtest/meshtest/meshtest/shape"
)

// Link of TestPerf: 25 ms each way (50 ms round trips) at 20 Mbit/s each
// way, as libp2p's test-plans perf runs between two hosts, here shaped on
// one.
const (
	perfLatency = 25 * time.Millisecond
	perfRate    = 20_000_000 // bit/s
)

// TestPerf runs libp2p's perf protocol between two peers of a star that
// are not neighbours, over a 20 Mbit/s link with 50 ms round trips, for
// each transport, as libp2p/test-plans measures it: every run dials a
// connection of its own and closes it afterwards.
//
//   - Latency: 5 runs of 1 byte up and down, timing the connection's
//     establishment plus one perf round trip. QUIC takes about 3 round
//     trips here: its handshake (TLS 1.3 inside), then go-libp2p's
//     NewStream waits for identify to finish on the new connection (one
//     more), then the perf exchange; test-plans' lore of "about 2" leaves
//     identify out. TCP adds its own handshake and multistream-select's
//     negotiation of Noise or TLS, about 2 more (5.2 measured here).
//   - Throughput: 3 runs of 12 MiB up, then 3 of 12 MiB down, each its own
//     exchange as test-plans runs them (upload_bytes N with download_bytes
//     0, then the reverse), must come within 10 % of the link's rate.
//     Headers take 4.4 % (66 of every 1514 bytes on the wire), slow start on
//     each new connection about 2 % of a 5 s transfer, and an upload is
//     timed to the end of the exchange, one more way back.
//
// Why not both in one exchange: a 12 MiB download right after a 12 MiB
// upload on the same QUIC stream measured 15.7-15.9 Mbit/s in most runs
// here (18.8 in a few), on an idle machine, with no packet lost anywhere. The upload leaves
// ~300 KB queued in the client's uplink (120 ms at 20 Mbit/s); the
// server's window updates are acknowledged behind that queue, so quic-go's
// hybrid slow start (HyStart: 8 RTT samples above min RTT + 1/8) finds a
// delay increase before the download begins and ends slow start at the
// initial window of 32 packets. The download then grows by about one
// packet per round trip, from 7 to 19.5 Mbit/s over 2.5 s. That is
// quic-go's behaviour on any link with a queue, not the shaper's; it is a
// figure of mixed traffic, not of the link's throughput.
func TestPerf(t *testing.T) {
	cfg, err := flags.Config("perf")
	require.NoError(t, err, "flags")
	cfg.Peers = 2
	cfg.Workloads.Perf = true
	if cfg.Conditions.IsZero() {
		cfg.Conditions = conditions.Conditions{Link: shape.Link{Latency: perfLatency, Rate: perfRate}}
	}
	meshtest.RequireDocker(t)
	trips := map[string]float64{}
	for _, c := range []transportCase{{"tcp", "noise"}, {"quic-v1", ""}} {
		name := c.name()
		t.Run(name, func(t *testing.T) {
			mesh := meshtest.New(t, c.config(cfg, "perf"))
			lat := mesh.Perf(t, "peer-001", "peer-002", meshtest.PerfLoad{Upload: 1, Download: 1, Runs: 5, NewConnection: true})
			up := mesh.Perf(t, "peer-001", "peer-002", meshtest.PerfLoad{Upload: 12 << 20, Runs: 3, NewConnection: true})
			down := mesh.Perf(t, "peer-001", "peer-002", meshtest.PerfLoad{Download: 12 << 20, Runs: 3, NewConnection: true})
			rec := mesh.Record(t, 2*time.Second) // the artifacts, with both series in them
			rec.WriteArtifacts(t)
			rtt := 2 * perfLatency
			trips[c.transport] = lat.RoundTrips(rtt)
			t.Logf("%s: connection + 1 RTT %.1f ms (min %.1f, max %.1f) = %.2f round trips of %v",
				name, 1e3*lat.ConnectionSeconds.Median, 1e3*lat.ConnectionSeconds.Min, 1e3*lat.ConnectionSeconds.Max, trips[c.transport], rtt)
			t.Logf("%s: upload %.2f Mbit/s (min %.2f, max %.2f), download %.2f Mbit/s (min %.2f, max %.2f)",
				name, up.UploadBitsPerSecond.Median/1e6, up.UploadBitsPerSecond.Min/1e6, up.UploadBitsPerSecond.Max/1e6,
				down.DownloadBitsPerSecond.Median/1e6, down.DownloadBitsPerSecond.Min/1e6, down.DownloadBitsPerSecond.Max/1e6)
			require.Zero(t, lat.Failed+up.Failed+down.Failed, "%v %v %v", lat.Errors, up.Errors, down.Errors)
			assert.Equal(t, 5, lat.ConnectionSeconds.N, "each run timed a handshake")
			assert.Equal(t, 3, up.UploadBitsPerSecond.N, "each upload run timed")
			assert.Equal(t, 3, down.DownloadBitsPerSecond.N, "each download run timed")
			if cfg.Conditions.Link.Rate == perfRate {
				// Measured on an otherwise idle machine: TCP 18.70 up, 19.19
				// down; QUIC 18.67 up, 18.86 down. The bounds assume nothing
				// else loads the 2 cores (hence -p 1 in the README's suite).
				assert.InEpsilon(t, perfRate, up.UploadBitsPerSecond.Median, 0.10, "upload against the link's rate")
				assert.InEpsilon(t, perfRate, down.DownloadBitsPerSecond.Median, 0.10, "download against the link's rate")
				assert.LessOrEqual(t, up.UploadBitsPerSecond.Max, 1.02*perfRate, "nothing beats the link")
				assert.LessOrEqual(t, down.DownloadBitsPerSecond.Max, 1.02*perfRate, "nothing beats the link")
			}
		})
	}
	if tcp, quic := trips["tcp"], trips["quic-v1"]; tcp > 0 && quic > 0 && cfg.Conditions.Link.Latency == perfLatency {
		t.Logf("connection + 1 RTT: QUIC %.2f round trips, TCP+Noise+yamux %.2f", quic, tcp)
		assert.InDelta(t, 3, quic, 0.6, "QUIC: handshake, identify, perf: about 3 round trips")
		assert.InDelta(t, 2, tcp-quic, 0.7, "TCP: its handshake and the security negotiation, about 2 more")
	}
}
