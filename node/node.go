package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	ma "github.com/multiformats/go-multiaddr"
)

// Node is a running meshnode: a libp2p host, its HTTP server and its dialers.
type Node struct {
	host    host.Host
	regs    *registries
	httpSrv *http.Server
	httpLn  net.Listener
	events  *eventLog
	ballast *ballast
	gossip  *gossip // nil without -gossip-topic

	cancel context.CancelFunc // stops the dialers
	dials  sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Start builds the host, listens, serves HTTP, writes the ready event and then
// starts dialing cfg.Dial in the background. It returns once the node is ready;
// on error nothing it started is left running. Cancelling ctx stops the
// dialing but not the node: Close does that.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	keyOrigin := "given"
	if cfg.Key == nil {
		k, err := generateKey()
		if err != nil {
			return nil, fmt.Errorf("start node: %w", err)
		}
		cfg.Key, keyOrigin = k, "generated"
	}
	id, err := peer.IDFromPrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("start node: peer ID from key: %w", err)
	}

	n := &Node{events: newEventLog(cfg.Out)}
	var hostRef atomic.Pointer[host.Host] // the collector is registered before the host exists
	regs := newRegistries(func() host.Host {
		if p := hostRef.Load(); p != nil {
			return *p
		}
		return nil
	}, id.String())
	n.regs = regs

	opts, err := hostOptions(cfg, regs)
	if err != nil {
		_ = regs.close()
		return nil, fmt.Errorf("start node: %w", err)
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = regs.close()
		return nil, fmt.Errorf("start node: libp2p host on %s: %w", cfg.listenAddr(), err)
	}
	n.host = h
	hostRef.Store(&h)
	// With -redial each target's dialer waits on its own channel in watch;
	// without, the channels are nil and a loss ends the dialer.
	lost := make([]<-chan struct{}, len(cfg.Dial))
	var afterDisconnect func(network.Network, network.Conn)
	if cfg.Redial {
		watch := lossWatch{}
		for i, target := range cfg.Dial {
			lost[i] = watch.watch(target)
		}
		afterDisconnect = watch.disconnected
	}
	h.Network().Notify(n.events.notifiee(afterDisconnect))
	if cfg.Perf {
		h.SetStreamHandler(perfID, servePerf)
	}
	if cfg.ExtraBytesPerConn > 0 {
		n.ballast = newBallast(cfg.ExtraBytesPerConn)
		h.Network().Notify(n.ballast.notifiee())
	}

	if cfg.GossipTopic != "" {
		n.gossip, err = startGossip(h, regs.node, cfg)
		if err != nil {
			_ = h.Close()
			_ = regs.close()
			return nil, fmt.Errorf("start node: %w", err)
		}
	}

	ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.MetricsPort)))
	if err != nil {
		if n.gossip != nil {
			n.gossip.close()
		}
		_ = h.Close()
		_ = regs.close()
		return nil, fmt.Errorf("start node: metrics listener on port %d: %w", cfg.MetricsPort, err)
	}
	n.httpLn = ln
	n.httpSrv = &http.Server{
		Handler:           newMux(h, regs, cfg, n.gossip),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = n.httpSrv.Serve(ln) }() // returns ErrServerClosed on Close

	n.events.emit(Event{
		Event:     EventReady,
		PeerID:    id.String(),
		Addrs:     addrStrings(h.Addrs()),
		Metrics:   n.MetricsAddr(),
		Key:       keyOrigin,
		Transport: cfg.transportName(),
		Security:  cfg.securityName(),
	})

	dialCtx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	deadline := time.Now().Add(cfg.DialTimeout)
	for i, target := range cfg.Dial {
		n.dials.Go(func() { n.dialTarget(dialCtx, target, deadline, lost[i]) })
	}
	return n, nil
}

// hostOptions is the whole libp2p configuration. Every subsystem that would
// act on its own (relay, NAT port mapping, hole punching, AutoNAT probing,
// address discovery) is off, and nothing limits or trims connections unless
// cfg asks: a node in a mesh does only what the experiment makes it do.
func hostOptions(cfg Config, regs *registries) ([]libp2p.Option, error) {
	rm, err := newResourceManager(cfg.MaxConns)
	if err != nil {
		return nil, err
	}
	cm, err := newConnManager(cfg.ConnLow, cfg.ConnHigh)
	if err != nil {
		_ = rm.Close()
		return nil, err
	}
	return append(cfg.transportOptions(),
		libp2p.Identity(cfg.Key),
		libp2p.Muxer(yamux.ID, newMuxer(cfg.Keepalive)),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.PrometheusRegisterer(regs.libp2p),
		libp2p.UserAgent("meshnode/"+version()),
		// NAT port mapping, hole punching, AutoNAT v2 and the relay service
		// are off unless enabled; relay dialing is on by default, so:
		libp2p.DisableRelay(),
		// The AutoNAT v1 client is always created; a fixed reachability makes
		// it a static value that never probes peers.
		libp2p.ForceReachabilityPrivate(),
		// Observed-address bookkeeping from identify serves NAT traversal,
		// which a mesh on one bridge network does not need.
		libp2p.DisableIdentifyAddressDiscovery(),
	), nil
}

// newMuxer is go-libp2p's yamux transport with the keepalive interval set
// when keepalive > 0. yamux.DefaultTransport is one value shared by every
// host in the process, so it is copied, never changed.
//
// yamux pings a connection that has received nothing for KeepAliveInterval
// and closes it (ErrKeepAliveTimeout) when the pong has not come within
// ConnectionWriteTimeout (10 s, not changed here: it is also the deadline of
// every write, and a short one would cut slow but healthy connections). So a
// connection cut silently, dropping packets, is closed at most keepalive +
// 10 s after the last frame it carried. A write stuck behind a full send
// buffer fails at its own 10 s deadline, which closes the session too.
func newMuxer(keepalive time.Duration) *yamux.Transport {
	if keepalive == 0 {
		return yamux.DefaultTransport
	}
	c := *yamux.DefaultTransport.Config()
	c.KeepAliveInterval = keepalive
	return (*yamux.Transport)(&c)
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs returns the addresses the node listens on, without /p2p/.
func (n *Node) Addrs() []ma.Multiaddr { return n.host.Addrs() }

// MetricsAddr returns the host:port the HTTP server is bound to (0.0.0.0 and
// the real port, also when MetricsPort was 0).
func (n *Node) MetricsAddr() string { return n.httpLn.Addr().String() }

// Close stops dialing, the HTTP server and the host, then writes the shutdown
// event. It is safe to call more than once; later calls return the first result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		n.dials.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var errs []error
		if err := n.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close node: http server: %w", err))
		}
		if n.gossip != nil {
			n.gossip.close()
		}
		if err := n.host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close node: libp2p host: %w", err))
		}
		if err := n.regs.close(); err != nil {
			errs = append(errs, fmt.Errorf("close node: metrics: %w", err))
		}
		n.events.emit(Event{Event: EventShutdown})
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func addrStrings(addrs []ma.Multiaddr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
