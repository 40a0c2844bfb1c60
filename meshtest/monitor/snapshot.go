package monitor

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Untar writes a tar stream's directories and regular files under dest,
// dropping the archive's top directory: Docker archives a copied directory
// under its own name, here the snapshot's, and dest is to hold the TSDB
// blocks themselves, as a --storage.tsdb.path does. Hard links within the
// archive are kept; symbolic links and devices are skipped.
//
// An entry whose path would leave the top directory ("snap/../../x") is an
// error, written nowhere: dest is opened as an os.Root, which also refuses
// to follow a link out of it.
func Untar(r io.Reader, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("monitor: untar: %w", err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("monitor: untar: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("monitor: untar into %s: %w", dest, err)
		}
		name, err := entryPath(h.Name)
		if err != nil {
			return fmt.Errorf("monitor: untar into %s: %w", dest, err)
		}
		if name == "" { // the top directory itself
			continue
		}
		if err := writeEntry(root, tr, h, name); err != nil {
			return fmt.Errorf("monitor: untar into %s: %s: %w", dest, h.Name, err)
		}
	}
}

// entryPath is the path of an archive entry under the archive's top
// directory, "" for the top directory itself.
func entryPath(name string) (string, error) {
	_, rest, _ := strings.Cut(strings.TrimSuffix(name, "/"), "/")
	if !filepath.IsLocal(filepath.FromSlash(name)) || (rest != "" && !filepath.IsLocal(filepath.FromSlash(rest))) {
		return "", fmt.Errorf("entry %q is outside the archive's directory", name)
	}
	return filepath.FromSlash(rest), nil
}

func writeEntry(root *os.Root, tr *tar.Reader, h *tar.Header, name string) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return root.MkdirAll(name, 0o755)
	case tar.TypeReg:
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		return errors.Join(err, f.Close())
	case tar.TypeLink:
		// Docker archives a file linked twice once, and the other name as
		// a link to it; a TSDB block may well hold such files.
		target, err := entryPath(h.Linkname)
		if err != nil || target == "" {
			return fmt.Errorf("link to %q outside the archive's directory", h.Linkname)
		}
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		return root.Link(target, name)
	}
	return nil
}

// Series is one series of a TSDB snapshot and what the snapshot holds of it.
type Series struct {
	// Labels is the series' label set, its metric name under "__name__".
	Labels map[string]string
	// Samples is how many samples the snapshot holds, float and histogram.
	Samples int
	// First and Last are the times of the first and the last sample.
	First, Last time.Time
}

// String is the series' selector and what the snapshot holds of it.
func (s Series) String() string {
	m := make(model.Metric, len(s.Labels))
	for k, v := range s.Labels {
		m[model.LabelName(k)] = model.LabelValue(v)
	}
	return fmt.Sprintf("%s: %d samples from %s to %s", m, s.Samples,
		s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339))
}

// ReadSnapshot opens the TSDB in dir, a snapshot as Untar wrote it, and
// returns the series that match selector, a PromQL series selector such as
// `{node="bootstrap"}` or `go_goroutines{role="peer"}` ("" for every
// series), in label order.
//
// It reads the blocks with Prometheus's own TSDB package, at the version
// the server runs (Version): a block it cannot open, or none at all, is an
// error, which is the point. A Prometheus pointed at the artifact would
// show the same series, so a test can check what the artifact holds rather
// than that a directory exists. The snapshot is not written to.
func ReadSnapshot(dir, selector string) ([]Series, error) {
	if selector == "" {
		selector = `{__name__=~".+"}`
	}
	matchers, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("monitor: read snapshot %s: selector %q: %w", dir, selector, err)
	}
	// The TSDB logs the blocks it skips, rather than failing: collect its
	// errors so that a block it could not read fails the read here.
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{
		Level: slog.LevelError,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	}))
	// The sandbox, where a read-only DB would replay a WAL, goes to the
	// system's temporary directory rather than into the snapshot.
	db, err := tsdb.OpenDBReadOnly(dir, os.TempDir(), log)
	if err != nil {
		return nil, fmt.Errorf("monitor: read snapshot %s: %w", dir, err)
	}
	defer db.Close()
	// A snapshot is blocks only (the server wrote its head as one): read
	// them, not the WAL a DBReadOnly querier would also replay.
	blocks, err := db.Blocks()
	if err == nil && logged.Len() > 0 {
		err = errors.New(strings.TrimSpace(logged.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("monitor: read snapshot %s: %w", dir, err)
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("monitor: read snapshot %s: no TSDB blocks", dir)
	}
	queriers := make([]storage.Querier, 0, len(blocks))
	for _, b := range blocks {
		q, err := tsdb.NewBlockQuerier(b, math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, fmt.Errorf("monitor: read snapshot %s: block %s: %w", dir, b.Meta().ULID, err)
		}
		queriers = append(queriers, q)
	}
	// One series may span several blocks: merge them into one.
	q := storage.NewMergeQuerier(queriers, nil, storage.ChainedSeriesMerge)
	defer q.Close()
	set := q.Select(context.Background(), true, nil, matchers...)
	var out []Series
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		sr := Series{Labels: s.Labels().Map()}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			t := time.UnixMilli(it.AtT())
			if sr.Samples == 0 {
				sr.First = t
			}
			sr.Last = t
			sr.Samples++
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("monitor: read snapshot %s: %s: %w", dir, s.Labels(), err)
		}
		out = append(out, sr)
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("monitor: read snapshot %s: %w", dir, err)
	}
	return out, nil
}
