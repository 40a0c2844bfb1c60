// Package gateway carries the harness's connections into a network its host
// cannot route to: a swarm's overlay spans engines, and its addresses exist
// only inside the containers attached to it. A gateway is a container on
// that network serving HTTP CONNECT (RFC 9110, section 9.3.6) on a port the
// harness reaches; the harness dials every node through it with a Dialer,
// keeping one tunnel per kept connection, so that the scrapes and probes
// that run over it are the same bytes as on a bridge.
//
// A gateway is a way in, so it takes only what it must: a tunnel needs the
// run's token (Proxy-Authorization: Bearer), and goes only to addresses in
// the prefixes it was given, the run's network.
package gateway

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Port is where a gateway listens in its container.
const Port = 7960

// dialTimeout bounds the gateway's own dial to a node: an address on the
// run's network answers or refuses within milliseconds, and a node that
// does not exist (yet) must fail a probe, not hold it.
const dialTimeout = 5 * time.Second

// Server is the gateway's side. Its zero value is not usable: Token and
// Allow are required.
type Server struct {
	Token string         // required of every tunnel
	Allow []netip.Prefix // the addresses a tunnel may go to
	// Logf, if set, reports each refused or failed tunnel.
	Logf func(format string, args ...any)
}

// ServeHTTP answers CONNECT host:port with a tunnel to it, and anything
// else with 405: a gateway is no web proxy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "gateway: only CONNECT", http.StatusMethodNotAllowed)
		return
	}
	got, _ := strings.CutPrefix(r.Header.Get("Proxy-Authorization"), "Bearer ")
	if s.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
		s.refuse(w, r, http.StatusProxyAuthRequired, "wrong or missing token")
		return
	}
	to, err := netip.ParseAddrPort(r.Host)
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, "want CONNECT ip:port")
		return
	}
	if !s.allowed(to.Addr()) {
		s.refuse(w, r, http.StatusForbidden, fmt.Sprintf("%s is outside %v", to.Addr(), s.Allow))
		return
	}
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	node, err := d.DialContext(r.Context(), "tcp", to.String())
	if err != nil {
		s.refuse(w, r, http.StatusBadGateway, err.Error())
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		node.Close()
		s.refuse(w, r, http.StatusInternalServerError, "connection cannot be taken over")
		return
	}
	w.WriteHeader(http.StatusOK)
	harness, buf, err := hj.Hijack()
	if err != nil {
		node.Close()
		return
	}
	// The harness may have sent its first request right behind CONNECT.
	if n := buf.Reader.Buffered(); n > 0 {
		b, _ := buf.Reader.Peek(n)
		if _, err := node.Write(b); err != nil {
			node.Close()
			harness.Close()
			return
		}
	}
	splice(harness, node)
}

func (s *Server) allowed(a netip.Addr) bool {
	for _, p := range s.Allow {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	if s.Logf != nil {
		s.Logf("gateway: CONNECT %s from %s: %d %s", r.Host, r.RemoteAddr, code, why)
	}
	http.Error(w, "gateway: "+why, code)
}

// splice copies both ways until either side is done, then closes both: a
// node that closes its end (an HTTP Connection: close) closes the
// harness's, as a direct connection would.
func splice(a, b net.Conn) {
	var once sync.Once
	closeBoth := func() { a.Close(); b.Close() }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(a, b); once.Do(closeBoth) }()
	go func() { defer wg.Done(); io.Copy(b, a); once.Do(closeBoth) }()
	wg.Wait()
}

// Dialer is the harness's side: it opens each connection as a tunnel
// through the gateway at Addr.
type Dialer struct {
	Addr  string // the gateway, host:port as the harness reaches it
	Token string
}

// DialContext returns a connection to addr (ip:port on the gateway's
// network) through the gateway, in the shape of net.Dialer's. Only "tcp"
// goes through; ctx bounds the dial and the CONNECT exchange.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("gateway %s: dial %s %s: only tcp goes through a gateway", d.Addr, network, addr)
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", d.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// An ended ctx ends the exchange, as it ends net.Dialer's dial.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	conn, err := d.connect(c, addr)
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return conn, nil
}

func (d *Dialer) connect(c net.Conn, addr string) (net.Conn, error) {
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\nProxy-Authorization: Bearer " + d.Token + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, fmt.Errorf("gateway %s: CONNECT %s: %w", d.Addr, addr, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("gateway %s: CONNECT %s: %w", d.Addr, addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("gateway %s: CONNECT %s: %s: %s", d.Addr, addr, resp.Status, strings.TrimSpace(string(body)))
	}
	if br.Buffered() > 0 { // the node spoke first, right behind the 200
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// bufferedConn reads what the CONNECT exchange read ahead before the rest.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
