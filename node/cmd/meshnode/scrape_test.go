package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"

	"github.com/meshtest/meshtest/node"
	"github.com/stretchr/testify/require"
)

// harnessQuery and harnessAccept are the scrape the harness makes of every
// node once a second (meshtest/metrics: the filter, protobuf preferred, no
// compression).
const (
	harnessQuery = "/metrics?name[]=go_goroutines&name[]=go_memstats_heap_inuse_bytes" +
		"&name[]=process_resident_memory_bytes&name[]=process_open_fds&name[]=process_cpu_seconds_total" +
		"&name[]=meshnode_connections&name[]=meshnode_peers&name[]=meshnode_streams"
	harnessAccept = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,` +
		`text/plain;version=0.0.4;q=0.3,*/*;q=0.1`
)

// BenchmarkScrapeCPU runs meshnode as its own process and scrapes it over
// HTTP on 127.0.0.1 as the harness does. It reports the node process's
// CPU per scrape (user+system from /proc/<pid>/stat: the HTTP server, the
// gather, the GC it causes; not the client's), which is what a scrape adds to
// the cost an experiment measures. The figure has the 10 ms resolution of
// clock ticks over the whole run and includes the idle node's own few
// ms/s, so run it with -benchtime of 2000x or more. Scraping back to back
// makes the node collect garbage more often than one scrape a second does.
func BenchmarkScrapeCPU(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc/<pid>/stat")
	}
	bin := buildBinary(b)
	cmd := exec.CommandContext(b.Context(), bin, "-listen-port", "0", "-metrics-port", "0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(b, cmd.Start())
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := bufio.NewScanner(stdout)
	require.True(b, lines.Scan(), "no ready line; stderr: %s", &stderr)
	var ready node.Event
	require.NoError(b, json.Unmarshal(lines.Bytes(), &ready))
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	_, port, err := net.SplitHostPort(ready.Metrics)
	require.NoError(b, err)
	url := "http://127.0.0.1:" + port + harnessQuery

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	scrape := func() {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept", harnessAccept)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("GET %s: %v", url, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", url, resp.Status)
		}
	}
	scrape() // the connection and the node's first-scrape allocations

	before, err := cpuTicks(cmd.Process.Pid)
	require.NoError(b, err)
	for b.Loop() {
		scrape()
	}
	after, err := cpuTicks(cmd.Process.Pid)
	require.NoError(b, err)
	const tick = 10e6 // ns; USER_HZ is 100
	b.ReportMetric(float64(after-before)*tick/float64(b.N), "node-ns/scrape")
}

// cpuTicks is the user+system time of process pid, in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// utime and stime are fields 14 and 15; fields after the parenthesised
	// command name start at 3.
	fields := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields after the command", pid, len(fields))
	}
	var total uint64
	for _, f := range fields[14-3 : 15-3+1] {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		total += v
	}
	return total, nil
}
