package node

import (
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	libp2pwebtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
)

// Transports and security protocols the node can run, as -transport and
// -security take them. The empty string is the default (tcp, noise).
const (
	TransportTCP          = "tcp"
	TransportQUIC         = "quic-v1"
	TransportWebSocket    = "websocket"
	TransportWebTransport = "webtransport"

	SecurityNoise = "noise"
	SecurityTLS   = "tls"
)

var (
	transports = []string{TransportTCP, TransportQUIC, TransportWebSocket, TransportWebTransport}
	securities = []string{SecurityNoise, SecurityTLS}
)

// transportName is c.Transport with the default filled in.
func (c Config) transportName() string {
	if c.Transport == "" {
		return TransportTCP
	}
	return c.Transport
}

// securityName is what secures the node's connections, as the ready event
// reports it. QUIC runs libp2p's TLS 1.3 handshake inside QUIC itself;
// WebTransport runs HTTP/3's TLS with a self-signed certificate and then a
// Noise handshake over a stream to authenticate the peer IDs.
func (c Config) securityName() string {
	switch c.transportName() {
	case TransportQUIC:
		return SecurityTLS
	case TransportWebTransport:
		return SecurityNoise
	}
	if c.Security == "" {
		return SecurityNoise
	}
	return c.Security
}

// ownSecurity says why a transport takes no -security: it has its own.
var ownSecurity = map[string]string{
	TransportQUIC:         "QUIC always secures connections with TLS 1.3",
	TransportWebTransport: "WebTransport runs over QUIC's TLS 1.3 and authenticates peers with Noise",
}

// listenAddr is the one address the node listens on for its transport.
func (c Config) listenAddr() string {
	switch c.transportName() {
	case TransportQUIC:
		return fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", c.ListenPort)
	case TransportWebSocket:
		return fmt.Sprintf("/ip4/0.0.0.0/tcp/%d/ws", c.ListenPort)
	case TransportWebTransport:
		return fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1/webtransport", c.ListenPort)
	default:
		return fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", c.ListenPort)
	}
}

// transportOptions are the libp2p options for the chosen transport and
// security, exactly one of each: the node neither listens on nor dials any
// other transport. The default (tcp, noise) is the node's original setup.
func (c Config) transportOptions() []libp2p.Option {
	opts := []libp2p.Option{libp2p.ListenAddrStrings(c.listenAddr())}
	switch c.transportName() {
	case TransportQUIC:
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	case TransportWebSocket:
		opts = append(opts, libp2p.Transport(websocket.New))
	case TransportWebTransport:
		opts = append(opts, libp2p.Transport(libp2pwebtransport.New))
	default:
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport))
	}
	// QUIC and WebTransport never use the upgrader's security transport, but
	// libp2p adds both default ones when none is given, so one is always set.
	if c.Security == SecurityTLS {
		opts = append(opts, libp2p.Security(libp2ptls.ID, libp2ptls.New))
	} else {
		opts = append(opts, libp2p.Security(noise.ID, noise.New))
	}
	return opts
}

// validateTransport checks -transport, -security and that every -dial target
// is an address of the node's transport. Messages name the flags.
func (c Config) validateTransport() []error {
	var errs []error
	if c.Transport != "" && !slices.Contains(transports, c.Transport) {
		errs = append(errs, fmt.Errorf("-transport %q: expected one of %v", c.Transport, transports))
		return errs // the rest depends on the transport
	}
	if c.Security != "" && !slices.Contains(securities, c.Security) {
		errs = append(errs, fmt.Errorf("-security %q: expected one of %v", c.Security, securities))
	}
	if why, ok := ownSecurity[c.transportName()]; ok && c.Security != "" {
		errs = append(errs, fmt.Errorf("-security %s with -transport %s: %s; leave -security unset", c.Security, c.transportName(), why))
	}
	for _, a := range c.Dial {
		if err := checkDialTransport(c.transportName(), a); err != nil {
			errs = append(errs, fmt.Errorf("-dial %s: %w", a, err))
		}
	}
	return errs
}

// dialTransport names the transport a multiaddr is for, or "" when the node
// has none for it (wss, webrtc, a bare IP, …).
func dialTransport(a ma.Multiaddr) string {
	var has = map[int]bool{}
	for _, p := range a.Protocols() {
		has[p.Code] = true
	}
	switch {
	case has[ma.P_WEBTRANSPORT]:
		return TransportWebTransport
	case has[ma.P_QUIC_V1] && !has[ma.P_WEBRTC_DIRECT] && !has[ma.P_WEBRTC]:
		return TransportQUIC
	case has[ma.P_WSS] || has[ma.P_TLS] || has[ma.P_WEBRTC] || has[ma.P_WEBRTC_DIRECT] || has[ma.P_CIRCUIT]:
		return ""
	case has[ma.P_WS]:
		return TransportWebSocket
	case has[ma.P_TCP]:
		return TransportTCP
	}
	return ""
}

// dialForm is what a -dial address of each transport looks like.
var dialForm = map[string]string{
	TransportTCP:          "/ip4/10.0.0.2/tcp/4001/p2p/<peer ID>",
	TransportQUIC:         "/ip4/10.0.0.2/udp/4001/quic-v1/p2p/<peer ID>",
	TransportWebSocket:    "/ip4/10.0.0.2/tcp/4001/ws/p2p/<peer ID>",
	TransportWebTransport: "/ip4/10.0.0.2/udp/4001/quic-v1/webtransport/certhash/<hash>/certhash/<hash>/p2p/<peer ID>",
}

func checkDialTransport(transport string, a ma.Multiaddr) error {
	got := dialTransport(a)
	if got != transport {
		if got == "" {
			got = "none the node runs"
		}
		return fmt.Errorf("not a %s address (its transport: %s); -transport %s dials only addresses like %s",
			transport, got, transport, dialForm[transport])
	}
	if transport == TransportWebTransport {
		n := 0
		for _, p := range a.Protocols() {
			if p.Code == ma.P_CERTHASH {
				n++
			}
		}
		if n == 0 {
			// go-libp2p refuses too ("can't dial webtransport without
			// certhashes"): the listener's certificate is self-signed, so
			// the dialer can trust it only by its hash.
			return fmt.Errorf("a webtransport address needs the target's /certhash/ components, like %s: "+
				"the listener's TLS certificate is self-signed and go-libp2p trusts it only by hash; "+
				"the hashes come from the listener's private key and the current 14-day certificate period, "+
				"so take them from the target's ready event (addrs), they cannot be derived from its peer ID",
				dialForm[transport])
		}
	}
	return nil
}
