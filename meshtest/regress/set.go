package regress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaName and SchemaVersion identify the baseline file layout. Bump
// SchemaVersion on any change a reader of the previous layout would
// misread; old baselines are then refused, not guessed at.
//
// Version 2 writes durations in Params as seconds under keys ending in _s
// ("duration_s": "15"), as summary.json does; version 1 wrote Go durations
// ("duration": "15s"). Read converts version 1 files.
const (
	SchemaName    = "meshtest/baseline"
	SchemaVersion = 2
)

// ErrNoBaseline is returned, wrapped, by [Read] when the baseline file does
// not exist: nothing has been recorded on this machine yet.
var ErrNoBaseline = errors.New(`no baseline recorded: run "make baseline" to record one on this machine`)

// Set is a baseline: the headline figures of one experiment, what defines
// the experiment, and where and from which revision it was measured.
type Set struct {
	Schema        string    `json:"schema"` // SchemaName
	SchemaVersion int       `json:"schema_version"`
	Created       time.Time `json:"created"`
	GitRevision   string    `json:"git_revision,omitempty"`
	// Params define the experiment: "peers" → "10", "duration_s" → "15",
	// "image" → "meshtest-node:dev". Two sets are only comparable if their
	// Params agree (see [Compare]).
	Params map[string]string `json:"params"`
	// Host describes the machine, for people: baselines are machine-specific
	// and a figure like bytes per connection differs between kernels.
	Host    string   `json:"host,omitempty"`
	Figures []Figure `json:"figures"`
}

// BaselineFormatError is a file that is not a baseline this package can read: another
// kind of meshtest file, or a baseline of another layout version.
type BaselineFormatError struct {
	Path    string
	Schema  string // as found in the file
	Version int    // as found in the file
}

// Error says what was found, what is supported and how to refresh the file.
func (e *BaselineFormatError) Error() string {
	found := fmt.Sprintf("schema %q version %d", e.Schema, e.Version)
	if e.Schema != SchemaName {
		return fmt.Sprintf("read baseline %s: found %s, want %q version %d: not a baseline file; run \"make baseline\" to record one",
			e.Path, found, SchemaName, SchemaVersion)
	}
	advice := `run "make baseline" to refresh it`
	if e.Version > SchemaVersion {
		advice = `it was written by a newer meshtest; update, or run "make baseline" to re-record it with this one`
	}
	return fmt.Sprintf("read baseline %s: found %s, this meshtest supports versions 1 to %d: %s",
		e.Path, found, SchemaVersion, advice)
}

// Read reads the baseline at path. A missing file is [ErrNoBaseline]; a file
// of another schema or version is a [*BaselineFormatError] whose message says how to
// refresh it.
func Read(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read baseline %s: %w", path, ErrNoBaseline)
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	// The schema is checked before the full decode: a future layout may
	// change a field's type, and "cannot unmarshal string into ..." would
	// hide the one useful fact, that the file has another version.
	var head struct {
		Schema        string `json:"schema"`
		SchemaVersion int    `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", path, err)
	}
	if head.Schema != SchemaName || head.SchemaVersion < 1 || head.SchemaVersion > SchemaVersion {
		return nil, &BaselineFormatError{Path: path, Schema: head.Schema, Version: head.SchemaVersion}
	}
	var s Set
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", path, err)
	}
	if head.SchemaVersion == 1 {
		if err := durationsToSeconds(s.Params); err != nil {
			return nil, fmt.Errorf("read baseline %s: %w", path, err)
		}
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", path, err)
	}
	return &s, nil
}

// durationsToSeconds rewrites version 1's duration params ("duration":
// "15s") as version 2 has them ("duration_s": "15").
func durationsToSeconds(params map[string]string) error {
	for _, k := range []string{"duration", "interval"} {
		v, ok := params[k]
		if !ok {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("param %s = %q: %w", k, v, err)
		}
		delete(params, k)
		params[k+"_s"] = strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
	}
	return nil
}

// Write stores s at path as indented JSON, stamped with the current
// [SchemaName] and [SchemaVersion], figures sorted by name (Params are
// sorted by encoding/json), so that refreshing a baseline yields a
// reviewable diff. The file is replaced atomically: an interrupted
// `make baseline` leaves the old baseline, not half of a new one.
// s itself is not modified.
func (s *Set) Write(path string) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	out := *s
	out.Schema, out.SchemaVersion = SchemaName, SchemaVersion
	out.Figures = slices.Clone(s.Figures)
	slices.SortFunc(out.Figures, func(a, b Figure) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".baseline-*.json")
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a baseline is checked-in data.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}

// validate reports every figure a baseline cannot hold: JSON has no NaN or
// infinity, and a duplicated name would make the comparison pick one of
// two numbers at random.
func (s *Set) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, f := range s.Figures {
		switch {
		case f.Name == "":
			errs = append(errs, fmt.Errorf("figure %d: empty name", i))
		case seen[f.Name]:
			errs = append(errs, fmt.Errorf("figure %q: appears twice", f.Name))
		}
		seen[f.Name] = true
		if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) {
			errs = append(errs, fmt.Errorf("figure %q: value is %v, want a number (no runs produced it?)", f.Name, f.Value))
		}
		if math.IsNaN(f.CV) || math.IsInf(f.CV, 0) || f.CV < 0 {
			errs = append(errs, fmt.Errorf("figure %q: cv is %v, want a number ≥ 0 (a mean of 0 with varying runs has no cv)", f.Name, f.CV))
		}
	}
	return errors.Join(errs...)
}
