package node

import (
	"os"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
)

// ballast is the -extra-bytes-per-conn cost knob. It exists only so a test
// can prove that the regression gate catches a node that costs more per
// connection; it does nothing by default.
type ballast struct {
	size int
	mu   sync.Mutex
	held map[network.Conn][]byte
}

func newBallast(size int) *ballast {
	return &ballast{size: size, held: map[network.Conn][]byte{}}
}

func (b *ballast) notifiee() network.Notifiee {
	return &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			buf := make([]byte, b.size)
			// A fresh allocation is untouched zero pages: write one byte per
			// page so the kernel backs it and it shows in RSS, not only in
			// the heap figures.
			page := os.Getpagesize()
			for i := 0; i < len(buf); i += page {
				buf[i] = 1
			}
			b.mu.Lock()
			b.held[c] = buf
			b.mu.Unlock()
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			b.mu.Lock()
			delete(b.held, c)
			b.mu.Unlock()
		},
	}
}

// bytes reports what is held, for tests.
func (b *ballast) bytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, buf := range b.held {
		n += len(buf)
	}
	return n
}
