package meshtest

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// TestDriftIgnoresGapsButNotWrongCounts: a sample whose count differs from
// the node's degree is drift; a sample that lacks the count (a missed read)
// is not, since missed reads are judged separately.
func TestDriftIgnoresGapsButNotWrongCounts(t *testing.T) {
	m := &Mesh{Graph: topology.Star(2), Nodes: []*Node{{Name: "bootstrap"}, {Name: "peer-001"}, {Name: "peer-002"}}}
	sample := func(round int, node string, conns float64) series.Sample {
		v := map[string]float64{FigConns: conns, FigPeers: conns}
		if math.IsNaN(conns) {
			v = map[string]float64{}
		}
		return series.Sample{Round: round, Node: node, Values: v}
	}
	rec := &Recording{Mesh: m, Table: &series.Table{Samples: []series.Sample{
		sample(0, "bootstrap", 2), sample(0, "peer-001", 1), sample(0, "peer-002", 1),
		sample(1, "bootstrap", 1), sample(1, "peer-001", 1), sample(1, "peer-002", math.NaN()),
	}}}
	drift := rec.drift()
	require.Len(t, drift, 2, "connections and peers of the bootstrap in round 1: %v", drift)
	for _, v := range drift {
		assert.Equal(t, "bootstrap", v.Node)
		assert.Equal(t, 1, v.Round)
		assert.Equal(t, 1.0, v.Got)
		assert.Equal(t, 2.0, v.Want)
	}
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Peers: 0}, "set -peers between 1 and 1022"},
		{Config{Peers: -1}, "at least 1 peer"},
		{Config{Peers: 1023}, "at most 1023 containers"},
		{Config{Peers: 5, Name: "has space"}, `name "has space"`},
		{Config{Peers: 5, Interval: 10 * 1e6}, "interval = 10ms"},
	} {
		assert.ErrorContains(t, tc.cfg.Check(), tc.want, "%+v", tc.cfg)
	}
	assert.NoError(t, Config{Peers: 1022}.Check())
	assert.NoError(t, Config{Peers: 1}.Check())
}
