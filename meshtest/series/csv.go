package series

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// csvFixed are the columns every samples CSV starts with; one column per
// figure follows, then csvEvent if the table has events.
var csvFixed = []string{"round", "elapsed_s", "node", "role"}

// csvEvent is the last column of a samples CSV whose table has events. No
// figure may have its name: the reader would take it for this column.
const csvEvent = "event"

// WriteCSV writes the samples in wide format, one row per sample, so that a
// spreadsheet or pandas reads them without reshaping:
//
//	round,elapsed_s,node,role,connections,goroutines,mem_bytes
//	0,0,bootstrap,bootstrap,100,752,16318464
//	0,0,peer-1,peer,1,61,
//
// Figure columns are sorted by name; a figure a sample lacks is an empty
// cell. Rows are ordered by round, then node in natural order. Elapsed time
// is in seconds, and values are written in full precision, so [ReadCSV]
// gives back the same samples. Interval is not written.
//
// A table with events gets a last column, event, which is empty in the
// rows of measurements and names the event in the rows of events (whose
// figure cells are empty); a round's events follow its measurements:
//
//	round,elapsed_s,node,role,connections,event
//	12,12.004,peer-3,peer,1,
//	12,12.61,peer-3,peer,,kill
//
// A table without events is written without the column. It is an error
// for an event row to hold values, or for a figure to be named "event".
func (r *Table) WriteCSV(w io.Writer) error {
	figures := r.Figures()
	if slices.Contains(figures, csvEvent) {
		return fmt.Errorf("write csv: a figure is named %q, the name of the event column", csvEvent)
	}
	header := append(append([]string(nil), csvFixed...), figures...)
	events := slices.ContainsFunc(r.Samples, Sample.IsEvent)
	if events {
		header = append(header, csvEvent)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	row := make([]string, len(header))
	for _, s := range r.sortedSamples() {
		if s.IsEvent() && len(s.Values) > 0 {
			return fmt.Errorf("write csv row (round %d, %s): event %q has values; an event row marks a fault, not a measurement", s.Round, s.Node, s.Event)
		}
		row[0] = strconv.Itoa(s.Round)
		row[1] = strconv.FormatFloat(s.Elapsed.Seconds(), 'f', -1, 64)
		row[2] = s.Node
		row[3] = s.Role
		for i, f := range figures {
			row[len(csvFixed)+i] = ""
			if v, ok := s.Values[f]; ok {
				row[len(csvFixed)+i] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		if events {
			row[len(row)-1] = s.Event
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write csv row (round %d, %s): %w", s.Round, s.Node, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// ReadCSV reads samples written by [Table.WriteCSV], with or without the
// event column. Empty cells become absent values; an event row gets nil
// Values. The returned Table's Interval is zero, since the CSV does not
// hold it.
func ReadCSV(rd io.Reader) (*Table, error) {
	cr := csv.NewReader(rd)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("read csv: empty input, want a header")
	}
	if err != nil {
		return nil, fmt.Errorf("read csv header: %w", err)
	}
	if len(header) < len(csvFixed) {
		return nil, fmt.Errorf("read csv header: %d columns, want at least %v", len(header), csvFixed)
	}
	for i, name := range csvFixed {
		if header[i] != name {
			return nil, fmt.Errorf("read csv header: column %d is %q, want %q", i+1, header[i], name)
		}
	}
	figures := append([]string(nil), header[len(csvFixed):]...)
	events := len(figures) > 0 && figures[len(figures)-1] == csvEvent
	if events {
		figures = figures[:len(figures)-1]
	}
	seen := map[string]bool{}
	for _, f := range figures {
		if f == "" || seen[f] {
			return nil, fmt.Errorf("read csv header: figure name %q is empty or repeated", f)
		}
		if f == csvEvent {
			return nil, fmt.Errorf("read csv header: column %q is not the last", csvEvent)
		}
		seen[f] = true
	}

	rec := &Table{}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rec, nil
		}
		if err != nil { // csv errors name the line and column
			return nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		s, err := parseRow(row, figures, events)
		if err != nil {
			return nil, fmt.Errorf("read csv line %d: %w", line, err)
		}
		rec.Samples = append(rec.Samples, s)
	}
}

// parseRow reads one row; events says the row ends with the event column.
func parseRow(row, figures []string, events bool) (Sample, error) {
	round, err := strconv.Atoi(row[0])
	if err != nil {
		return Sample{}, fmt.Errorf("round: %w", err)
	}
	secs, err := strconv.ParseFloat(row[1], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("elapsed_s: %w", err)
	}
	s := Sample{
		Round: round,
		// Rounding to the nanosecond undoes the float conversion exactly for
		// any duration below 2^53 ns (104 days).
		Elapsed: time.Duration(math.Round(secs * 1e9)),
		Node:    row[2],
		Role:    row[3],
	}
	if events {
		s.Event = row[len(row)-1]
	}
	if !s.IsEvent() {
		s.Values = make(map[string]float64, len(figures))
	}
	for i, f := range figures {
		cell := row[len(csvFixed)+i]
		if cell == "" {
			continue
		}
		if s.IsEvent() {
			return Sample{}, fmt.Errorf("%s: event %q has a value; an event row marks a fault, not a measurement", f, s.Event)
		}
		v, err := strconv.ParseFloat(cell, 64)
		if err != nil {
			return Sample{}, fmt.Errorf("%s: %w", f, err)
		}
		s.Values[f] = v
	}
	return s, nil
}
