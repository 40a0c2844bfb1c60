package regress

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteReadRoundTrip(t *testing.T) {
	s := &Set{
		Created:     time.Date(2026, 5, 4, 9, 12, 0, 0, time.UTC),
		GitRevision: "4f1c2d9e0b7a",
		Params:      map[string]string{"peers": "10", "duration_s": "15", "image": "meshtest-node:dev"},
		Host:        "linux/amd64, 8 cores",
		Figures: []Figure{
			cost("peer_mem_bytes", 16318464, 0.01),
			FromRuns("bootstrap_bytes_per_conn", []float64{14000, 14200}, "B/conn"),
			{Name: "bring_up_s", Unit: "s", Value: 4.2, N: 1, HigherIsWorse: true},
		},
	}
	path := filepath.Join(t.TempDir(), "baseline", "star.json") // Write makes the directory
	require.NoError(t, s.Write(path))

	got, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, SchemaName, got.Schema)
	assert.Equal(t, SchemaVersion, got.SchemaVersion)
	assert.True(t, s.Created.Equal(got.Created), "created %v, want %v", got.Created, s.Created)
	assert.Equal(t, s.GitRevision, got.GitRevision)
	assert.Equal(t, s.Params, got.Params)
	assert.Equal(t, s.Host, got.Host)
	// Sorted by name on the way out, otherwise intact.
	assert.Equal(t, []Figure{s.Figures[1], s.Figures[2], s.Figures[0]}, got.Figures)
	assert.Equal(t, "peer_mem_bytes", s.Figures[0].Name, "Write must not reorder the caller's figures")
	assert.Empty(t, s.Schema, "Write must not modify the set")

	// Writing what was read gives the same bytes: a refresh with equal
	// numbers is an empty diff.
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, got.Write(path))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(first), string(second))
	assert.True(t, strings.HasPrefix(string(first), "{\n  \"schema\": \"meshtest/baseline\",\n  \"schema_version\": 2,"), "indented, schema first:\n%s", first)

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")
}

func TestReadFixture(t *testing.T) {
	s, err := Read("testdata/star.json")
	require.NoError(t, err)
	assert.Equal(t, "10", s.Params["peers"])
	require.Len(t, s.Figures, 5)
	assert.Equal(t, Figure{Name: "bootstrap_bytes_per_conn", Unit: "B/conn", Value: 14100, CV: 0.02, N: 5, HigherIsWorse: true, Gate: true}, s.Figures[0])
	assert.False(t, s.Figures[3].Gate, "bring_up_s is not gated")
}

func TestReadNoBaseline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "star.json")
	_, err := Read(path)
	require.ErrorIs(t, err, ErrNoBaseline)
	assert.NotErrorIs(t, err, fs.ErrPermission)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "make baseline")
}

func TestReadRejectsSchema(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	tests := []struct {
		name    string
		path    string
		version int
		want    []string
	}{
		{
			// The v0 fixture holds figures as an object: the schema check must
			// come before a decode that would fail on it.
			name: "older version", path: "testdata/star-v0.json", version: 0,
			want: []string{"testdata/star-v0.json", `"meshtest/baseline" version 0`, "supports versions 1 to 2", `run "make baseline" to refresh it`},
		},
		{
			name: "newer version", path: write("v3.json", `{"schema": "meshtest/baseline", "schema_version": 3, "figures": 3}`), version: 3,
			want: []string{"version 3", "supports versions 1 to 2", "newer meshtest", "make baseline"},
		},
		{
			name: "not a baseline", path: write("summary.json", `{"schema": "meshtest/summary", "schema_version": 1}`), version: 1,
			want: []string{`found schema "meshtest/summary" version 1`, `want "meshtest/baseline" version 2`, "not a baseline", "make baseline"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.path)
			var se *BaselineFormatError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.version, se.Version)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotErrorIs(t, err, ErrNoBaseline)
		})
	}
}

func TestReadMalformed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"schema": "meshtest/baseline", "schema_version": 1, "figures": [
		{"name": "a", "value": 1}, {"name": "a", "value": 2}]}`), 0o644))
	_, err := Read(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `figure "a": appears twice`)
	assert.Contains(t, err.Error(), p)
}

func TestWriteRejects(t *testing.T) {
	s := &Set{Figures: []Figure{
		FromRuns("no_runs", nil, "B"),
		{Name: "flat_zero", Value: 0, CV: math.Inf(1)},
		{Name: "", Value: 1},
		cost("dup", 1, 0), cost("dup", 2, 0),
	}}
	path := filepath.Join(t.TempDir(), "star.json")
	err := s.Write(path)
	require.Error(t, err)
	// Every problem at once, so one refresh fixes them all.
	for _, w := range []string{`"no_runs": value is NaN`, `"flat_zero": cv is +Inf`, "figure 2: empty name", `"dup": appears twice`} {
		assert.Contains(t, err.Error(), w)
	}
	_, statErr := os.Stat(path)
	assert.True(t, errors.Is(statErr, fs.ErrNotExist), "nothing written")
}

func TestFromRuns(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		value  float64
		cv     float64
		n      int
	}{
		{"one run has no known noise", []float64{14100}, 14100, 0, 1},
		// mean 100, sample stddev sqrt(((−10)²+0+10²)/2) = 10
		{"sample stddev over the mean", []float64{90, 100, 110}, 100, 0.1, 3},
		{"NaN runs are skipped", []float64{90, math.NaN(), 110}, 100, math.Sqrt(200) / 100, 2},
		{"equal runs", []float64{5, 5, 5}, 5, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := FromRuns("x", tt.values, "B/conn")
			assert.InDelta(t, tt.value, f.Value, 1e-9)
			assert.InDelta(t, tt.cv, f.CV, 1e-12)
			assert.Equal(t, tt.n, f.N)
			assert.Equal(t, "B/conn", f.Unit)
			assert.True(t, f.Gate && f.HigherIsWorse, "a gated cost by default")
		})
	}
	assert.True(t, math.IsNaN(FromRuns("x", nil, "s").Value), "no runs: NaN, not a made-up 0")
}

// TestReadVersion1: a version 1 baseline reads, its Go-duration params
// rewritten as the seconds version 2 compares.
func TestReadVersion1(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v1.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"schema": "meshtest/baseline", "schema_version": 1,
		"params": {"duration": "15s", "interval": "500ms", "peers": "10"},
		"figures": [{"name": "a", "unit": "B", "value": 1, "n": 1, "higher_is_worse": true, "gate": true}]}`), 0o644))
	s, err := Read(p)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"duration_s": "15", "interval_s": "0.5", "peers": "10"}, s.Params)
}
