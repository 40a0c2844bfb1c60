package shape

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"syscall"
	"time"
)

// The UDP rate probe, both sides; its protocol is described with the others
// in probe.go.
const (
	rateMagic   = "mtr1"
	queryMagic  = "mtq1"
	answerMagic = "mta1"
	// minRateSize is a rate datagram's header: magic, session, seq, phase.
	minRateSize = 21
	// rateFrameSize is the size of a query and of its answer.
	rateFrameSize = 36
	// wireOverhead is what the wire adds to a UDP payload, as HTB counts
	// it: UDP 8, IPv4 20 and Ethernet 14 bytes (no preamble, FCS or gap).
	wireOverhead = 8 + 20 + 14
	// maxProbeRate bounds RateProbe.Rate, far above what one helper sends.
	maxProbeRate = 10_000_000_000
	// rateTick is the pacer's shortest sleep. At 130 Mbit/s a datagram is
	// due every 77 µs; sleeping that long per datagram costs a wake-up
	// each and overshoots, where one burst per tick keeps a 2-core machine
	// on schedule, and the bottleneck's queue absorbs the bursts.
	rateTick = time.Millisecond
	// rateSettle is the wait after the flood before the first query, and
	// between queries.
	rateSettle = 200 * time.Millisecond
	// maxRateDrain bounds the queries after the flood: a queue that takes
	// longer to drain is on a link too slow to measure this way.
	maxRateDrain = time.Minute
)

// withDefaults fills p's zero fields: 1200-byte datagrams for 2 s after a
// 500 ms warm-up, to ProbePort.
func (p RateProbe) withDefaults() RateProbe {
	if p.Size == 0 {
		p.Size = 1200
	}
	if p.Warmup == 0 {
		p.Warmup = 500 * time.Millisecond
	}
	if p.Duration == 0 {
		p.Duration = 2 * time.Second
	}
	if p.Port == 0 {
		p.Port = ProbePort
	}
	return p
}

// Validate returns every problem of p, after defaults, or nil.
func (p RateProbe) Validate() error {
	p = p.withDefaults()
	var errs []error
	if !p.To.IsValid() {
		errs = append(errs, errors.New("to: missing; give the peer helper's address"))
	}
	switch {
	case p.Rate == 0:
		errs = append(errs, errors.New("rate_bits_per_s: missing; give the send rate in bit/s on the wire, above the link's (1.3× say) so that the link is what limits"))
	case p.Rate < 0 || p.Rate > maxProbeRate:
		errs = append(errs, fmt.Errorf("rate_bits_per_s: %d is not in 1..%d (10 Gbit/s)", p.Rate, int64(maxProbeRate)))
	}
	sizeOK := p.Size >= minRateSize && p.Size <= maxProbeSize
	if !sizeOK {
		errs = append(errs, fmt.Errorf("size: %d bytes is not in %d..%d (one unfragmented UDP payload at MTU 1500)", p.Size, minRateSize, maxProbeSize))
	}
	if p.Duration < 0 || p.Warmup < 0 {
		errs = append(errs, fmt.Errorf("duration_ns, warmup_ns: %v, %v; neither may be negative", p.Duration, p.Warmup))
	} else if p.Duration+p.Warmup > maxProbeTime {
		errs = append(errs, fmt.Errorf("duration_ns+warmup_ns: %v exceeds %v", p.Duration+p.Warmup, maxProbeTime))
	} else if p.Rate > 0 && sizeOK {
		if n := p.Duration.Seconds() * float64(p.Rate) / float64((p.Size+wireOverhead)*8); n < 2 {
			errs = append(errs, fmt.Errorf("duration_ns: %v at %d bit/s is %.1f datagrams of %d bytes; a rate needs at least 2, so send longer or faster", p.Duration, p.Rate, n, p.Size))
		}
	}
	if p.Port < 0 || p.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d is not a port", p.Port))
	}
	return errors.Join(errs...)
}

// rateAnswer is the server's count of one rate session's measured datagrams.
type rateAnswer struct {
	session, packets, bytes uint64
	elapsed                 time.Duration // first arrival to last
}

func (a rateAnswer) marshal() []byte {
	b := make([]byte, rateFrameSize)
	copy(b, answerMagic)
	binary.BigEndian.PutUint64(b[4:], a.session)
	binary.BigEndian.PutUint64(b[12:], a.packets)
	binary.BigEndian.PutUint64(b[20:], a.bytes)
	binary.BigEndian.PutUint64(b[28:], uint64(a.elapsed))
	return b
}

func parseRateAnswer(b []byte) (rateAnswer, bool) {
	if len(b) < rateFrameSize || string(b[:4]) != answerMagic {
		return rateAnswer{}, false
	}
	return rateAnswer{
		session: binary.BigEndian.Uint64(b[4:]),
		packets: binary.BigEndian.Uint64(b[12:]),
		bytes:   binary.BigEndian.Uint64(b[20:]),
		elapsed: time.Duration(binary.BigEndian.Uint64(b[28:])),
	}, true
}

// rateQuery is the query for session's counts, padded to its answer's size.
func rateQuery(session uint64) []byte {
	b := make([]byte, rateFrameSize)
	copy(b, queryMagic)
	binary.BigEndian.PutUint64(b[4:], session)
	return b
}

// countRate counts pkt, read at now, if it is a measured datagram of a rate
// probe, and reports whether it is a rate datagram at all.
func (s *probeServer) countRate(pkt []byte, now time.Time) bool {
	if len(pkt) < minRateSize || string(pkt[:4]) != rateMagic {
		return false
	}
	if pkt[20] != 1 {
		return true // the warm-up fills the queue; nothing to count
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.session(binary.BigEndian.Uint64(pkt[4:]), now)
	if se.packets == 0 {
		se.first = now
	}
	se.packets++
	se.bytes += uint64(len(pkt))
	se.latest = now
	return true
}

// answerRate returns the answer to pkt if it is a rate query. A query never
// makes a session.
func (s *probeServer) answerRate(pkt []byte) ([]byte, bool) {
	if len(pkt) < rateFrameSize || string(pkt[:4]) != queryMagic {
		return nil, false
	}
	a := rateAnswer{session: binary.BigEndian.Uint64(pkt[4:])}
	s.mu.Lock()
	if se := s.sessions[a.session]; se != nil && se.packets > 0 {
		a.packets, a.bytes, a.elapsed = se.packets, se.bytes, se.latest.Sub(se.first)
	}
	s.mu.Unlock()
	return a.marshal(), true
}

// probeRate floods the probe server on conn with p's datagrams, then asks it
// what of the measured phase arrived. p has its defaults.
func probeRate(ctx context.Context, conn net.Conn, p RateProbe) (RateResult, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	// A socket buffer larger than the bottleneck's queue: on a veth path
	// (Docker's too) a datagram stays charged to the sender's socket until
	// the receiver's IP layer takes it, so with the default buffer (some 90
	// datagrams, 18 ms at 50 Mbit/s) the shaper's queue was in effect the
	// socket's, and ran dry whenever the sender was scheduled late.
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetWriteBuffer(4 << 20) // best effort: capped by net.core.wmem_max
	}
	session := rand.Uint64()
	res, sendErr := floodRate(ctx, conn, p, session)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.Sent == 0 {
		return res, errors.Join(fmt.Errorf("no measured datagram sent, %d sends failed", res.SendErrors), sendErr)
	}
	a, err := queryRate(ctx, conn, session)
	res.Received, res.Bytes, res.Elapsed = int(a.packets), int64(a.bytes), a.elapsed
	res.Loss = 1 - float64(res.Received)/float64(res.Sent)
	// Elapsed spans the Received−1 gaps between arrivals.
	if res.Received > 1 && res.Elapsed > 0 {
		res.WireBitsPerSecond = float64(res.Received-1) * float64((p.Size+wireOverhead)*8) / res.Elapsed.Seconds()
	}
	if err != nil {
		return res, err
	}
	if res.WireBitsPerSecond == 0 {
		return res, fmt.Errorf("the peer counted %d of %d measured datagrams; a rate needs 2", res.Received, res.Sent)
	}
	return res, nil
}

// floodRate sends p's datagrams of session on conn, paced by the clock at
// p.Rate on the wire, for p.Warmup then p.Duration, and counts the measured
// phase's writes. A failed write (ENOBUFS from a full queue, ECONNREFUSED
// for an earlier datagram) is counted, not fatal; the first is returned.
// A sender that falls behind catches up, so the average holds, but stops
// when the time is up: then Sent says what it managed.
func floodRate(ctx context.Context, conn net.Conn, p RateProbe, session uint64) (RateResult, error) {
	var res RateResult
	var firstErr error
	perSec := float64(p.Rate) / float64((p.Size+wireOverhead)*8)
	warm := int64(math.Ceil(p.Warmup.Seconds() * perSec))
	total := p.Warmup + p.Duration
	pkt := make([]byte, p.Size)
	copy(pkt, rateMagic)
	binary.BigEndian.PutUint64(pkt[4:], session)
	start := time.Now()
	// A write blocks while the socket's buffer is full, as it is behind a
	// shaper on the sender's own interface.
	_ = conn.SetWriteDeadline(start.Add(total + time.Second))
	defer conn.SetWriteDeadline(time.Time{})
	for i := int64(0); ctx.Err() == nil; i++ {
		at := time.Duration(float64(i) / perSec * float64(time.Second))
		if at >= total {
			break
		}
		now := time.Since(start)
		if now > total+rateTick {
			break
		}
		if w := at - now; w > 0 {
			time.Sleep(max(w, rateTick))
		}
		binary.BigEndian.PutUint64(pkt[12:], uint64(i))
		if i >= warm {
			pkt[20] = 1
		}
		_, err := conn.Write(pkt)
		switch {
		case i < warm:
		case err == nil:
			res.Sent++
		default:
			res.SendErrors++
			if firstErr == nil {
				firstErr = fmt.Errorf("send datagram %d: %w", i, err)
			}
		}
	}
	return res, firstErr
}

// queryRate asks the server on conn for session's counts from rateSettle
// on, every rateSettle, until two answers in a row agree or maxRateDrain has
// passed; see the protocol. ECONNREFUSED ends it at once: nothing listens.
func queryRate(ctx context.Context, conn net.Conn, session uint64) (rateAnswer, error) {
	end := time.Now()
	q := rateQuery(session)
	buf := make([]byte, 2048)
	var last rateAnswer
	answers, queries := 0, 0
	var lastErr error
	refused := func(err error) error {
		return fmt.Errorf("query the count: nothing listens at the peer's probe port: %w", err)
	}
	for next := end.Add(rateSettle); ctx.Err() == nil; next = next.Add(rateSettle) {
		// Answers may come late, to any earlier query: read until the next
		// query is due.
		_ = conn.SetReadDeadline(next)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				switch {
				case errors.As(err, &ne) && ne.Timeout():
				case errors.Is(err, syscall.ECONNREFUSED):
					return last, refused(err)
				case errors.Is(err, net.ErrClosed):
					return last, fmt.Errorf("query the count: %w", err)
				default:
					lastErr = err // e.g. an ICMP error for one query; wait for the next
					time.Sleep(time.Until(next))
				}
				break
			}
			a, ok := parseRateAnswer(buf[:n])
			if !ok || a.session != session {
				continue
			}
			if answers > 0 && a == last {
				return a, nil
			}
			last = a
			answers++
		}
		if ctx.Err() != nil || time.Since(end) > maxRateDrain {
			break
		}
		if _, err := conn.Write(q); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return last, refused(err)
			}
			lastErr = err
		}
		queries++
	}
	if ctx.Err() != nil {
		return last, ctx.Err()
	}
	if answers == 0 {
		return last, errors.Join(fmt.Errorf("query the count: no answer to %d queries in %v", queries, maxRateDrain), lastErr)
	}
	return last, fmt.Errorf("query the count: still counting %v after the flood (%d datagrams so far)", maxRateDrain, last.packets)
}
