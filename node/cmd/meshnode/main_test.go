package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/meshtest/meshtest/node"
	"github.com/stretchr/testify/require"
)

// buildBinary builds meshnode the way the image does (static, no cgo).
func buildBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "meshnode")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.CommandContext(t.Context(), bin, "-listen-port", "0", "-metrics-port", "0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "no ready line; stderr: %s", &stderr)
	var ready node.Event
	require.NoError(t, json.Unmarshal(lines.Bytes(), &ready))
	require.Equal(t, node.EventReady, ready.Event)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var last node.Event
	for lines.Scan() {
		require.NoError(t, json.Unmarshal(lines.Bytes(), &last))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit after SIGTERM; stderr: %s", &stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("meshnode did not exit within 10s of SIGTERM")
	}
	require.Equal(t, node.EventShutdown, last.Event)
}

func TestBadFlagExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-dial-timeout", "soon"}, func(string) string { return "" }, &stdout, &stderr)
	require.Equal(t, 2, code)
	require.Contains(t, stderr.String(), "-dial-timeout")
	require.Empty(t, stdout.String())
}
