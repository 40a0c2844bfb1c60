package shape

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The probe protocol, on ProbePort, UDP and TCP.
//
// UDP: a probe is one datagram of RTTProbe.Size bytes, big-endian:
//
//	0  "mtp1"        magic
//	4  session  u64  random, one per ProbeRTT call
//	12 seq      u64  0, 1, … in sending order
//	20 sent     u64  send time, ns on the prober's monotonic clock
//	28 count    u64  0 from the prober; see below
//	36 padding to Size
//
// The echo server sends each probe back unchanged but for count, which it
// sets to how many probes of that session it has received so far, this one
// included. The highest count in the replies is how many probes made it
// forward (a lower bound if the last replies were lost), so the prober
// tells forward loss from return loss. Replies are as large as probes, so
// the echo amplifies nothing.
//
// TCP: the sender opens a connection and writes a 20-byte header, "mtt1",
// warmup ns (u64), duration ns (u64), then data for warmup+duration by its
// own clock, then half-closes. The sink counts from the first data byte:
// the bytes of reads that end more than warmup after it, and the time from
// the first such read to the last. At EOF it writes back bytes (u64) and
// elapsed ns (u64) and closes. The figure is goodput as the receiver saw it,
// slow start excluded, and includes the drain of what the sender had queued.
// On a long path that is TCP's rate, not the link's: 28 Mbit/s of a 50
// Mbit/s link at 400 ms RTT (TestRateProbe), slow start and the losses of
// a full queue in a few seconds' stream. The rate probe measures the link.
//
// UDP rate probe: the prober floods datagrams of RateProbe.Size bytes, paced
// to RateProbe.Rate counted on the wire (payload + UDP, IPv4 and Ethernet
// headers, 42 bytes: what HTB counts), first for Warmup, then for Duration:
//
//	0  "mtr1"        magic
//	4  session  u64  random, one per ProbeRate call
//	12 seq      u64  0, 1, … in sending order
//	20 phase    u8   0 warm-up, 1 measured
//	21 padding to Size
//
// The server echoes none of them. Per session it counts the measured ones:
// datagrams, payload bytes, and when the first and the last were read
// (time.Now). The warm-up, sent faster than the link, fills the bottleneck's
// queue, so every measured datagram leaves that queue at the link's rate,
// whatever the path's delay; the count goes on while the queue drains after
// the flood. A query
//
//	0  "mtq1"        magic
//	4  session  u64
//	12 padding to 36 bytes
//
// is answered, to its sender, with the session's counts so far (zero for a
// session the server does not know), as large as the query so that nothing
// is amplified:
//
//	0  "mta1"        magic
//	4  session  u64
//	12 packets  u64
//	20 bytes    u64
//	28 elapsed  u64  ns from the first measured arrival to the last
//
// The prober queries from rateSettle after its last datagram, every
// rateSettle, until two answers in a row agree: nothing arrived between
// them, so the queue has drained and nothing is in flight, however long the
// path's delay or queue (a query waits behind the flood in both). Lost
// queries or answers are retried by the same schedule. It gives up
// maxRateDrain after the flood.
const (
	udpMagic     = "mtp1"
	tcpMagic     = "mtt1"
	minProbeSize = 36
	// MaxProbeSize keeps a probe in one packet at a 1500-byte MTU, so a
	// lost fragment never stands for a lost probe.
	maxProbeSize = 1472
	// maxProbeTime bounds one probe run, and so how long an HTTP request
	// to a helper waits.
	maxProbeTime = 10 * time.Minute
	// rttGrace is how long a probe may take to come back after the last
	// one is sent before it counts as lost.
	rttGrace = time.Second
	// maxSessions bounds the server's per-session counters, echo and rate.
	maxSessions = 1024
)

// probeServer is a helper's echo server (UDP) and sink (TCP), on one port.
type probeServer struct {
	udp *net.UDPConn
	tcp net.Listener
	wg  sync.WaitGroup

	mu       sync.Mutex
	sessions map[uint64]*session
}

// session is what the server keeps of one prober's run, echo or rate.
type session struct {
	last  time.Time // its latest datagram, for eviction
	count uint64    // echo: probes received
	// rate: measured datagrams received, their payload bytes, and when the
	// first and the latest were read.
	packets, bytes uint64
	first, latest  time.Time
}

// listenProbes serves probes on addr, TCP and UDP on the same port (with
// port 0, the one the TCP listener got).
func listenProbes(addr string) (*probeServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("probe server %s: %w", addr, err)
	}
	s := &probeServer{sessions: map[uint64]*session{}}
	s.tcp, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("probe server: %w", err)
	}
	port := s.tcp.Addr().(*net.TCPAddr).Port
	s.udp, err = listenUDP(net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		s.tcp.Close()
		return nil, fmt.Errorf("probe server: %w", err)
	}
	_ = s.udp.SetReadBuffer(4 << 20) // best effort: capped by net.core.rmem_max
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

func listenUDP(addr string) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	return net.ListenUDP("udp", a)
}

// Port is the port the server listens on, TCP and UDP.
func (s *probeServer) Port() int { return s.tcp.Addr().(*net.TCPAddr).Port }

// Close stops the server and waits for its connections to end.
func (s *probeServer) Close() error {
	err := errors.Join(s.udp.Close(), s.tcp.Close())
	s.wg.Wait()
	return err
}

func (s *probeServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP errors reported on the socket
		}
		pkt, now := buf[:n], time.Now()
		switch {
		case s.stamp(pkt, now):
			_, _ = s.udp.WriteToUDPAddrPort(pkt, from)
		case s.countRate(pkt, now):
		default:
			if ans, ok := s.answerRate(pkt); ok {
				_, _ = s.udp.WriteToUDPAddrPort(ans, from)
			}
		}
	}
}

// stamp sets a probe's count to the probes of its session received so far,
// and reports whether pkt is a probe.
func (s *probeServer) stamp(pkt []byte, now time.Time) bool {
	if len(pkt) < minProbeSize || string(pkt[:4]) != udpMagic {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.session(binary.BigEndian.Uint64(pkt[4:]), now)
	se.count++
	binary.BigEndian.PutUint64(pkt[28:], se.count)
	return true
}

// session returns session id, made if new, its last datagram now; s.mu is
// held.
func (s *probeServer) session(id uint64, now time.Time) *session {
	se := s.sessions[id]
	if se == nil {
		if len(s.sessions) >= maxSessions {
			s.evict(now)
		}
		se = &session{}
		s.sessions[id] = se
	}
	se.last = now
	return se
}

// evict forgets the sessions idle for a minute, or the one idle longest.
func (s *probeServer) evict(now time.Time) {
	var oldest uint64
	var at time.Time
	for id, se := range s.sessions {
		if now.Sub(se.last) > time.Minute {
			delete(s.sessions, id)
		} else if at.IsZero() || se.last.Before(at) {
			oldest, at = id, se.last
		}
	}
	if len(s.sessions) >= maxSessions {
		delete(s.sessions, oldest)
	}
}

func (s *probeServer) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: let connections end
			continue
		}
		conns.Go(func() {
			defer c.Close()
			_ = sink(c)
		})
	}
}

// sink is the TCP side of a throughput probe; see the protocol above.
func sink(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [20]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	if string(hdr[:4]) != tcpMagic {
		return errors.New("not a throughput probe")
	}
	warmup := time.Duration(binary.BigEndian.Uint64(hdr[4:]))
	dur := time.Duration(binary.BigEndian.Uint64(hdr[12:]))
	if warmup < 0 || dur <= 0 || warmup+dur > maxProbeTime {
		return errors.New("throughput probe: bad header")
	}
	end := time.Now().Add(warmup + dur + 2*time.Minute) // the drain of a slow path included
	buf := make([]byte, 256<<10)
	var first, mark, last time.Time
	var counted int64
	for {
		// The deadline is the whole probe's, renewed for idleness: a sender
		// that stops writing without closing is given up on.
		dl := time.Now().Add(30 * time.Second)
		if dl.After(end) {
			dl = end
		}
		_ = c.SetReadDeadline(dl)
		n, err := c.Read(buf)
		now := time.Now()
		if n > 0 {
			switch {
			case first.IsZero():
				first = now
				if warmup == 0 {
					mark = now
				}
			case mark.IsZero():
				if now.Sub(first) >= warmup {
					mark = now // this read's bytes arrived before the mark
				}
			default:
				counted += int64(n)
				last = now
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	var out [16]byte
	binary.BigEndian.PutUint64(out[:], uint64(counted))
	if !mark.IsZero() && !last.IsZero() {
		binary.BigEndian.PutUint64(out[8:], uint64(last.Sub(mark)))
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Write(out[:])
	return err
}

// withDefaults fills p's zero fields: 1000 probes of 64 bytes 1 ms apart,
// to ProbePort.
func (p RTTProbe) withDefaults() RTTProbe {
	if p.Count == 0 {
		p.Count = 1000
	}
	if p.Interval == 0 {
		p.Interval = time.Millisecond
	}
	if p.Size == 0 {
		p.Size = 64
	}
	if p.Port == 0 {
		p.Port = ProbePort
	}
	return p
}

// Validate returns every problem of p, after defaults, or nil.
func (p RTTProbe) Validate() error {
	p = p.withDefaults()
	var errs []error
	if !p.To.IsValid() {
		errs = append(errs, errors.New("to: missing; give the peer helper's address"))
	}
	if p.Count < 0 || p.Count > 1_000_000 {
		errs = append(errs, fmt.Errorf("count: %d is not in 1..1000000", p.Count))
	}
	if p.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval_ns: %v is negative", p.Interval))
	} else if d := time.Duration(p.Count) * p.Interval; d > maxProbeTime {
		errs = append(errs, fmt.Errorf("count×interval: %v exceeds %v; send fewer probes or more often", d, maxProbeTime))
	}
	if p.Size < minProbeSize || p.Size > maxProbeSize {
		errs = append(errs, fmt.Errorf("size: %d bytes is not in %d..%d (one unfragmented UDP payload at MTU 1500)", p.Size, minProbeSize, maxProbeSize))
	}
	if p.Port < 0 || p.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d is not a port", p.Port))
	}
	return errors.Join(errs...)
}

// rttRun is one RTT probe run: the RTT of each probe, by sequence number,
// and the highest count the echo server stamped.
type rttRun struct {
	rtt     []time.Duration // -1: not back in time
	forward int
}

// dialProbe opens the prober's socket to p's peer.
func dialProbe(ctx context.Context, network string, p RTTProbe) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, netip.AddrPortFrom(p.To, uint16(p.Port)).String())
}

// probeRTT sends p.Count probes on conn, connected to an echo server, at
// p.Interval, and collects the echoes until rttGrace after the last send.
// Times are from this process's monotonic clock.
func probeRTT(ctx context.Context, conn net.Conn, p RTTProbe) (rttRun, error) {
	run := rttRun{rtt: make([]time.Duration, p.Count)}
	for i := range run.rtt {
		run.rtt[i] = -1
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(4 << 20)
	}
	session := rand.Uint64()
	base := time.Now()
	// Until the last probe is sent, the reader waits for as long as sending
	// should take; then the deadline moves to rttGrace after it.
	_ = conn.SetReadDeadline(base.Add(time.Duration(p.Count)*p.Interval + time.Minute))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		got := 0
		for got < p.Count {
			n, err := conn.Read(buf)
			now := time.Since(base)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					done <- nil
				} else {
					done <- err
				}
				return
			}
			if n < minProbeSize || string(buf[:4]) != udpMagic || binary.BigEndian.Uint64(buf[4:]) != session {
				continue
			}
			seq := binary.BigEndian.Uint64(buf[12:])
			if seq >= uint64(p.Count) || run.rtt[seq] >= 0 {
				continue
			}
			run.rtt[seq] = now - time.Duration(binary.BigEndian.Uint64(buf[20:]))
			run.forward = max(run.forward, int(binary.BigEndian.Uint64(buf[28:])))
			got++
		}
		done <- nil
	}()
	pkt := make([]byte, p.Size)
	copy(pkt, udpMagic)
	binary.BigEndian.PutUint64(pkt[4:], session)
	// A failed send (ECONNREFUSED reported for an earlier probe, say) is a
	// lost probe; only a run where every send failed is an error.
	var sendErr error
	failed := 0
	// Pace by the schedule, not by sleeping an interval per probe: short
	// sleeps overshoot, and the schedule catches up.
	for i := 0; i < p.Count && ctx.Err() == nil; i++ {
		if w := time.Until(base.Add(time.Duration(i) * p.Interval)); w > 0 {
			time.Sleep(w)
		}
		binary.BigEndian.PutUint64(pkt[12:], uint64(i))
		binary.BigEndian.PutUint64(pkt[20:], uint64(time.Since(base)))
		if _, err := conn.Write(pkt); err != nil {
			failed++
			if sendErr == nil {
				sendErr = fmt.Errorf("send probe %d: %w", i, err)
			}
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(rttGrace))
	err := <-done
	if ctx.Err() != nil {
		return run, ctx.Err()
	}
	if failed < p.Count {
		sendErr = nil
	}
	return run, errors.Join(sendErr, err)
}

// result summarises a run of sent probes.
func (r rttRun) result() RTTResult {
	var rtts []time.Duration
	for _, d := range r.rtt {
		if d >= 0 {
			rtts = append(rtts, d)
		}
	}
	sent := len(r.rtt)
	res := RTTResult{Sent: sent, Forward: r.forward, Returned: len(rtts)}
	if sent > 0 {
		res.ForwardLoss = 1 - float64(res.Forward)/float64(sent)
		res.RoundTripLoss = 1 - float64(res.Returned)/float64(sent)
	}
	if res.Forward > 0 {
		res.ReturnLoss = 1 - float64(res.Returned)/float64(res.Forward)
	}
	if len(rtts) == 0 {
		return res
	}
	slices.Sort(rtts)
	var sum time.Duration
	for _, d := range rtts {
		sum += d
	}
	q := func(q float64) time.Duration { return rtts[int(q*float64(len(rtts)-1)+0.5)] }
	res.Min, res.Median, res.Mean, res.P99, res.Max = rtts[0], q(0.5), sum/time.Duration(len(rtts)), q(0.99), rtts[len(rtts)-1]
	return res
}

// withDefaults fills p's zero fields: 5 s after a 1 s warm-up, to ProbePort.
func (p ThroughputProbe) withDefaults() ThroughputProbe {
	if p.Duration == 0 {
		p.Duration = 5 * time.Second
	}
	if p.Port == 0 {
		p.Port = ProbePort
	}
	return p
}

// Validate returns every problem of p, after defaults, or nil.
func (p ThroughputProbe) Validate() error {
	p = p.withDefaults()
	var errs []error
	if !p.To.IsValid() {
		errs = append(errs, errors.New("to: missing; give the peer helper's address"))
	}
	if p.Duration < 0 || p.Warmup < 0 {
		errs = append(errs, fmt.Errorf("duration_ns, warmup_ns: %v, %v; neither may be negative", p.Duration, p.Warmup))
	} else if p.Duration+p.Warmup > maxProbeTime {
		errs = append(errs, fmt.Errorf("duration_ns+warmup_ns: %v exceeds %v", p.Duration+p.Warmup, maxProbeTime))
	}
	if p.Port < 0 || p.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d is not a port", p.Port))
	}
	return errors.Join(errs...)
}

// probeThroughput streams to a sink on conn for p.Warmup+p.Duration and
// returns what the sink counted after the warm-up.
func probeThroughput(ctx context.Context, conn net.Conn, p ThroughputProbe) (ThroughputResult, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	var hdr [20]byte
	copy(hdr[:], tcpMagic)
	binary.BigEndian.PutUint64(hdr[4:], uint64(p.Warmup))
	binary.BigEndian.PutUint64(hdr[12:], uint64(p.Duration))
	start := time.Now()
	end := start.Add(p.Warmup + p.Duration)
	_ = conn.SetWriteDeadline(end.Add(10 * time.Second))
	if _, err := conn.Write(hdr[:]); err != nil {
		return ThroughputResult{}, fmt.Errorf("send header: %w", err)
	}
	var res ThroughputResult
	buf := make([]byte, 128<<10)
	for time.Now().Before(end) {
		n, err := conn.Write(buf)
		res.Sent += int64(n)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, fmt.Errorf("send after %d bytes: %w", res.Sent, err)
		}
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return res, fmt.Errorf("close the stream: %w", err)
		}
	}
	// What was queued still drains at the path's rate: wait for the sink.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	var out [16]byte
	if _, err := io.ReadFull(conn, out[:]); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("read the sink's count: %w", err)
	}
	res.Bytes = int64(binary.BigEndian.Uint64(out[:]))
	res.Elapsed = time.Duration(binary.BigEndian.Uint64(out[8:]))
	if res.Elapsed <= 0 {
		return res, fmt.Errorf("the sink counted nothing after the %v warm-up (%d bytes sent)", p.Warmup, res.Sent)
	}
	res.BitsPerSecond = float64(res.Bytes) * 8 / res.Elapsed.Seconds()
	return res, nil
}
