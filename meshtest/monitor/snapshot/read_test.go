package snapshot_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/meshtest/meshtest/meshtest/monitor"
	"github.com/meshtest/meshtest/meshtest/monitor/snapshot"
)

// start is when the samples of the test TSDBs begin.
var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// writeSnapshot writes into snap a snapshot of a TSDB holding, every
// second from `from` on, n samples of go_goroutines and of
// process_resident_memory_bytes of the bootstrap, and n/2 of go_goroutines
// of peer-0: what a monitored star leaves after n seconds. Each call adds a
// block to snap. It writes with package tsdb itself, which Read does
// without: a test binary can carry the weight.
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

// lines is Series.String of each of series.
func lines(series []snapshot.Series) string {
	var b strings.Builder
	for _, s := range series {
		b.WriteString(s.String() + "\n")
	}
	return b.String()
}

func TestRead(t *testing.T) {
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
		{`{role!~"peer|bootstrap", __name__=~".+"}`, nil},
		{`{node!="bootstrap", missing=""}`, []string{
			`go_goroutines{job="nodes-peers", node="peer-0", role="peer"}: 5 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:04Z`,
		}},
		{``, []string{
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
			`go_goroutines{job="nodes-peers", node="peer-0", role="peer"}: 5 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:04Z`,
			`process_resident_memory_bytes{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`,
		}},
	} {
		got, err := snapshot.Read(snap, c.selector)
		if err != nil {
			t.Errorf("Read(%q): %v", c.selector, err)
			continue
		}
		want := ""
		for _, l := range c.want {
			want += l + "\n"
		}
		if lines(got) != want {
			t.Errorf("Read(%q):\n%swant:\n%s", c.selector, lines(got), want)
		}
	}

	got, err := snapshot.Read(snap, `go_goroutines{node="bootstrap"}`)
	if err != nil || len(got) != 1 {
		t.Fatalf("Read of the bootstrap's goroutines: %v, %v", got, err)
	}
	if s := got[0]; s.Labels["node"] != "bootstrap" || s.Labels["__name__"] != "go_goroutines" ||
		!s.First.Equal(start) || !s.Last.Equal(start.Add(9*time.Second)) {
		t.Errorf("the bootstrap's goroutines: %+v", s)
	}

	if after := tree(t, snap); after != before {
		t.Errorf("Read wrote to the snapshot:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// One series in two blocks is one series, with the samples of both; a
// sample that two overlapping blocks hold is one sample, as Prometheus
// shows it.
func TestReadBlocks(t *testing.T) {
	for _, c := range []struct {
		name  string
		froms []time.Time
		ns    []int
		want  string
	}{
		{"apart", []time.Time{start, start.Add(3 * time.Hour)}, []int{10, 4},
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 14 samples from 2026-01-01T12:00:00Z to 2026-01-01T15:00:03Z`},
		{"overlapping", []time.Time{start, start.Add(5 * time.Second)}, []int{10, 10},
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 15 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:14Z`},
		{"the same", []time.Time{start, start}, []int{10, 10},
			`go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z`},
	} {
		t.Run(c.name, func(t *testing.T) {
			snap := t.TempDir()
			for i, from := range c.froms {
				writeSnapshot(t, snap, from, c.ns[i])
			}
			got, err := snapshot.Read(snap, `go_goroutines{node="bootstrap"}`)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].String() != c.want {
				t.Errorf("Read of two blocks = %v, want [%s]", got, c.want)
			}
		})
	}
}

// Series deleted through the admin API after their block was written
// (tombstones in the block) are not read: a Prometheus would not show
// them.
func TestReadDeleted(t *testing.T) {
	snap := t.TempDir()
	writeSnapshot(t, snap, start, 10)
	db, err := tsdb.Open(snap, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.DisableCompactions() // which would drop the deleted samples from the block
	peer := labels.MustNewMatcher(labels.MatchEqual, "node", "peer-0")
	goroutines := labels.MustNewMatcher(labels.MatchEqual, "__name__", "go_goroutines")
	err = db.Delete(t.Context(), start.UnixMilli(), start.Add(time.Hour).UnixMilli(), peer)
	if err == nil {
		err = db.Delete(t.Context(), start.UnixMilli(), start.Add(2*time.Second).UnixMilli(), goroutines)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if stones, _ := filepath.Glob(filepath.Join(snap, "*", "tombstones")); len(stones) != 1 {
		t.Fatalf("tombstones files %v in the snapshot, want 1", stones)
	}

	got, err := snapshot.Read(snap, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `go_goroutines{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 7 samples from 2026-01-01T12:00:03Z to 2026-01-01T12:00:09Z
process_resident_memory_bytes{job="nodes-bootstrap", node="bootstrap", role="bootstrap"}: 10 samples from 2026-01-01T12:00:00Z to 2026-01-01T12:00:09Z
`
	if lines(got) != want {
		t.Errorf("Read after deletes:\n%swant:\n%s", lines(got), want)
	}
}

func TestReadErrors(t *testing.T) {
	good := t.TempDir()
	writeSnapshot(t, good, start, 10)
	if _, err := snapshot.Read(good, `go_goroutines{`); err == nil {
		t.Error("Read with a bad selector succeeded")
	}
	if _, err := snapshot.Read(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("Read of a missing directory succeeded")
	}
	if _, err := snapshot.Read(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no TSDB blocks") {
		t.Errorf("Read of an empty directory: %v, want an error saying there are no blocks", err)
	}

	// A block whose meta.json is damaged, beside a good one: the TSDB
	// would skip it with a log line; here it fails the read.
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
	_, err := snapshot.Read(two, "")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "meta.json") {
		t.Errorf("Read of a snapshot with a damaged meta.json: %v, want an error naming it", err)
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
	_, err = snapshot.Read(bad, "")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "index") {
		t.Errorf("Read of a snapshot with a damaged index: %v, want an error naming it", err)
	}

	// A block whose chunks are damaged: the index points past their end.
	cut := t.TempDir()
	writeSnapshot(t, cut, start, 10)
	segs, _ := filepath.Glob(filepath.Join(cut, "*", "chunks", "000001"))
	if len(segs) != 1 {
		t.Fatalf("%d chunk segments in the snapshot, want 1", len(segs))
	}
	if err := os.Truncate(segs[0], 16); err != nil {
		t.Fatal(err)
	}
	_, err = snapshot.Read(cut, "")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "chunk") {
		t.Errorf("Read of a snapshot with damaged chunks: %v, want an error naming them", err)
	}
}

// The way a snapshot comes out of the server's container: Docker archives
// the snapshot's directory under its name, monitor.Untar drops that name,
// and what is left reads as a TSDB.
func TestReadUntarred(t *testing.T) {
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
	if err := monitor.Untar(&archive, dest); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dest), tree(t, snap); got != want {
		t.Errorf("untarred snapshot:\n%s\nwant:\n%s", got, want)
	}
	series, err := snapshot.Read(dest, `{node="bootstrap"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 || series[0].Samples != 10 || series[1].Samples != 10 {
		t.Errorf("the bootstrap's series in the untarred snapshot: %v, want 2 of 10 samples", series)
	}
}

// tree lists the directories and files under dir, with each file's size.
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
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s: %d bytes\n", rel, info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
