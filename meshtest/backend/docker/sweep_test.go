package docker

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSweep: what a process that no longer exists left behind is removed,
// judged by PID and start time; what a live process owns, this one's
// included, is left alone, as are other hosts' runs.
func TestSweep(t *testing.T) {
	b := testBackend(t, Options{})
	exited := exitedProcess(t)
	parent := process{host: self.host, pid: os.Getppid(), start: startTime(os.Getppid())}
	require.NotEmpty(t, parent.start, "the parent's start time")
	cases := []struct {
		name    string
		run     string
		owner   process
		pidOnly bool
		swept   bool
	}{
		{name: "dead process", run: "sweep-dead-", owner: exited, swept: true},
		{name: "live other process", run: "sweep-live-", owner: parent},
		// A killed run whose PID was reused by this run: its PID alone
		// would make it look alive for as long as this process runs.
		{name: "this PID, another start", run: "sweep-reused-", owner: process{host: self.host, pid: self.pid, start: "other-boot:123"}, swept: true},
		{name: "this process", run: "sweep-self-", owner: self},
		{name: "dead process, PID-only label", run: "sweep-pidonly-", owner: exited, pidOnly: true, swept: true},
		{name: "live process, PID-only label", run: "sweep-pidonly-live-", owner: parent, pidOnly: true},
		// Its PIDs mean nothing here: a host sharing the engine sweeps its own.
		{name: "another host's dead process", run: "sweep-otherhost-", owner: process{host: "not-" + self.host, pid: exited.pid, start: exited.start}},
	}
	for i := range cases {
		cases[i].run += randomHex(t, 4)
		ownedNetwork(t, b, cases[i].run, cases[i].owner, cases[i].pidOnly)
	}

	rec := &logRecorder{t: t}
	b.RemoveAbandoned(t.Context(), rec.logf)
	lines := rec.take()

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			left, err := b.Leftovers(t.Context(), tc.run)
			require.NoError(t, err)
			named := mentioning(lines, tc.run)
			if tc.swept {
				assert.Empty(t, left, "run %s of %s is swept", tc.run, tc.owner)
				// Other processes sharing the engine sweep too, and may have
				// removed it first: then this sweep has nothing to say.
				assert.LessOrEqual(t, len(named), 1, "the sweep says once that it removes run %s: %q", tc.run, lines)
			} else {
				assert.Equal(t, []string{"network " + networkName(tc.run)}, left, "run %s of %s is left alone", tc.run, tc.owner)
				assert.Empty(t, named, "the sweep says nothing of run %s", tc.run)
			}
		})
	}
}
