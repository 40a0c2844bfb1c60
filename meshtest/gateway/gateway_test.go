package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// startGateway serves a gateway that lets tunnels reach allow, and returns
// its address.
func startGateway(t *testing.T, allow ...string) string {
	t.Helper()
	s := &Server{Token: "secret", Logf: t.Logf}
	for _, a := range allow {
		s.Allow = append(s.Allow, netip.MustParsePrefix(a))
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestDialerTunnelsToAnAllowedAddress sends HTTP through a tunnel, twice on
// the one connection, as the harness's kept scrape connections do.
func TestDialerTunnelsToAnAllowedAddress(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.URL.Path)
	}))
	defer node.Close()
	gw := startGateway(t, "127.0.0.0/8")
	d := &Dialer{Addr: gw, Token: "secret"}
	dials := 0
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return d.DialContext(ctx, network, addr)
	}}}
	for _, path := range []string{"/a", "/b"} {
		resp, err := hc.Get(node.URL + path)
		if err != nil {
			t.Fatalf("GET %s through the gateway: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello from "+path {
			t.Errorf("GET %s: body %q", path, body)
		}
	}
	if dials != 1 {
		t.Errorf("%d tunnels for two requests; want the one, kept", dials)
	}
}

// TestGatewayRefuses: a wrong token, an address outside the network, and
// a request that is no CONNECT each get their own status and no tunnel.
func TestGatewayRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gw := startGateway(t, "10.0.1.0/24")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	_, err = (&Dialer{Addr: gw, Token: "guess"}).DialContext(ctx, "tcp", "10.0.1.5:80")
	if err == nil || !strings.Contains(err.Error(), "407") {
		t.Errorf("wrong token: %v; want 407 Proxy Authentication Required", err)
	}
	_, err = (&Dialer{Addr: gw, Token: "secret"}).DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "outside") {
		t.Errorf("address outside the network: %v; want 403 naming it", err)
	}
	_, err = (&Dialer{Addr: gw, Token: "secret"}).DialContext(ctx, "udp", "10.0.1.5:80")
	if err == nil || !strings.Contains(err.Error(), "only tcp") {
		t.Errorf("udp: %v; want a refusal", err)
	}
	resp, err := http.Get("http://" + gw + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET to the gateway: %s; want 405", resp.Status)
	}
}

// TestDialerHonoursItsContext: a gateway that never answers the CONNECT
// holds the dial only as long as ctx.
func TestDialerHonoursItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = (&Dialer{Addr: ln.Addr().String(), Token: "secret"}).DialContext(ctx, "tcp", "10.0.1.5:80")
	if err == nil {
		t.Fatal("a gateway that never answers gave a connection")
	}
	if waited := time.Since(begin); waited > 5*time.Second {
		t.Errorf("the dial took %v with a 200ms context", waited)
	}
}
