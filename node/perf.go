package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// perfID is the libp2p perf protocol (libp2p/specs perf/perf.md).
const perfID = "/perf/1.0.0"

// perfTimeout bounds one POST /perf, connection included: long enough for a
// gigabyte over a slow shaped link (1 GB at 100 Mbit/s is 80 s), short
// enough that a stuck transfer does not hold the handler and its stream.
const perfTimeout = 5 * time.Minute

// perfBlock is the write size, as test-plans' go-libp2p perf uses.
const perfBlock = 64 << 10

// PerfRequest is the body of POST /perf.
type PerfRequest struct {
	Peer          string `json:"peer"`
	Addr          string `json:"addr,omitempty"` // dialed when not connected to Peer
	UploadBytes   uint64 `json:"upload_bytes"`
	DownloadBytes uint64 `json:"download_bytes"`
	// Close closes the connection after the run when the run opened it, so
	// every run of a series measures a new handshake and the topology is
	// left as it was.
	Close bool `json:"close,omitempty"`
}

// PerfResponse is the answer to POST /perf. Times are nanoseconds, measured
// on the asking node:
//
//   - ConnectionNs: 0 when a connection existed; otherwise the time to
//     establish a new one to Addr plus one perf round trip of 1 byte up and
//     1 byte down on it, test-plans' "latency" figure.
//   - UploadNs: from opening the stream until the last upload byte was
//     written and the write side closed (written locally: bytes may still be
//     in flight).
//   - TimeToFirstByteNs: from opening the stream to the first download byte,
//     which the server sends only after the whole upload has arrived.
//   - DownloadNs: from the first to the last download byte.
//   - TotalNs: from opening the stream to the end of the download.
type PerfResponse struct {
	UploadBytes       uint64 `json:"upload_bytes"`
	DownloadBytes     uint64 `json:"download_bytes"`
	TimeToFirstByteNs int64  `json:"time_to_first_byte_ns"`
	UploadNs          int64  `json:"upload_ns"`
	DownloadNs        int64  `json:"download_ns"`
	TotalNs           int64  `json:"total_ns"`
	ConnectionNs      int64  `json:"connection_ns"`
	Error             string `json:"error,omitempty"`
}

// servePerf is the server side: read the 8-byte big-endian size to send,
// drain the upload until the client closes its write side, then send.
func servePerf(s network.Stream) {
	defer s.Close()
	var size [8]byte
	if _, err := io.ReadFull(s, size[:]); err != nil {
		_ = s.Reset()
		return
	}
	if _, err := io.Copy(io.Discard, s); err != nil {
		_ = s.Reset()
		return
	}
	if err := sendZeros(s, binary.BigEndian.Uint64(size[:])); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.CloseWrite()
}

func sendZeros(w io.Writer, n uint64) error {
	buf := make([]byte, min(n, perfBlock))
	for n > 0 {
		k, err := w.Write(buf[:min(n, uint64(len(buf)))])
		n -= uint64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

// perfHandler answers POST /perf.
func perfHandler(h host.Host, transport string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req PerfRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, PerfResponse{Error: fmt.Sprintf("body: expected {\"peer\",\"addr\",\"upload_bytes\",\"download_bytes\",\"close\"}: %v", err)})
			return
		}
		p, err := peer.Decode(req.Peer)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, PerfResponse{Error: fmt.Sprintf("peer %q: expected a peer ID: %v", req.Peer, err)})
			return
		}
		var addr ma.Multiaddr
		if req.Addr != "" {
			if addr, err = perfAddr(transport, p, req.Addr); err != nil {
				writeJSON(w, http.StatusBadRequest, PerfResponse{Error: err.Error()})
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), perfTimeout)
		defer cancel()
		resp, err := runPerf(ctx, h, p, addr, req.UploadBytes, req.DownloadBytes, req.Close)
		if err != nil {
			resp.Error = err.Error()
			writeJSON(w, http.StatusBadGateway, resp)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// perfAddr checks a request's addr: a multiaddr of the node's own transport,
// naming p if it names a peer at all. It returns it without /p2p/.
func perfAddr(transport string, p peer.ID, s string) (ma.Multiaddr, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("addr %q: expected a multiaddr: %w", s, err)
	}
	bare, id := ma.SplitFunc(a, func(c ma.Component) bool { return c.Protocol().Code == ma.P_P2P })
	if len(id) > 0 {
		if got, err := peer.IDFromP2PAddr(id); err != nil || got != p {
			return nil, fmt.Errorf("addr %q: names another peer than %s", s, p)
		}
	}
	if err := checkDialTransport(transport, a); err != nil {
		return nil, fmt.Errorf("addr %s: %w", s, err)
	}
	return bare, nil
}

// runPerf runs one perf exchange with p over the existing connection, first
// connecting to addr (when not nil) if there is none, and with closeNew
// closing the connection it opened afterwards. The response carries what
// was measured before an error.
func runPerf(ctx context.Context, h host.Host, p peer.ID, addr ma.Multiaddr, up, down uint64, closeNew bool) (PerfResponse, error) {
	resp := PerfResponse{}
	if h.Network().Connectedness(p) != network.Connected {
		if addr == nil {
			return resp, fmt.Errorf("perf %s: %w and no addr given to dial", p, errNotConnected)
		}
		start := time.Now()
		if err := h.Connect(ctx, peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{addr}}); err != nil {
			return resp, fmt.Errorf("perf %s: connect to %s: %w", p, addr, err)
		}
		if closeNew {
			defer func() { _ = h.Network().ClosePeer(p) }()
		}
		if _, err := perfExchange(ctx, h, p, 1, 1); err != nil {
			return resp, fmt.Errorf("perf %s: first round trip on the new connection: %w", p, err)
		}
		resp.ConnectionNs = time.Since(start).Nanoseconds()
	}
	t, err := perfExchange(ctx, h, p, up, down)
	resp.UploadBytes, resp.DownloadBytes = t.up, t.down
	resp.UploadNs, resp.TimeToFirstByteNs = t.upload.Nanoseconds(), t.firstByte.Nanoseconds()
	resp.DownloadNs, resp.TotalNs = t.download.Nanoseconds(), t.total.Nanoseconds()
	if err != nil {
		return resp, fmt.Errorf("perf %s: %w", p, err)
	}
	return resp, nil
}

type perfTimes struct {
	up, down                           uint64 // bytes moved
	upload, firstByte, download, total time.Duration
}

// perfExchange is the client side of one /perf/1.0.0 stream.
func perfExchange(ctx context.Context, h host.Host, p peer.ID, up, down uint64) (perfTimes, error) {
	var t perfTimes
	start := time.Now()
	s, err := h.NewStream(network.WithNoDial(ctx, "perf over the existing connection"), p, perfID)
	if err != nil {
		return t, fmt.Errorf("open %s stream: %w", perfID, err)
	}
	defer s.Close()
	// The stream does not watch ctx: a reset ends a stuck read or write.
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()

	var size [8]byte
	binary.BigEndian.PutUint64(size[:], down)
	if _, err := s.Write(size[:]); err != nil {
		return t, fmt.Errorf("write download size: %w", orCtx(ctx, err))
	}
	cw := &countingWriter{w: s}
	err = sendZeros(cw, up)
	t.up = cw.n
	if err != nil {
		return t, fmt.Errorf("upload after %d of %d bytes: %w", t.up, up, orCtx(ctx, err))
	}
	if err := s.CloseWrite(); err != nil {
		return t, fmt.Errorf("close write side: %w", orCtx(ctx, err))
	}
	t.upload = time.Since(start)

	buf := make([]byte, perfBlock)
	var first time.Time
	for {
		k, err := s.Read(buf)
		if k > 0 && first.IsZero() {
			first = time.Now()
			t.firstByte = first.Sub(start)
		}
		t.down += uint64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return t, fmt.Errorf("download after %d of %d bytes: %w", t.down, down, orCtx(ctx, err))
		}
	}
	end := time.Now()
	t.total = end.Sub(start)
	if !first.IsZero() {
		t.download = end.Sub(first)
	}
	if t.down != down {
		return t, fmt.Errorf("download: got %d bytes, asked for %d", t.down, down)
	}
	return t, nil
}

// orCtx prefers the context's error to the stream reset it caused.
func orCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}
