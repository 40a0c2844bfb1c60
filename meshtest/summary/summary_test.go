package summary

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/series"
)

func TestRead(t *testing.T) {
	data, err := (&File{Schema: Schema, SchemaVersion: Version, Run: "star-1"}).Marshal()
	require.NoError(t, err)
	s, err := Read(data)
	require.NoError(t, err)
	assert.Equal(t, "star-1", s.Run)

	for _, doc := range []string{
		`{"schema":"meshtest/summary","schema_version":0}`,
		`{"schema":"meshtest/summary","schema_version":99}`,
		`{"schema":"meshtest/baseline","schema_version":1}`,
	} {
		_, err := Read([]byte(doc))
		var se *SchemaError
		require.True(t, errors.As(err, &se), doc)
		assert.ErrorContains(t, err, "re-run the experiment to regenerate it", doc)
	}
	_, err = Read([]byte("{"))
	assert.Error(t, err)
}

// TestReadVersion1: a summary written before version 2 ("Mean", "P95",
// a "docker" section) still reads, into the version 2 fields.
func TestReadVersion1(t *testing.T) {
	v1 := `{"schema":"meshtest/summary","schema_version":1,"run":"star-1",
	  "docker":{"server_version":"20.10.24","api_version":"1.41"},
	  "roles":{"bootstrap":{"goroutines":{"N":3,"Mean":460,"Min":459,"P50":460,"P95":461,"Max":461,"Stddev":1}}},
	  "sweep":{"fits":{"bootstrap_goroutines":{"Slope":4,"Intercept":21,"R2":1,"N":4}}}}`
	s, err := Read([]byte(v1))
	require.NoError(t, err)
	assert.Equal(t, "docker", s.Backend.Backend)
	assert.Equal(t, "20.10.24", s.Backend.ServerVersion)
	assert.Equal(t, series.Stats{N: 3, Mean: 460, Min: 459, P50: 460, P95: 461, Max: 461, Stddev: 1}, s.Roles["bootstrap"]["goroutines"])
	assert.Equal(t, 4.0, s.Sweep.Fits["bootstrap_goroutines"].Slope)
}

// TestKeysAreSnakeCase: every key summary.json writes is snake_case, the
// one style of the document.
func TestKeysAreSnakeCase(t *testing.T) {
	f := &File{
		Schema: Schema, SchemaVersion: Version, Config: json.RawMessage(`{"interval_s":1}`),
		Images:      map[string]string{"meshnode": "meshtest-node:abc"},
		Convergence: Convergence{Roles: map[string]string{"bootstrap": ByPeerIDs}},
		Roles:       map[string]map[string]series.Stats{"peer": {"goroutines": series.Describe([]float64{1, 2})}},
		Spread:      map[string]map[string]series.Stats{},
		OverTime:    map[string]map[string][]RoundPoint{"peer": {"goroutines": {{Round: 0}}}},
		Sweep: &Sweep{Sizes: map[string]map[string]SweepFigure{"peers=10": {"b": {Mean: 1}}},
			Fits: map[string]series.Line{"x": {Slope: 1}}},
	}
	data, err := f.Marshal()
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc))
	// Maps keyed by data (roles, figures, groups, sizes, images) are not keys
	// of the schema; everything else must be lower-case snake.
	dataKeyed := map[string]bool{"images": true, "groups": true, "roles": true, "spread": true, "over_time": true, "sizes": true, "fits": true, "peer": true, "peers=10": true, "goroutines": true}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !dataKeyed[path] {
					for _, c := range k {
						if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
							t.Errorf("key %q (in %s) is not snake_case", k, path)
							break
						}
					}
				}
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		}
	}
	walk("", doc)
}
