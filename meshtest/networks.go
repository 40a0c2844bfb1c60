package meshtest

import (
	"fmt"

	"github.com/meshtest/meshtest/meshtest/topology"
)

// DefaultNetworkSize is Config.NetworkSize's default: as many peers as one
// bridge network holds with the bootstrap beside them (MaxNodes-1).
const DefaultNetworkSize = MaxNodes - 1

// networkSize is Config.NetworkSize or its default.
func (c Config) networkSize() int {
	if c.NetworkSize <= 0 {
		return DefaultNetworkSize
	}
	return c.NetworkSize
}

// networks is how many bridge networks the mesh's peers need.
func (c Config) networks() int {
	return max(1, (c.Peers+c.networkSize()-1)/c.networkSize())
}

// networkOf is the network of peer i (from 1): peers fill networks in
// blocks of Config.NetworkSize, in index order, so the peers a topology
// numbers close together (a ring's neighbours, a tree's siblings) share one.
func (c Config) networkOf(i int) int { return (i - 1) / c.networkSize() }

// unitNetworks are the networks of node i, for backend.Unit.Networks: nil
// when the mesh has one; every one for the bootstrap (node 0), which each
// network's peers dial, and for services (i < 0), which reach every node.
func (m *Mesh) unitNetworks(i int) []int {
	n := m.Config.networks()
	if n == 1 {
		return nil
	}
	if i <= 0 {
		all := make([]int, n)
		for k := range all {
			all[k] = k
		}
		return all
	}
	return []int{m.Config.networkOf(i)}
}

// checkNetworks refuses a topology that cannot work on a mesh spread over
// several networks: Docker keeps bridges apart, so every edge must join
// two nodes of one network or touch the bootstrap.
func checkNetworks(c Config, g topology.Graph) error {
	if c.networks() == 1 {
		return nil
	}
	for _, e := range g.Edges {
		if e.From == 0 || e.To == 0 || c.networkOf(e.From) == c.networkOf(e.To) {
			continue
		}
		return fmt.Errorf("topology %q has an edge %d-%d between peers on different bridge networks (%d and %d of %d, Config.NetworkSize %d): "+
			"Docker routes nothing between bridges, only the bootstrap is on every one; use a star, or a topology whose edges stay within blocks of %d peers, or at most %d peers",
			g.Name, e.From, e.To, c.networkOf(e.From)+1, c.networkOf(e.To)+1, c.networks(), c.networkSize(), c.networkSize(), DefaultNetworkSize)
	}
	return nil
}
