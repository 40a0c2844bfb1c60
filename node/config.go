package node

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Defaults applied by ParseConfig. A Config built in Go keeps its zero ports,
// which mean "pick a free port" — what an in-process test wants.
const (
	DefaultListenPort  = 4001
	DefaultMetricsPort = 9090
	DefaultDialTimeout = 2 * time.Minute
)

// Config is everything a node needs. It maps one-to-one to the command-line
// flags (see the package documentation); the zero value is a usable node with
// random ports, a generated key, no dial targets and no limits.
type Config struct {
	// ListenPort is the libp2p port on 0.0.0.0 (TCP for tcp and websocket,
	// UDP for quic-v1 and webtransport); 0 picks a free one.
	ListenPort int
	// Transport is the one transport the node listens on and dials: "tcp"
	// (the default when empty), "quic-v1", "websocket" or "webtransport".
	Transport string
	// Security secures tcp and websocket connections: "noise" (the default
	// when empty) or "tls". quic-v1 and webtransport bring their own and
	// refuse it.
	Security string
	// MetricsPort is the HTTP port on 0.0.0.0; 0 picks a free one.
	MetricsPort int
	// Key is the node's identity; nil generates an ed25519 key.
	Key crypto.PrivKey
	// Dial lists the multiaddrs of the node's transport, each ending in
	// /p2p/<peer ID>, that the node
	// connects to after start, retrying until DialTimeout passes. Without
	// Redial a connection lost later stays lost.
	Dial []ma.Multiaddr
	// DialTimeout bounds the retries for each Dial target; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// Redial makes the node dial a Dial target again, with the same backoff
	// and no deadline, each time the target's last connection closes, until
	// the node closes. Peers that dialed this node are never redialed.
	Redial bool
	// Keepalive, when > 0, is the yamux keepalive interval; 0 keeps yamux's
	// 30 s. A silently cut connection closes within about Keepalive + 10 s
	// (see the package documentation).
	Keepalive time.Duration
	// MaxConns, when > 0, caps the total connections in the resource manager.
	// 0 means unlimited.
	MaxConns int
	// ConnLow and ConnHigh are the connection manager's watermarks. With
	// ConnHigh == 0 nothing trims connections.
	ConnLow, ConnHigh int
	// Ping turns on the GET /ping endpoint. The ping protocol itself is
	// go-libp2p's default and answered by every node either way.
	Ping bool
	// Perf makes the node answer the perf protocol (/perf/1.0.0) and serve
	// POST /perf, which runs it against another -perf node.
	Perf bool
	// GossipTopic, when set, starts go-libp2p-pubsub's GossipSub router with
	// its default parameters, joins and subscribes to this topic and serves
	// POST /publish and GET /gossip/records. Empty: no pubsub at all.
	GossipTopic string
	// GossipRate, when > 0, makes the node publish that many messages a
	// second on GossipTopic by itself; 0 publishes only on request.
	GossipRate float64
	// GossipSize is the payload size in bytes of a message published at
	// GossipRate or by a POST /publish without a size; 0 means
	// DefaultGossipSize. At least the 24-byte header.
	GossipSize int
	// ExtraBytesPerConn, when > 0, makes the node hold that many resident bytes
	// per open connection. It exists only to prove that a regression gate
	// catches a costlier node; never set it in a real experiment.
	ExtraBytesPerConn int
	// Out receives the JSON event lines; nil discards them.
	Out io.Writer
}

// envPrefix turns a flag name into its environment variable: dial-timeout ->
// MESHNODE_DIAL_TIMEOUT.
const envPrefix = "MESHNODE_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseConfig reads the command-line flags in args (without the program name)
// and, for every flag not given there, its MESHNODE_* environment variable
// through getenv. Errors name the flag or variable and say what was expected.
// For -h or -help it returns an error wrapping flag.ErrHelp whose text is the
// usage.
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	cfg := Config{
		ListenPort:  DefaultListenPort,
		MetricsPort: DefaultMetricsPort,
		DialTimeout: DefaultDialTimeout,
	}
	fs := flag.NewFlagSet("meshnode", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, not printed: main decides where they go

	// Every flag is a string parser into cfg, so a flag and its variable go
	// through the same code and fail with the same explanation.
	type option struct {
		name, usage string
		set         func(string) error
	}
	// A bool flag may stand alone (-redial) or take a value (-redial=false).
	isBool := map[string]bool{"redial": true, "ping": true, "perf": true}
	opts := []option{
		{"listen-port", "`port` for libp2p on 0.0.0.0, TCP or UDP as -transport needs; 0 picks a free port (default 4001)", portSetter(&cfg.ListenPort)},
		{"transport", "the one `transport` to listen on and dial: tcp, quic-v1, websocket or webtransport (default tcp)", choiceSetter(&cfg.Transport, transports)},
		{"security", "`protocol` securing tcp and websocket connections: noise or tls; quic-v1 and webtransport refuse it (default noise)", choiceSetter(&cfg.Security, securities)},
		{"metrics-port", "`port` for HTTP /metrics, /peers, /healthz on 0.0.0.0; 0 picks a free port (default 9090)", portSetter(&cfg.MetricsPort)},
		{"key", "identity `key`: standard base64 of crypto.MarshalPrivateKey (ed25519); empty generates one", func(s string) error {
			if s == "" {
				cfg.Key = nil
				return nil
			}
			k, err := DecodeKey(s)
			cfg.Key = k
			return err
		}},
		{"dial", "comma-separated `multiaddrs` with /p2p/<peer ID> to connect to, with retry (again after a loss only with -redial)", func(s string) error {
			d, err := parseDial(s)
			cfg.Dial = d
			return err
		}},
		{"dial-timeout", "how long to keep retrying each -dial target, a Go `duration` (default 2m)", func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("expected a positive Go duration such as 30s or 2m, got %q", s)
			}
			cfg.DialTimeout = d
			return nil
		}},
		{"redial", "dial a -dial target again, with backoff and no deadline, whenever its last connection closes (default false)", func(s string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("expected true or false, got %q", s)
			}
			cfg.Redial = b
			return nil
		}},
		{"keepalive", "yamux keepalive interval, a Go `duration`; a silently cut connection closes within about this + 10s; 0 keeps yamux's 30s (default 0)", func(s string) error {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil || d < 0 {
				return fmt.Errorf("expected a non-negative Go duration such as 5s (0 keeps yamux's 30s), got %q", s)
			}
			cfg.Keepalive = d
			return nil
		}},
		{"ping", "serve GET /ping, RTTs by go-libp2p's ping protocol over an existing connection; the protocol is answered either way (default false)", boolSetter(&cfg.Ping)},
		{"perf", "answer the perf protocol /perf/1.0.0 and serve POST /perf, which runs it against another -perf node (default false)", boolSetter(&cfg.Perf)},
		{"max-conns", "cap `n` on total connections in the resource manager; 0 = unlimited (default 0)", countSetter(&cfg.MaxConns)},
		{"conn-low", "connection manager low watermark `n`; needs -conn-high (default 0)", countSetter(&cfg.ConnLow)},
		{"conn-high", "connection manager high watermark `n`; 0 = never trim connections (default 0)", countSetter(&cfg.ConnHigh)},
		{"gossip-topic", "join and subscribe to this pubsub `topic` with GossipSub and serve POST /publish, GET /gossip/records; empty = no pubsub (default empty)", func(s string) error {
			cfg.GossipTopic = strings.TrimSpace(s)
			return nil
		}},
		{"gossip-rate", "publish this many `messages/s` on -gossip-topic; 0 = only on POST /publish (default 0)", func(s string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || !(f >= 0) || math.IsInf(f, 0) {
				return fmt.Errorf("expected a non-negative number of messages per second such as 10 or 0.5, got %q", s)
			}
			cfg.GossipRate = f
			return nil
		}},
		{"gossip-size", "payload `bytes` of a published message, header included (default 1024)", countSetter(&cfg.GossipSize)},
		{"extra-bytes-per-conn", "TEST ONLY: hold this many `bytes` resident bytes per open connection, to prove a regression gate catches a costlier node (default 0)", countSetter(&cfg.ExtraBytesPerConn)},
	}
	for _, o := range opts {
		if isBool[o.name] {
			fs.BoolFunc(o.name, o.usage+" [$"+envName(o.name)+"]", o.set)
		} else {
			fs.Func(o.name, o.usage+" [$"+envName(o.name)+"]", o.set)
		}
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, helpError{usage(fs)}
		}
		return cfg, err // already "invalid value %q for flag -x: ..."
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q: meshnode takes only flags", fs.Args())
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if getenv != nil {
		for _, o := range opts {
			v := getenv(envName(o.name))
			if given[o.name] || v == "" {
				continue // the flag wins; an empty variable counts as unset
			}
			if err := o.set(v); err != nil {
				return cfg, fmt.Errorf("invalid value %q for $%s (flag -%s): %w", v, envName(o.name), o.name, err)
			}
		}
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// helpError is the usage text, returned for -h so that main prints it; it
// matches errors.Is(err, flag.ErrHelp).
type helpError struct{ usage string }

func (e helpError) Error() string { return e.usage }
func (e helpError) Unwrap() error { return flag.ErrHelp }

func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("Usage: meshnode [flags]  (each flag also reads its $MESHNODE_* variable; the flag wins)\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

func portSetter(dst *int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("expected a TCP port 0-65535, got %q", s)
		}
		*dst = n
		return nil
	}
}

func boolSetter(dst *bool) func(string) error {
	return func(s string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("expected true or false, got %q", s)
		}
		*dst = b
		return nil
	}
}

func choiceSetter(dst *string, choices []string) func(string) error {
	return func(s string) error {
		s = strings.TrimSpace(s)
		if !slices.Contains(choices, s) {
			return fmt.Errorf("expected one of %s, got %q", strings.Join(choices, ", "), s)
		}
		*dst = s
		return nil
	}
}

func countSetter(dst *int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return fmt.Errorf("expected a non-negative integer, got %q", s)
		}
		*dst = n
		return nil
	}
}

// parseDial splits a -dial value. Each target must name its peer: the node
// connects to a known identity, never to whoever answers on an address.
func parseDial(s string) ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		addr, err := ma.NewMultiaddr(part)
		if err != nil {
			return nil, fmt.Errorf("expected multiaddrs like /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW..., %q: %w", part, err)
		}
		if _, err := peer.AddrInfoFromP2pAddr(addr); err != nil {
			return nil, fmt.Errorf("expected multiaddrs ending in /p2p/<peer ID>, like /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW..., %q: %w", part, err)
		}
		out = append(out, addr)
	}
	return out, nil
}

// withDefaults fills the fields whose zero value stands for a default.
func (c Config) withDefaults() Config {
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.GossipSize == 0 {
		c.GossipSize = DefaultGossipSize
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return c
}

// validate checks what a single flag cannot: ranges and the watermark pair.
// Messages name the flags, since Config mirrors them.
func (c Config) validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    int
	}{{"listen-port", c.ListenPort}, {"metrics-port", c.MetricsPort}} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("-%s %d: expected a TCP port 0-65535", p.name, p.v))
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"max-conns", c.MaxConns}, {"conn-low", c.ConnLow}, {"conn-high", c.ConnHigh}, {"extra-bytes-per-conn", c.ExtraBytesPerConn}} {
		if p.v < 0 {
			errs = append(errs, fmt.Errorf("-%s %d: expected a non-negative integer", p.name, p.v))
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("-dial-timeout %v: expected a positive Go duration", c.DialTimeout))
	}
	if c.Keepalive < 0 {
		errs = append(errs, fmt.Errorf("-keepalive %v: expected a non-negative Go duration (0 keeps yamux's 30s)", c.Keepalive))
	}
	if c.ConnLow > c.ConnHigh {
		errs = append(errs, fmt.Errorf("-conn-low %d -conn-high %d: expected conn-low <= conn-high (conn-high 0 disables trimming, so conn-low needs conn-high)", c.ConnLow, c.ConnHigh))
	}
	for _, a := range c.Dial {
		if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
			errs = append(errs, fmt.Errorf("-dial %s: expected a multiaddr ending in /p2p/<peer ID>: %w", a, err))
		}
	}
	if !(c.GossipRate >= 0) || math.IsInf(c.GossipRate, 0) {
		errs = append(errs, fmt.Errorf("-gossip-rate %v: expected a non-negative number of messages per second", c.GossipRate))
	}
	if c.GossipRate > 0 && c.GossipTopic == "" {
		errs = append(errs, fmt.Errorf("-gossip-rate %v: needs -gossip-topic", c.GossipRate))
	}
	if c.GossipSize != 0 && (c.GossipSize < gossipHeaderSize || c.GossipSize > maxGossipSize) {
		errs = append(errs, fmt.Errorf("-gossip-size %d: expected %d-%d bytes (the header is %d)", c.GossipSize, gossipHeaderSize, maxGossipSize, gossipHeaderSize))
	}
	errs = append(errs, c.validateTransport()...)
	return errors.Join(errs...)
}
