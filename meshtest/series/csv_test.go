package series

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const starCSV = `round,elapsed_s,node,role,connections,cpu_cores,mem_bytes
0,0,bootstrap,bootstrap,3,0.125,100
0,0,peer-1,peer,1,,10
0,0,peer-2,peer,1,,20
0,0,peer-10,peer,1,,30
1,1.0015,bootstrap,bootstrap,3,0.25,110
1,1.0015,peer-1,peer,1,,12
1,1.0015,peer-2,peer,0,,22
1,1.0015,peer-10,peer,1,,
2,2,bootstrap,bootstrap,2,0.5,120
2,2,peer-1,peer,1,,14
2,2,peer-2,peer,1,,24
2,2,peer-10,peer,1,,36
`

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, star().WriteCSV(&buf))
	assert.Equal(t, starCSV, buf.String())
}

func TestWriteCSVSortsRows(t *testing.T) {
	r := star()
	// Reverse the samples: the CSV must not depend on sampling order, and
	// writing must not reorder the caller's slice.
	for i, j := 0, len(r.Samples)-1; i < j; i, j = i+1, j-1 {
		r.Samples[i], r.Samples[j] = r.Samples[j], r.Samples[i]
	}
	first := r.Samples[0]
	var buf bytes.Buffer
	require.NoError(t, r.WriteCSV(&buf))
	assert.Equal(t, starCSV, buf.String())
	assert.Equal(t, first, r.Samples[0])
}

func TestCSVRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  *Table
	}{
		{"star with missing values", star()},
		{"empty", &Table{}},
		{"awkward names and values", &Table{Samples: []Sample{
			{Round: 0, Elapsed: 1234567891 * time.Nanosecond, Node: `relay "eu", 1`, Role: "relay,eu",
				Values: map[string]float64{"mem_bytes": 36e6 + 0.5, "cpu, cores": 1e-9, "neg": -2.75}},
			{Round: 7, Elapsed: 7*time.Hour + 1, Node: "peer-1", Role: "peer",
				Values: map[string]float64{"mem_bytes": math.MaxFloat64}},
			{Round: 8, Elapsed: 8 * time.Hour, Node: "peer-1", Role: "peer", Values: map[string]float64{}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tt.rec.WriteCSV(&buf))
			got, err := ReadCSV(&buf)
			require.NoError(t, err)
			// The CSV does not carry the interval.
			want := &Table{Samples: tt.rec.Samples}
			assert.Equal(t, want.Samples, got.Samples)
			assert.Zero(t, got.Interval)
		})
	}
}

func TestCSVNaN(t *testing.T) {
	r := &Table{Samples: []Sample{{Node: "a", Role: "peer", Values: map[string]float64{"x": math.NaN()}}}}
	var buf bytes.Buffer
	require.NoError(t, r.WriteCSV(&buf))
	assert.Equal(t, "round,elapsed_s,node,role,x\n0,0,a,peer,NaN\n", buf.String())
	got, err := ReadCSV(&buf)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(got.Samples[0].Values["x"]))
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty input", "", "empty input"},
		{"short header", "round,elapsed_s\n", "want at least"},
		{"wrong column", "round,elapsed,node,role\n", `column 2 is "elapsed", want "elapsed_s"`},
		{"repeated figure", "round,elapsed_s,node,role,x,x\n", `"x" is empty or repeated`},
		{"empty figure", "round,elapsed_s,node,role,\n", `"" is empty or repeated`},
		{"bad round", "round,elapsed_s,node,role,x\n0,0,a,peer,1\none,0,a,peer,1\n", "line 3: round"},
		{"bad elapsed", "round,elapsed_s,node,role,x\n0,soon,a,peer,1\n", "line 2: elapsed_s"},
		{"bad value", "round,elapsed_s,node,role,x\n0,0,a,peer,lots\n", "line 2: x"},
		{"missing cell", "round,elapsed_s,node,role,x\n0,0,a,peer\n", "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
