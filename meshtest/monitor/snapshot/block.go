package snapshot

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/tsdb/tombstones"
)

// block is one block of a snapshot, open for reading: what tsdb.OpenBlock
// opens, read-only (the index and the chunks are mapped, not written).
type block struct {
	meta       meta
	index      *index.Reader
	chunks     *chunks.Reader
	tombstones tombstones.Reader
}

// meta is the part of a block's meta.json the reader needs. (Package tsdb
// has the whole of it, tsdb.BlockMeta, but is the weight this package
// avoids.)
type meta struct {
	ULID    string `json:"ulid"`
	MinTime int64  `json:"minTime"`
	Version int    `json:"version"`
}

// openBlocks opens every block in dir, a directory named by its ULID as
// the TSDB names them; whatever else dir holds is not a block and is left
// alone, as the TSDB does. The blocks are in time order. A block that does
// not open is an error, all of them listed, and none is left open.
func openBlocks(dir string) ([]*block, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var blocks []*block
	var errs []error
	for _, e := range entries {
		if _, err := ulid.ParseStrict(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		b, err := openBlock(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("block %s: %w", e.Name(), err))
			continue
		}
		blocks = append(blocks, b)
	}
	if len(errs) > 0 {
		closeBlocks(blocks)
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(blocks, func(a, b *block) int { return cmp.Compare(a.meta.MinTime, b.meta.MinTime) })
	return blocks, nil
}

func openBlock(dir string) (_ *block, err error) {
	b := &block{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &b.meta); err != nil {
		return nil, fmt.Errorf("meta.json: %w", err)
	}
	// The only version there is, and what the TSDB requires.
	if b.meta.Version != 1 {
		return nil, fmt.Errorf("meta.json: version %d, want 1", b.meta.Version)
	}
	if b.index, err = index.NewFileReader(filepath.Join(dir, "index"), index.DecodePostingsRaw); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if b.chunks, err = chunks.NewDirReader(filepath.Join(dir, "chunks"), nil); err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	// Series deleted through the admin API after the block was written;
	// no file is none.
	if b.tombstones, _, err = tombstones.ReadTombstones(dir); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	return b, nil
}

func (b *block) close() {
	// Read-only files: closing them cannot lose anything.
	if b.index != nil {
		b.index.Close()
	}
	if b.chunks != nil {
		b.chunks.Close()
	}
	if b.tombstones != nil {
		b.tombstones.Close()
	}
}

func closeBlocks(blocks []*block) {
	for _, b := range blocks {
		b.close()
	}
}
