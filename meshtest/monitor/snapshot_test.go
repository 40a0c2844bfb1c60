package monitor

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
)

// start is when the samples of the test TSDBs begin.
var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// writeSnapshot writes into snap a snapshot of a TSDB holding, every
// second from `from` on, n samples of go_goroutines and of
// process_resident_memory_bytes of the bootstrap, and n/2 of go_goroutines
// of peer-0: what a monitored star leaves after n seconds. Each call adds a
// block to snap.
func writeSnapshot(t *testing.T, snap string, from time.Time, n int) {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	series := []struct {
		l labels.Labels
		n int
	}{
		{labels.FromStrings("__name__", "go_goroutines", "node", "bootstrap", "role", "bootstrap", "job", "nodes-bootstrap"), n},
		{labels.FromStrings("__name__", "process_resident_memory_bytes", "node", "bootstrap", "role", "bootstrap", "job", "nodes-bootstrap"), n},
		{labels.FromStrings("__name__", "go_goroutines", "node", "peer-0", "role", "peer", "job", "nodes-peers"), n / 2},
	}
	app := db.Appender(t.Context())
	for _, s := range series {
		for i := range s.n {
			ts := from.Add(time.Duration(i) * time.Second).UnixMilli()
			if _, err := app.Append(0, s.l, ts, float64(40+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// As the admin API does without skip_head: the head becomes a block.
	if err := db.Snapshot(snap, true); err != nil {
		t.Fatal(err)
	}
}

func TestReadSnapshot(t *testing.T) {
	snap := t.TempDir()
	writeSnapshot(t, snap, start, 10)
	before := tree(t, snap)

	for _, c := range []struct {
		selector string
		want     []string // Series.String of each, in label order
	}{
		{`{node="bootstrap"}`, []string{
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
			`process_resident_memory_bytes{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
		}},
		{`go_goroutines{role="peer"}`, []string{
			`go_goroutines{job="nodes-peers", node="peer-0", role="peer"}: 5 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:04Z`,
		}},
		{`go_goroutines`, []string{
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
			`go_goroutines{job="nodes-peers", node="peer-0", role="peer"}: 5 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:04Z`,
		}},
		{`{node=~"peer-.*", __name__!="go_goroutines"}`, nil},
		{``, []string{
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
			`go_goroutines{job="nodes-peers", node="peer-0", role="peer"}: 5 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:04Z`,
			`process_resident_memory_bytes{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
		}},
	} {
		got, err := ReadSnapshot(snap, c.selector)
		if err != nil {
			t.Errorf("ReadSnapshot(%q): %v", c.selector, err)
			continue
		}
		var lines []string
		for _, s := range got {
			lines = append(lines, s.String())
		}
		if strings.Join(lines, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("ReadSnapshot(%q):\n%s\nwant:\n%s", c.selector, strings.Join(lines, "\n"), strings.Join(c.want, "\n"))
		}
	}

	got, err := ReadSnapshot(snap, `go_goroutines{node="bootstrap"}`)
	if err != nil || len(got) != 1 {
		t.Fatalf("ReadSnapshot of the bootstrap's goroutines: %v, %v", got, err)
	}
	if s := got[0]; s.Labels["node"] != "bootstrap" || s.Labels["__name__"] != "go_goroutines" ||
		!s.First.Equal(start) || !s.Last.Equal(start.Add(9*time.Second)) {
		t.Errorf("the bootstrap's goroutines: %+v", s)
	}

	if after := tree(t, snap); after != before {
		t.Errorf("ReadSnapshot wrote to the snapshot:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// One series in two blocks is one series, with the samples of both.
func TestReadSnapshotBlocks(t *testing.T) {
	snap := t.TempDir()
	writeSnapshot(t, snap, start, 10)
	writeSnapshot(t, snap, start.Add(3*time.Hour), 4)
	got, err := ReadSnapshot(snap, `go_goroutines{node="bootstrap"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 14 samples from 2026-01-01T12:00:00Z to 2026-01-01T15:00:03Z`
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("ReadSnapshot of two blocks = %v, want [%s]", got, want)
	}
}

func TestReadSnapshotErrors(t *testing.T) {
	good := t.TempDir()
	writeSnapshot(t, good, start, 10)
	if _, err := ReadSnapshot(good, `go_goroutines{`); err == nil {
		t.Error("ReadSnapshot with a bad selector succeeded")
	}
	if _, err := ReadSnapshot(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("ReadSnapshot of a missing directory succeeded")
	}
	if _, err := ReadSnapshot(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no TSDB blocks") {
		t.Errorf("ReadSnapshot of an empty directory: %v, want an error saying there are no blocks", err)
	}

	// A block whose meta.json is damaged, beside a good one: the TSDB
	// skips it with a log line, which must fail the read.
	two := t.TempDir()
	writeSnapshot(t, two, start, 10)
	writeSnapshot(t, two, start.Add(3*time.Hour), 4)
	metas, _ := filepath.Glob(filepath.Join(two, "*", "meta.json"))
	if len(metas) != 2 {
		t.Fatalf("%d meta.json files in the snapshot, want 2", len(metas))
	}
	if err := os.WriteFile(metas[0], []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSnapshot(two, "")
	t.Log(err)
	if err == nil {
		t.Error("ReadSnapshot of a snapshot with a damaged block succeeded")
	}

	// A block whose index is damaged.
	bad := t.TempDir()
	writeSnapshot(t, bad, start, 10)
	idx, _ := filepath.Glob(filepath.Join(bad, "*", "index"))
	if len(idx) != 1 {
		t.Fatalf("%d index files in the snapshot, want 1", len(idx))
	}
	if err := os.WriteFile(idx[0], []byte("not an index"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadSnapshot(bad, "")
	t.Log(err)
	if err == nil {
		t.Error("ReadSnapshot of a snapshot with a damaged index succeeded")
	}
}

// The way a snapshot comes out of the server's container: Docker archives
// the snapshot's directory under its name, Untar drops that name, and what
// is left opens as a TSDB.
func TestUntarSnapshot(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "20260101T120000Z-1a2b3c4d5e6f7a8b")
	writeSnapshot(t, snap, start, 10)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	if err := tw.AddFS(os.DirFS(filepath.Dir(snap))); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "prometheus-snapshot")
	if err := Untar(&archive, dest); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dest), tree(t, snap); got != want {
		t.Errorf("untarred snapshot:\n%s\nwant:\n%s", got, want)
	}
	series, err := ReadSnapshot(dest, `{node="bootstrap"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 || series[0].Samples != 10 || series[1].Samples != 10 {
		t.Errorf("the bootstrap's series in the untarred snapshot: %v, want 2 of 10 samples", series)
	}
}

func TestUntar(t *testing.T) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "dest")
	archive := func(entries ...tar.Header) io.Reader {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			body := "contents of " + h.Name
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len(body))
			}
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				io.WriteString(tw, body)
			}
		}
		tw.Close()
		return &b
	}
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }

	err := Untar(archive(
		dir("snap/"), dir("snap/01J/"), file("snap/01J/meta.json"), file("snap/01J/chunks/000001"),
		tar.Header{Name: "snap/01J/chunks/000002", Typeflag: tar.TypeLink, Linkname: "snap/01J/chunks/000001"},
		tar.Header{Name: "snap/01J/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	), dest)
	if err != nil {
		t.Fatal(err)
	}
	want := "01J/\n01J/chunks/\n01J/chunks/000001: contents of snap/01J/chunks/000001\n" +
		"01J/chunks/000002: contents of snap/01J/chunks/000001\n01J/meta.json: contents of snap/01J/meta.json\n"
	if got := tree(t, dest); got != want {
		t.Errorf("untarred:\n%s\nwant:\n%s", got, want)
	}

	for _, evil := range []tar.Header{
		file("snap/../../escaped"),
		file("../escaped"),
		file("snap/01J/../../../escaped"),
		{Name: "snap/escaped", Typeflag: tar.TypeLink, Linkname: "snap/../../outside"},
	} {
		err := Untar(archive(dir("snap/"), evil), dest)
		if err == nil || !strings.Contains(err.Error(), "outside the archive's directory") {
			t.Errorf("Untar of %q: error %v, want a refusal", evil.Name, err)
		}
		for _, p := range []string{filepath.Join(parent, "escaped"), filepath.Join(filepath.Dir(parent), "escaped"), filepath.Join(dest, "escaped")} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("Untar of %q wrote %s", evil.Name, p)
			}
		}
	}
}

// tree lists the directories and files under dir, with each file's
// contents when the test wrote them and its size otherwise.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			b.WriteString(rel + "/\n")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(data) < 64 && bytes.HasPrefix(data, []byte("contents of ")) {
			b.WriteString(rel + ": " + string(data) + "\n")
		} else {
			fmt.Fprintf(&b, "%s: %d bytes\n", rel, len(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The snapshot's reader is the server's own code: the module in go.mod must
// be the version the server image is built from. (A test binary carries no
// dependency versions, so the test reads go.mod.)
func TestVersion(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/prometheus/prometheus" {
			if f[1] != Version {
				t.Errorf("go.mod requires github.com/prometheus/prometheus %s, the server is %s", f[1], Version)
			}
			return
		}
	}
	t.Error("go.mod does not require github.com/prometheus/prometheus")
}
