package node

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// openConns asks rm for n inbound connections from one non-loopback IP (the
// limiters exempt loopback, so an in-process test over 127.0.0.1 cannot show
// them) and returns how many it granted. Scopes stay open: the per-IP limit
// counts concurrent connections.
func openConns(t *testing.T, rm network.ResourceManager, n int) int {
	t.Helper()
	granted := 0
	for i := range n {
		addr := ma.StringCast(fmt.Sprintf("/ip4/10.1.2.3/tcp/%d", 10000+i))
		scope, err := rm.OpenConnection(network.DirInbound, true, addr)
		if err != nil {
			continue
		}
		granted++
		t.Cleanup(scope.Done)
	}
	return granted
}

func TestResourceManagerHasNoHiddenLimits(t *testing.T) {
	const conns = 300

	// The check itself: go-libp2p's default limiters, even with infinite
	// limits, refuse most of these (8 concurrent per IPv4 /32, 16-token rate burst).
	def, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits))
	require.NoError(t, err)
	t.Cleanup(func() { _ = def.Close() })
	granted := openConns(t, def, conns)
	t.Logf("go-libp2p's default limiters grant %d of %d connections from one IP", granted, conns)
	require.Less(t, granted, conns, "the default resource manager should limit one IP")

	// The resource manager a running node uses.
	n := startNode(t, Config{})
	require.Equal(t, conns, openConns(t, n.host.Network().ResourceManager(), conns), "connections granted from one IP")
}

func TestResourceManagerMaxConns(t *testing.T) {
	rm, err := newResourceManager(25)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rm.Close() })
	require.Equal(t, 25, openConns(t, rm, 40))
}

func TestConnManager(t *testing.T) {
	cm, err := newConnManager(0, 0)
	require.NoError(t, err)
	require.IsType(t, &connmgr.NullConnMgr{}, cm, "no trimming by default")

	cm, err = newConnManager(10, 20)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cm.Close() })
	require.NotEqual(t, &connmgr.NullConnMgr{}, cm)
}
