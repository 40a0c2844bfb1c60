package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandleMatchesRead(t *testing.T) {
	for _, tt := range []struct {
		tree, id string
		pid      int
	}{{"v1", v1Docker, 4784}, {"v1", v1Systemd, 9120}, {"v2", v2Systemd, 31337}, {"v2", v2Docker, 31400}} {
		c, err := fixtureReader(t, tt.tree).Find(tt.id)
		require.NoError(t, err)
		want, err := c.Read(tt.pid)
		require.NoError(t, err)
		h, err := c.Open(tt.pid)
		require.NoError(t, err)
		for range 2 { // the second read reuses the buffers
			got, err := h.Read()
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s/%s", tt.tree, tt.id[:12])
		}
		require.NoError(t, h.Close())
	}
}

func TestHandleSeesNewValuesAndLongFiles(t *testing.T) {
	dir := copyTree(t, "v2")
	r, err := NewReader(filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc"))
	require.NoError(t, err)
	c, err := r.Find(v2Docker)
	require.NoError(t, err)
	h, err := c.Open(31400)
	require.NoError(t, err)
	defer h.Close()

	st, err := h.Read()
	require.NoError(t, err)
	assert.Equal(t, 5.0, st.PIDs)

	// Rewritten in place, as the kernel regenerates it: same descriptor, new
	// value. memory.stat grows past the initial buffer.
	require.NoError(t, os.WriteFile(c.PIDsFile, []byte("6\n"), 0o644))
	stat, err := os.ReadFile(c.MemoryStatFile)
	require.NoError(t, err)
	long := strings.Repeat("padding_key 0\n", 600) + string(stat) // ~12 KB, anon and inactive_file at the end
	require.NoError(t, os.WriteFile(c.MemoryStatFile, []byte(long), 0o644))

	st, err = h.Read()
	require.NoError(t, err)
	assert.Equal(t, 6.0, st.PIDs)
	assert.Equal(t, 7340032.0, st.MemoryRSSBytes)
}

func TestHandleErrors(t *testing.T) {
	c, err := fixtureReader(t, "v1").Find(v1Docker)
	require.NoError(t, err)

	_, err = c.Open(424242)
	assert.ErrorContains(t, err, filepath.Join("proc", "424242", "net", "dev"))
	_, err = c.Open(-1)
	assert.ErrorContains(t, err, "invalid init pid -1")

	h, err := c.Open(4784)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, h.Close(), "Close is idempotent")
	_, err = h.Read()
	assert.ErrorContains(t, err, "handle closed")
}

// BenchmarkHandleRead is BenchmarkRead through kept file descriptors.
func BenchmarkHandleRead(b *testing.B) {
	for _, tt := range []struct {
		tree, id string
		pid      int
	}{{"v1", v1Docker, 4784}, {"v2", v2Systemd, 31337}} {
		b.Run("cgroup="+tt.tree, func(b *testing.B) {
			c, err := fixtureReader(b, tt.tree).Find(tt.id)
			if err != nil {
				b.Fatal(err)
			}
			h, err := c.Open(tt.pid)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
