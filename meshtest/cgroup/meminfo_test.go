package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemTotal(t *testing.T) {
	// testdata/v2/proc/meminfo is recorded on a VM with 23.5 GiB usable.
	got, err := MemTotal(filepath.Join("testdata", "v2", "proc"))
	require.NoError(t, err)
	assert.Equal(t, uint64(24683584*1024), got, "MemTotal: 24683584 kB, in bytes")
}

func TestMemTotalErrors(t *testing.T) {
	withMeminfo := func(content string) string {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "meminfo"), []byte(content), 0o644))
		return dir
	}
	missing := filepath.Join(t.TempDir(), "proc")
	tests := []struct {
		name     string
		procRoot string
		wantErr  []string
	}{
		{"no proc root", missing, []string{"cgroup: host memory", missing}},
		{"no meminfo", filepath.Join("testdata", "v1", "proc"), []string{filepath.Join("testdata", "v1", "proc", "meminfo")}},
		{"no MemTotal line", withMeminfo("MemFree: 1024 kB\n"), []string{"meminfo: no MemTotal line"}},
		{"bad value", withMeminfo("MemTotal: lots kB\n"), []string{"meminfo: ", "invalid syntax"}},
		{"bad unit", withMeminfo("MemTotal: 1 MB\n"), []string{"meminfo: ", `unit in optional 3rd field "MB"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MemTotal(tt.procRoot)
			require.Error(t, err)
			assert.Zero(t, got)
			for _, want := range tt.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}
