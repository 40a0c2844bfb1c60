// Package node is the bundled meshtest node: a go-libp2p host that does only
// what an experiment asks of it, reports its cost over HTTP and its
// connections as JSON lines. The meshnode command (node/cmd/meshnode) wraps it
// in a static binary for a FROM scratch image; tests can run it in-process
// with Start.
//
// # Flags
//
// Every flag has an environment variable; the flag wins when both are set, and
// an empty variable counts as unset.
//
//	-listen-port           MESHNODE_LISTEN_PORT           libp2p port on /ip4/0.0.0.0, TCP or UDP per -transport (default 4001; 0 = free port)
//	-transport             MESHNODE_TRANSPORT             tcp, quic-v1, websocket or webtransport (default tcp); see Transports
//	-security              MESHNODE_SECURITY              noise or tls, for tcp and websocket only (default noise)
//	-metrics-port          MESHNODE_METRICS_PORT          HTTP port on 0.0.0.0 (default 9090; 0 = free port)
//	-key                   MESHNODE_KEY                   base64 (standard) of crypto.MarshalPrivateKey, ed25519; see EncodeKey.
//	                                                      Empty: a random key, and the ready event says "key":"generated"
//	-dial                  MESHNODE_DIAL                  comma-separated multiaddrs of -transport, ending in /p2p/<peer ID>
//	-dial-timeout          MESHNODE_DIAL_TIMEOUT          how long each -dial target is retried (default 2m)
//	-redial                MESHNODE_REDIAL                dial a -dial target again whenever its last connection closes (default false)
//	-keepalive             MESHNODE_KEEPALIVE             yamux keepalive interval (default 0 = yamux's 30s); see Keepalive
//	-ping                  MESHNODE_PING                  serve GET /ping (default false); the ping protocol is answered either way
//	-perf                  MESHNODE_PERF                  answer /perf/1.0.0 and serve POST /perf (default false)
//	-max-conns             MESHNODE_MAX_CONNS             cap on total connections in the resource manager (default 0 = none)
//	-conn-low, -conn-high  MESHNODE_CONN_LOW, _CONN_HIGH  connection manager watermarks (default 0 = never trim)
//	-gossip-topic          MESHNODE_GOSSIP_TOPIC          run GossipSub on this topic (default empty = no pubsub at all); see Gossip
//	-gossip-rate           MESHNODE_GOSSIP_RATE           messages/s the node publishes itself, float (default 0 = only on POST /publish); needs -gossip-topic
//	-gossip-size           MESHNODE_GOSSIP_SIZE           payload bytes of a published message, header included, 24 to 1 MiB - 1 KiB (default 1024)
//	-extra-bytes-per-conn  MESHNODE_EXTRA_BYTES_PER_CONN  TEST ONLY, see below (default 0)
//
// Bad values stop the command with exit status 2 and a message naming the flag
// (or variable) and what was expected.
//
// # No hidden limits
//
// By default nothing limits, rate-limits or trims connections: the resource
// manager has infinite limits and neither the per-IP/subnet connection limiter
// nor the connection rate limiter that go-libp2p enables by default; the
// connection manager is connmgr.NullConnMgr. The node runs one transport,
// TCP with Noise and Yamux unless -transport and -security say otherwise; relay, NAT port mapping, hole punching, AutoNAT probing and
// mDNS are off. -max-conns and -conn-low/-conn-high bring limits back when an
// experiment is about them.
//
// # Transports
//
// The node listens on exactly one address, of the one transport it runs, and
// dials only addresses of that transport. The muxer is always yamux (QUIC and
// WebTransport multiplex streams themselves and use none):
//
//	-transport tcp           /ip4/0.0.0.0/tcp/<port>                          -security noise or tls, then yamux
//	-transport websocket     /ip4/0.0.0.0/tcp/<port>/ws                       -security noise or tls, then yamux
//	-transport quic-v1       /ip4/0.0.0.0/udp/<port>/quic-v1                  libp2p's TLS 1.3 handshake inside QUIC
//	-transport webtransport  /ip4/0.0.0.0/udp/<port>/quic-v1/webtransport     HTTP/3 TLS, then Noise to authenticate peers
//
// The ready event reports "transport" and "security" ("tls" for quic-v1,
// "noise" for webtransport). With quic-v1 or webtransport, -security is
// refused, not ignored: the node cannot choose their security, and a run that
// asked for one must not silently measure another. A -dial address of another
// transport is refused at start, naming the address and the form expected.
//
// What does not work here, and why:
//
//   - webtransport: a -dial address must carry the target's
//     /certhash/<multibase multihash> components (the listener's ready event
//     lists them in addrs); go-libp2p refuses to dial without them ("can't
//     dial webtransport without certhashes"). The listener's certificate is
//     self-signed, so the dialer trusts it only by hash, and the hash comes
//     from the listener's private key and its current 14-day certificate
//     period (p2p/transport/webtransport cert_manager.go), so a dialer that
//     knows only the peer ID cannot know it in advance. A harness must start
//     the target first and pass its ready addrs on; the hashes rotate about
//     every 14 days, so a long-lived -dial list goes stale.
//   - wss (WebSocket over TLS) needs a TLS certificate and key for the
//     listener, which the node has no flags for; /ws only.
//   - WebRTC, relay (/p2p-circuit) and TLS-over-TCP multiaddrs (/tls/ws) are
//     not offered.
//
// # Dialing
//
// Each -dial target is dialed concurrently, retried with exponential backoff
// (50 ms doubling to 2 s, with jitter) until it connects or -dial-timeout
// passes. By default a connection lost later is not redialed: drift must be
// visible to the harness, not healed by the node.
//
// With -redial, once the last connection to a -dial target has closed, the
// node writes a redial event and dials the target again at once, with the
// same backoff but no deadline: a partition lasts as long as the experiment
// wants, so redials go on until the node closes and never end in
// dial_failed. Every attempt, first or redial, dials the -dial address only,
// not the target's other addresses that identify reported: one dial, one
// connection, and no healing through an interface a fault did not cut.
// A target given up on at -dial-timeout before it ever connected
// is not watched. Only -dial targets are redialed (also when the target
// happened to dial first); a peer that dialed the node is left alone, so in a
// ring each edge is healed by its dialing end. A target that trims
// connections (-conn-high) sees a redialer come straight back.
//
// After a partition that drops packets heals, the reconnect waits for the
// attempt in flight, a TCP connect into the partition that go-libp2p gives up
// on after 5 s (unless a SYN retransmission gets through first), then for the
// rest of the backoff, under 2 s: about 7 s at worst, derived from those
// bounds, not measured. A target that closes the connection itself is back
// within tens of milliseconds (TestRedialAfterRemoteCloses), one that
// restarts within the 2 s backoff cap (TestRedialAfterTargetRestarts).
//
// # Keepalive
//
// A partition that drops packets closes nothing by itself: TCP learns of it
// only when data goes unacknowledged, and then retransmits for minutes.
// yamux's keepalive notices sooner. yamux pings a connection that has
// received nothing for the keepalive interval (-keepalive, default 30 s) and
// closes it when the pong has not come within its ConnectionWriteTimeout,
// 10 s; a disconnected event follows. A silently cut connection is so closed
// at most keepalive + 10 s after the cut: 40 s by default.
// TestKeepaliveClosesSilentlyCutConnection cuts one through a relay that
// swallows every byte and measures 10.0-10.3 s with -keepalive 300ms; a node
// on the default still holds its dead connection then. Each end has its own
// keepalive, so both must set -keepalive for both counts to drop. A
// connection that stalls while sending is closed sooner, by the same 10 s
// deadline on every yamux write.
//
// The 10 s stays: go-libp2p's yamux uses ConnectionWriteTimeout also as that
// write deadline, and a short one would cut slow but healthy connections.
// Below a second or so -keepalive buys little, since the 10 s dominates. No
// TCP user timeout is set: go-libp2p's TCP transport has no option for one
// (only a custom dialer, which would cover outbound sockets alone and replace
// the port-reusing one), and yamux closes the connection first at any value
// of 10 s or more. go-libp2p's TCP keepalive (30 s period) is slower still.
//
// # HTTP endpoints
//
//	GET /metrics   Prometheus exposition, content-negotiated by promhttp. A
//	               repeated name[] parameter (/metrics?name[]=go_goroutines&name[]=meshnode_peers)
//	               returns only those families and collects only their sources.
//	GET /peers     {"peer_id":"12D3…","connections":N,"peers":["12D3…",…]} (peers sorted, unique)
//	GET /healthz   200 "ok" (the server starts once the host listens)
//	GET /ping?peer=<peer ID>&count=N   (-ping only; N 1-100, default 1)
//	               {"peer":"12D3…","rtts_ns":[…],"error":"…"}: N round trips of
//	               /ipfs/ping/1.0.0 over the existing connection, never a dial.
//	               200 with N RTTs; 502 with those measured before the error
//	               (not connected, stream reset, timeout); 400 for a bad query;
//	               404 naming -ping when it is off.
//
//	POST /perf     (-perf only) {"peer":"12D3…","addr":"<multiaddr, optional>","upload_bytes":N,"download_bytes":M,"close":false}
//	               -> {"upload_bytes","download_bytes","time_to_first_byte_ns","upload_ns",
//	               "download_ns","total_ns","connection_ns","error"}: one run of the perf
//	               protocol against peer, which needs -perf too; see PerfResponse.
//	               200 when both counts moved; 502 with what was measured before the
//	               error; 400 for a bad body or an addr not of -transport.
//
// perf (libp2p/specs perf/perf.md): the client writes the download size as 8
// bytes big-endian, uploads N bytes and closes its write side; the server
// drains the upload, then writes M bytes and closes. Over an existing
// connection connection_ns is 0. When the peer is not connected and addr is
// given, the node connects first and, as test-plans' go-libp2p perf client
// counts it, connection_ns is the connect plus one perf round trip of 1 byte
// each way on the new connection (stream negotiation included); the
// connection stays open afterwards unless close is true, which closes the
// connection the run opened (never one that existed), so a series of runs
// measures a handshake each. Without addr an unconnected peer is an
// error. A run, connection included, is cut (stream reset) after 5 minutes.
//
// go-libp2p runs its ping service (/ipfs/ping/1.0.0) in every host unless
// built with libp2p.Ping(false) (options.go: "enable by default";
// basic_host.go starts it when EnablePing). The node has always answered
// pings so, and keeps doing so with or without -ping: turning the handler off
// by default would change what an idle node does. -ping only adds the HTTP
// endpoint that asks; the peer asked needs no flag. The handler is a stream
// handler only: no goroutine or memory per connection until a ping arrives.
//
// The registries are the node's own (never the global one) and hold the Go
// collector (go_*), the process figures (process_*), go-libp2p's metrics
// (libp2p_*) and the node's gauges, counted from the host at scrape time:
// meshnode_connections, meshnode_peers, meshnode_streams, and
// meshnode_info{peer_id, version, libp2p} = 1.
//
// go-libp2p keeps its metric vectors in package variables, so nodes sharing a
// process (in-process tests) share the libp2p_* values; the meshnode_* gauges
// are per node.
//
// # Measuring without disturbing
//
// The harness scrapes every node once a second, and an idle node spends only
// 5-7 ms of CPU a second, so the scrape must stay small beside that. On Linux
// the process_* families come from a source of our own (process_linux.go),
// not client_golang's process collector, which on every scrape opened and
// parsed /proc/self/stat, /proc/self/limits, /proc/self/net/netstat and the
// system-wide /proc/stat, and went through a Registry: about 0.5-1 ms and
// 105 KB of garbage per gather. Ours keeps /proc/self/statm and
// /proc/self/fd open and makes three system calls (getrusage for CPU, pread
// of statm for RSS and virtual size, fstat of the fd directory for the
// descriptor count, which Linux 6.2+ reports as its size; older kernels list
// it), reads start time and limits once, and builds the families without a
// Registry: 15-40 µs and 2.4 KB. Names, help and types are the standard
// collector's; process_network_{receive,transmit}_bytes_total are left out
// (they count the network namespace, not the process). On other systems the
// standard collector is used.
//
// Measured on a noisy 2-vCPU VM, the harness's filtered scrape through the
// handler (BenchmarkMetrics) fell from 1.3-2.1 ms, 230 KB and 1,225
// allocations to 0.25-0.47 ms, 127 KB and 707. A meshnode process scraped
// over HTTP on 127.0.0.1 went from about 1.5 ms to 0.65 ms of its own CPU per
// scrape (BenchmarkScrapeCPU in node/cmd/meshnode; /healthz costs 0.1 ms).
//
// The Go collector is left at its defaults: since Go 1.17 client_golang
// derives go_memstats_* from runtime/metrics, not runtime.ReadMemStats, so a
// scrape stops no world. Its options can only drop families, and
// go_memstats_heap_inuse_bytes needs the memstats set.
//
// # Gossip
//
// With -gossip-topic the node starts go-libp2p-pubsub's GossipSub router
// (v0.19.0, default parameters, signed messages), joins and subscribes to the
// topic and drains its subscription. Without it no pubsub goroutine runs, no
// /meshsub protocol is registered, no meshnode_gossip_* family exists and the
// endpoints below answer 404 naming the flag (TestGossipOffByDefault).
//
//	POST /publish         {"size":N} or {"data":"..."} (both may be given; {} uses -gossip-size)
//	                      -> {"id":"<32 hex>","published_ns":…}; 400 for a bad body or size, 502 if pubsub refused
//	GET  /gossip/records  one JSON object a line, oldest first:
//	                      {"id":"<32 hex>","first_delivery_ns":…,"duplicates":N,"published_ns":… (publisher only)}
//
// A payload is a 24-byte header, the 16-byte message ID (random) and the
// publish time as unix nanoseconds (big-endian), then data, then zero
// padding up to size (a size below header + data is raised to it). Times are
// wall clock: on one machine all containers share the host clock, so delay =
// first_delivery_ns - published_ns across nodes is meaningful there; across
// machines it carries their clock offset.
//
// Records and counters come from pubsub's RawTracer, not from the
// subscription: DeliverMessage sets first_delivery_ns, DuplicateMessage counts
// duplicates, and the RPC hooks (SendRPC, when an RPC is queued to a peer;
// RecvRPC) count control entries. pubsub does not trace the delivery of a
// node's own messages, so on the publisher first_delivery_ns is 0 and
// meshnode_gossip_delivered_total counts only messages from others. At most
// 100,000 records are kept, the oldest evicted first. Families:
//
//	meshnode_gossip_published_total, meshnode_gossip_delivered_total, meshnode_gossip_duplicates_total
//	meshnode_gossip_control_total{type=graft|prune|ihave|iwant|idontwant, direction=sent|received}
//	                      control entries (an IHAVE/IWANT/IDONTWANT entry may carry many IDs)
//	meshnode_gossip_control_bytes_total{direction}  proto.Size of the RPCs' control part
//	meshnode_gossip_delivery_delay_seconds          histogram, now - header time, other nodes' messages
//	meshnode_gossip_mesh_peers                      gauge, peers in the node's GossipSub mesh: Graft adds,
//	                      Prune and a peer's stream closing remove (gossipsub traces no Prune for a peer that left)
//
// Cost of recording (BenchmarkGossipRecord, noisy 2-vCPU VM, record map
// full and evicting): 390-530 ns, 54 B and 1 allocation per delivered
// message, on pubsub's event loop. Retained memory at the 100k bound is
// estimated at about 10 MB (map entry, 24-byte record, 16-byte ring slot),
// not measured.
//
// # Events
//
// Config.Out (stdout in the command) receives one JSON object per line, each
// with "event" and "time" (RFC 3339, nanoseconds, UTC); see Event:
//
//	{"event":"ready","peer_id":…,"addrs":[…],"metrics":"host:port","key":"given"|"generated"}
//	{"event":"connected","peer":…,"addr":…,"direction":"inbound"|"outbound"}
//	{"event":"disconnected","peer":…,"addr":…,"direction":…}
//	{"event":"dial_failed","addr":…,"error":…,"attempts":N}
//	{"event":"redial","peer":…,"addr":…}
//	{"event":"shutdown"}
//
// ready comes once the host listens and the HTTP server is up, before any
// dial. connected and disconnected are per connection. redial (-redial only)
// comes after the disconnected line of a -dial target's last connection,
// addr being the -dial multiaddr; the connected line of the new connection
// follows once a redial succeeds.
//
// # The cost knob
//
// -extra-bytes-per-conn makes the node allocate, touch (so it counts in RSS)
// and hold that many bytes per open connection, released on disconnect. It
// exists only to prove that a regression gate catches a costlier node.
//
// # Environment
//
// The node touches no file, needs no DNS and no capability: it runs in a
// FROM scratch image with a read-only root filesystem. The command exits 0
// after SIGTERM or SIGINT once the node has closed.
package node
