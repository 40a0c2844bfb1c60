package shape

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// echoResult is what a UDP echo run measured.
type echoResult struct {
	Sent, Received int
	RTTs           []time.Duration // sorted
}

// Loss is the fraction of probes that got no echo.
func (r echoResult) Loss() float64 { return 1 - float64(r.Received)/float64(r.Sent) }

// Quantile returns the q-quantile (0..1) of the RTTs.
func (r echoResult) Quantile(q float64) time.Duration {
	if len(r.RTTs) == 0 {
		return 0
	}
	return r.RTTs[int(q*float64(len(r.RTTs)-1))]
}

// Mean returns the mean RTT.
func (r echoResult) Mean() time.Duration {
	var sum time.Duration
	for _, d := range r.RTTs {
		sum += d
	}
	if len(r.RTTs) == 0 {
		return 0
	}
	return sum / time.Duration(len(r.RTTs))
}

func (r echoResult) String() string {
	return fmt.Sprintf("sent=%d received=%d loss=%.3f%% rtt min=%v p50=%v mean=%v p99=%v max=%v",
		r.Sent, r.Received, 100*r.Loss(), r.Quantile(0), r.Quantile(0.5), r.Mean(), r.Quantile(0.99), r.Quantile(1))
}

// udpEcho echoes UDP on serverIP:7777 in serverNS and sends n probes at rate
// per second from clientNS, each carrying its sequence number and send time.
// It waits for echoes at most a second after the last probe.
func udpEcho(serverNS, serverIP, clientNS string, n int, rate float64) (echoResult, error) {
	addr := &net.UDPAddr{IP: net.ParseIP(serverIP), Port: 7777}
	var srv, cli *net.UDPConn
	if err := inNetns(serverNS, func() (err error) { srv, err = net.ListenUDP("udp", addr); return }); err != nil {
		return echoResult{}, fmt.Errorf("udp echo server: %w", err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:k], from)
		}
	}()
	if err := inNetns(clientNS, func() (err error) { cli, err = net.DialUDP("udp", nil, addr); return }); err != nil {
		return echoResult{}, fmt.Errorf("udp echo client: %w", err)
	}
	defer cli.Close()
	_ = cli.SetReadBuffer(4 << 20)
	_ = srv.SetReadBuffer(4 << 20)

	base := time.Now()
	got := make([]bool, n)
	var rtts []time.Duration
	var mu sync.Mutex
	var lastSent time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			mu.Lock()
			deadline := time.Now().Add(time.Second)
			if !lastSent.IsZero() {
				deadline = lastSent.Add(time.Second)
			}
			mu.Unlock()
			cli.SetReadDeadline(deadline)
			k, err := cli.Read(buf)
			now := time.Since(base)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					mu.Lock()
					finished := !lastSent.IsZero()
					mu.Unlock()
					if finished {
						return
					}
					continue
				}
				return
			}
			if k < 16 {
				continue
			}
			seq := int(binary.LittleEndian.Uint64(buf))
			if seq < 0 || seq >= n || got[seq] {
				continue
			}
			got[seq] = true
			rtts = append(rtts, now-time.Duration(binary.LittleEndian.Uint64(buf[8:])))
			if len(rtts) == n {
				return
			}
		}
	}()
	// Pace by elapsed time rather than by sleeping per probe: sleeps shorter
	// than a millisecond overshoot.
	pkt := make([]byte, 64)
	start := time.Now()
	for i := 0; i < n; {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		for ; i < due; i++ {
			binary.LittleEndian.PutUint64(pkt, uint64(i))
			binary.LittleEndian.PutUint64(pkt[8:], uint64(time.Since(base)))
			if _, err := cli.Write(pkt); err != nil {
				return echoResult{}, fmt.Errorf("udp echo: send probe %d: %w", i, err)
			}
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	lastSent = time.Now()
	mu.Unlock()
	<-done
	slices.Sort(rtts)
	return echoResult{Sent: n, Received: len(rtts), RTTs: rtts}, nil
}

// tcpGoodput sends as fast as TCP allows from senderNS to sinkIP:5001 in
// sinkNS, and returns the sink's goodput in bit/s between one second after
// the first byte (slow start and HTB's initial burst excluded) and dur after
// it. The sink then closes, which ends the sender.
func tcpGoodput(sinkNS, sinkIP, senderNS string, dur time.Duration) (float64, error) {
	addr := net.JoinHostPort(sinkIP, "5001")
	var ln net.Listener
	if err := inNetns(sinkNS, func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		return 0, fmt.Errorf("tcp sink: %w", err)
	}
	defer ln.Close()
	type result struct {
		bps float64
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{0, fmt.Errorf("tcp sink: accept: %w", err)}
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(dur + 5*time.Second))
		buf := make([]byte, 256<<10)
		var total, at1 int64
		var first, t1 time.Time
		for {
			k, err := c.Read(buf)
			if k > 0 {
				if first.IsZero() {
					first = time.Now()
				}
				total += int64(k)
				if t1.IsZero() && time.Since(first) >= time.Second {
					t1, at1 = time.Now(), total
				}
				if time.Since(first) >= dur {
					break
				}
			}
			if err != nil {
				res <- result{0, fmt.Errorf("tcp sink: read after %d bytes: %w", total, err)}
				return
			}
		}
		res <- result{float64(total-at1) * 8 / time.Since(t1).Seconds(), nil}
	}()
	var c net.Conn
	if err := inNetns(senderNS, func() (err error) { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return }); err != nil {
		return 0, fmt.Errorf("tcp sender: %w", err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 64<<10)
		c.SetWriteDeadline(time.Now().Add(dur + 5*time.Second))
		for {
			if _, err := c.Write(buf); err != nil {
				return // the sink closed, or the deadline passed: the sink's figure decides
			}
		}
	}()
	r := <-res
	return r.bps, r.err
}
