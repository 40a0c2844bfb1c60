package node

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// Event names written to Config.Out, one JSON object per line.
const (
	EventReady        = "ready"
	EventConnected    = "connected"
	EventDisconnected = "disconnected"
	EventDialFailed   = "dial_failed"
	EventRedial       = "redial"
	EventShutdown     = "shutdown"
)

// Event is one line of the node's stdout. Fields that do not apply to an
// event are omitted, so each line carries only what the harness reads.
type Event struct {
	Event string    `json:"event"`
	Time  time.Time `json:"time"` // RFC 3339 with nanoseconds, UTC

	// ready
	PeerID  string   `json:"peer_id,omitempty"`
	Addrs   []string `json:"addrs,omitempty"`
	Metrics string   `json:"metrics,omitempty"` // host:port of the HTTP server
	Key     string   `json:"key,omitempty"`     // "given" or "generated"
	// Transport is the one transport listened on and dialed (-transport);
	// Security what secures its connections: -security for tcp and
	// websocket, "tls" for quic-v1, "noise" for webtransport.
	Transport string `json:"transport,omitempty"`
	Security  string `json:"security,omitempty"`

	// connected, disconnected, dial_failed, redial
	Peer      string `json:"peer,omitempty"`
	Addr      string `json:"addr,omitempty"`
	Direction string `json:"direction,omitempty"` // "inbound" or "outbound"
	Error     string `json:"error,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
}

// eventLog serialises events: libp2p notifies from many goroutines and a
// line must never interleave with another.
type eventLog struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newEventLog(w io.Writer) *eventLog {
	return &eventLog{enc: json.NewEncoder(w)}
}

func (l *eventLog) emit(e Event) {
	e.Time = time.Now().UTC()
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failed write (closed pipe) must not stop the node: the events are a
	// report, the metrics endpoint is the other.
	_ = l.enc.Encode(e)
}

// notifiee reports connections as events. Each libp2p connection is one
// event; two connections to the same peer give two lines. afterDisconnect,
// when not nil, runs once the disconnected line is written: the swarm calls
// its notifiees in no set order, so what must follow the line is chained here.
func (l *eventLog) notifiee(afterDisconnect func(network.Network, network.Conn)) network.Notifiee {
	return &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			l.emit(Event{
				Event:     EventConnected,
				Peer:      c.RemotePeer().String(),
				Addr:      c.RemoteMultiaddr().String(),
				Direction: direction(c.Stat().Direction),
			})
		},
		DisconnectedF: func(nw network.Network, c network.Conn) {
			l.emit(Event{
				Event:     EventDisconnected,
				Peer:      c.RemotePeer().String(),
				Addr:      c.RemoteMultiaddr().String(),
				Direction: direction(c.Stat().Direction),
			})
			if afterDisconnect != nil {
				afterDisconnect(nw, c)
			}
		},
	}
}

func direction(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	default:
		return "unknown"
	}
}
