package snapshot

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/tsdb/tombstones"
)

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

// Read opens the TSDB snapshot in dir, as monitor.Untar wrote it, and
// returns the series that match selector, a PromQL series selector such as
// `{node="bootstrap"}` or `go_goroutines{role="peer"}` ("" for every
// series), in label order. A series in several blocks is one Series, with
// the samples of all of them; samples deleted through the admin API are
// not counted, and a series left with none is not returned.
//
// A block that cannot be read, or none at all, is an error, which is the
// point: the artifact must open in a Prometheus. The snapshot is not
// written to.
func Read(dir, selector string) ([]Series, error) {
	if selector == "" {
		selector = `{__name__=~".+"}`
	}
	matchers, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: selector %q: %w", dir, selector, err)
	}
	blocks, err := openBlocks(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: %w", dir, err)
	}
	defer closeBlocks(blocks)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("snapshot: read %s: no TSDB blocks", dir)
	}
	found, err := find(blocks, matchers)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: %w", dir, err)
	}
	var out []Series
	var ts []int64
	for _, s := range found {
		if ts, err = s.times(ts[:0]); err != nil {
			return nil, fmt.Errorf("snapshot: read %s: %s: %w", dir, s.labels, err)
		}
		if len(ts) == 0 {
			continue
		}
		out = append(out, Series{
			Labels:  s.labels.Map(),
			Samples: len(ts),
			First:   time.UnixMilli(ts[0]),
			Last:    time.UnixMilli(ts[len(ts)-1]),
		})
	}
	return out, nil
}

// stored is a series as the blocks hold it: a part in each block it is in.
type stored struct {
	labels labels.Labels
	parts  []part
}

type part struct {
	block   *block
	chunks  []chunks.Meta
	deleted tombstones.Intervals
}

// find returns the series of the blocks that match every matcher, in label
// order. It reads every series of every block's index rather than look the
// matchers up in the postings (which is package tsdb's code): a snapshot
// of a mesh holds a few thousand series at most.
func find(blocks []*block, matchers []*labels.Matcher) ([]*stored, error) {
	byLabels := map[string]*stored{}
	var builder labels.ScratchBuilder
	all, allValue := index.AllPostingsKey()
	for _, b := range blocks {
		refs, err := b.index.Postings(context.Background(), all, allValue)
		if err != nil {
			return nil, fmt.Errorf("block %s: index: %w", b.meta.ULID, err)
		}
		for refs.Next() {
			var chks []chunks.Meta
			if err := b.index.Series(refs.At(), &builder, &chks); err != nil {
				return nil, fmt.Errorf("block %s: index: series %d: %w", b.meta.ULID, refs.At(), err)
			}
			lbls := builder.Labels()
			if !matchAll(matchers, lbls) {
				continue
			}
			deleted, err := b.tombstones.Get(refs.At())
			if err != nil {
				return nil, fmt.Errorf("block %s: tombstones: %s: %w", b.meta.ULID, lbls, err)
			}
			s := byLabels[lbls.String()]
			if s == nil {
				s = &stored{labels: lbls}
				byLabels[lbls.String()] = s
			}
			s.parts = append(s.parts, part{block: b, chunks: chks, deleted: deleted})
		}
		if err := refs.Err(); err != nil {
			return nil, fmt.Errorf("block %s: index: %w", b.meta.ULID, err)
		}
	}
	found := make([]*stored, 0, len(byLabels))
	for _, s := range byLabels {
		found = append(found, s)
	}
	slices.SortFunc(found, func(a, b *stored) int { return labels.Compare(a.labels, b.labels) })
	return found, nil
}

// matchAll says whether lbls match every matcher, a label the set lacks
// being "", as in PromQL.
func matchAll(matchers []*labels.Matcher, lbls labels.Labels) bool {
	for _, m := range matchers {
		if !m.Matches(lbls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// times appends to ts the times of the series' samples, in order, each
// once, leaving out the deleted ones. Blocks may overlap (a compacted block
// beside one of its sources, out-of-order samples): Prometheus shows a
// sample that two blocks hold as one, and so does this count.
func (s *stored) times(ts []int64) ([]int64, error) {
	var it chunkenc.Iterator
	ordered := true
	for _, p := range s.parts {
		for _, m := range p.chunks {
			chk, iterable, err := p.block.chunks.ChunkOrIterable(m)
			if err != nil {
				return ts, fmt.Errorf("block %s: chunk %d: %w", p.block.meta.ULID, m.Ref, err)
			}
			if chk != nil {
				iterable = chk
			}
			it = iterable.Iterator(it)
			for it.Next() != chunkenc.ValNone {
				t := it.AtT()
				if deleted(p.deleted, t) {
					continue
				}
				if len(ts) > 0 && t <= ts[len(ts)-1] {
					ordered = false
				}
				ts = append(ts, t)
			}
			if err := it.Err(); err != nil {
				return ts, fmt.Errorf("block %s: chunk %d: %w", p.block.meta.ULID, m.Ref, err)
			}
		}
	}
	if !ordered {
		slices.Sort(ts)
		ts = slices.Compact(ts)
	}
	return ts, nil
}

func deleted(intervals tombstones.Intervals, t int64) bool {
	for _, in := range intervals {
		if in.InBounds(t) {
			return true
		}
	}
	return false
}
