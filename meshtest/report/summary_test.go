package report

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// TestFromSummaryNetworkAndEvents: a summary with link conditions and
// faults gives a report with the Network and Events sections and a check
// of the calibration after the others; one without gives neither, and the
// checks it always had.
func TestFromSummaryNetworkAndEvents(t *testing.T) {
	s := &summary.File{
		Experiment: "TestChaos", Topology: summary.Topology{Name: "star", Nodes: 11, Edges: 10},
		Convergence: summary.Convergence{Proven: true, Roles: map[string]string{"bootstrap": summary.ByPeerIDs}},
	}
	plain := FromSummary(s, true, nil)
	assert.Nil(t, plain.Network)
	assert.Empty(t, plain.Events)
	require.Len(t, plain.Checks, 4)

	for _, off := range []bool{false, true} {
		s.Network, s.Events = sampleNetwork(off), sampleEvents()
		d := FromSummary(s, true, nil)
		assert.Equal(t, s.Network, d.Network)
		assert.Equal(t, s.Events, d.Events)
		require.Len(t, d.Checks, 5)
		assert.Equal(t, plain.Checks, d.Checks[:4], "the checks a run always had come first, as they were")
		want := Check{Name: "the link conditions measured as asked", OK: true, Detail: "3 paths: 3 ok (nfqueue-delay-line)"}
		if off {
			want.OK, want.Detail = false, "3 paths: 2 ok, 1 mismatch (nfqueue-delay-line)"
		}
		assert.Equal(t, want, d.Checks[4])

		var buf bytes.Buffer
		require.NoError(t, Write(&buf, d))
		assert.Contains(t, buf.String(), `id="network"`)
		assert.Contains(t, buf.String(), `id="events"`)
	}

	// Shaped but not calibrated: the section, and no check to pass or fail.
	s.Network = &summary.Network{Mechanism: "netem", Kernel: "sch_netem"}
	assert.Len(t, FromSummary(s, true, nil).Checks, 4)
}
