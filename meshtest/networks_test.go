package meshtest

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestNetworkBlocks: peers fill networks in blocks by index, the bootstrap
// and services join every one, and a topology with an edge between blocks
// is refused before anything starts, with what would work instead.
func TestNetworkBlocks(t *testing.T) {
	cfg := Config{Peers: 12, NetworkSize: 5}
	assert.Equal(t, 3, cfg.networks())
	assert.Equal(t, 1, Config{Peers: DefaultNetworkSize}.networks(), "a mesh one bridge holds stays on one")
	assert.Equal(t, 2, Config{Peers: DefaultNetworkSize + 1}.networks())
	m := &Mesh{Config: cfg}
	assert.Equal(t, []int{0, 1, 2}, m.unitNetworks(0), "the bootstrap is on every network")
	assert.Equal(t, []int{0, 1, 2}, m.unitNetworks(-1), "so are services")
	assert.Equal(t, []int{0}, m.unitNetworks(5))
	assert.Equal(t, []int{1}, m.unitNetworks(6))
	assert.Equal(t, []int{2}, m.unitNetworks(12))
	assert.Nil(t, (&Mesh{Config: Config{Peers: 12}}).unitNetworks(0), "one network: the backend's default")

	require.NoError(t, checkNetworks(cfg, topology.Star(12)))
	ring, err := topology.Ring(13)
	require.NoError(t, err)
	err = checkNetworks(cfg, ring)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `topology "ring" has an edge 6-5 between peers on different bridge networks (2 and 1 of 3, Config.NetworkSize 5)`)
	assert.Contains(t, err.Error(), "use a star")
	require.NoError(t, checkNetworks(Config{Peers: 12}, ring), "one network takes any topology")
}

// TestStarAcrossNetworks runs a star larger than its networks: 12 peers in
// networks of 5, so three bridges with the bootstrap on each, as 2000 peers
// run in networks of 1022. Every peer is proven connected and held, peers
// of different blocks have addresses in different subnets, and closing
// removes all three networks.
func TestStarAcrossNetworks(t *testing.T) {
	b := testBackend(t)
	m, err := startMesh(t, Config{Name: "nets", Backend: b, NetworkSize: 5}, topology.Star(12))
	require.NoError(t, err)

	left, err := b.Leftovers(t.Context(), m.Run)
	require.NoError(t, err)
	var nets []string
	for _, l := range left {
		if name, ok := strings.CutPrefix(l, "network "); ok {
			nets = append(nets, name)
		}
	}
	assert.ElementsMatch(t, []string{"meshtest-" + m.Run, "meshtest-" + m.Run + "-net2", "meshtest-" + m.Run + "-net3"}, nets)

	subnet := func(name string) netip.Prefix {
		n := m.node(name)
		require.NotNil(t, n, name)
		a, err := netip.ParseAddr(n.IP)
		require.NoError(t, err, "%s's address %q", name, n.IP)
		p, err := a.Prefix(20) // Docker gives a bridge a /16 or a /20
		require.NoError(t, err)
		return p
	}
	assert.Equal(t, subnet("peer-001"), subnet("peer-005"), "one block, one network")
	assert.NotEqual(t, subnet("peer-005"), subnet("peer-006"), "the next block is on the next network")
	assert.NotEqual(t, subnet("peer-006"), subnet("peer-011"))

	rec := m.Record(t, 3*time.Second)
	assert.Equal(t, 12.0, rec.Role("bootstrap").Min(FigConns), "the bootstrap holds every peer, on all three networks")
	assert.Empty(t, rec.ScrapeErrors, "the harness reaches every network")

	m.close()
	assert.Empty(t, leftovers(t, m), "all three networks removed")
}
