package conditions

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshtest/meshtest/meshtest/shape"
)

func TestParseFiles(t *testing.T) {
	tests := []struct {
		file string
		want Conditions
	}{
		{"testdata/star.json", Conditions{
			Link:  link("latency=10ms"),
			Nodes: []NodeRule{{Select: "bootstrap", Up: link("latency=50ms"), Down: link("latency=50ms,rate=10mbit")}},
			Links: []LinkRule{{From: "peer-001", To: "bootstrap", Link: link("loss=1%"), Both: true}},
		}},
		{"testdata/regions.json", Conditions{
			Nodes: []NodeRule{{Select: "bootstrap", Up: link("rate=1gbit"), Down: link("rate=1gbit")}},
			Regions: Regions{
				Names:  []string{"eu", "us"},
				Links:  [][]shape.Link{{link("latency=2ms"), link("latency=40ms,loss=0.1%")}, {link("latency=40ms,loss=0.1%"), link("latency=2ms")}},
				Up:     []shape.Link{link("rate=50mbit"), link("rate=20mbit")},
				Down:   []shape.Link{link("rate=100mbit"), link("rate=50mbit")},
				Assign: []Assign{{Select: "bootstrap", Region: "us"}},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Load(tt.file)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// A file can take its regions from a GML graph beside it and still assign
// nodes and give them uplinks.
func TestParseGMLRegions(t *testing.T) {
	c, err := Load("testdata/world.json")
	require.NoError(t, err)
	world, err := Load("testdata/world-8.gml")
	require.NoError(t, err)
	assert.Equal(t, world.Regions.Names, c.Regions.Names)
	assert.Equal(t, world.Regions.Links, c.Regions.Links)
	assert.Equal(t, []Assign{{Select: "bootstrap", Region: "europe"}}, c.Regions.Assign)

	nodes := mesh(3)
	// The bootstrap in europe with its own 1 Gbit/s; peer-001 round-robin
	// in europe too (index 1), peer-002 in east_asia.
	assert.Equal(t, "latency=2ms,throughput=50mbit", c.Path(nodes[1], nodes[0]).String())
	p := c.Path(nodes[0], nodes[2])
	assert.Equal(t, "latency=125ms,throughput=50mbit", p.String())
	assert.Equal(t, int64(1e9), p.EgressRate)
	assert.Equal(t, int64(50e6), p.IngressRate)
}

func TestMarshal(t *testing.T) {
	star, err := Load("testdata/star.json")
	require.NoError(t, err)
	data, err := json.Marshal(star)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"link": "latency=10ms",
		"nodes": [{"select": "bootstrap", "up": "latency=50ms", "down": "latency=50ms,rate=10mbit"}],
		"links": [{"from": "peer-001", "to": "bootstrap", "link": "loss=1%", "both": true}]
	}`, string(data))

	regions, err := Load("testdata/regions.json")
	require.NoError(t, err)
	data, err = json.Marshal(regions.Regions.file())
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"names": ["eu", "us"],
		"latency": [["2ms", "40ms"], ["40ms", "2ms"]],
		"loss": [["0", "0.1%"], ["0.1%", "0"]],
		"up": ["rate=50mbit", "rate=20mbit"],
		"down": ["rate=100mbit", "rate=50mbit"],
		"assign": [{"select": "bootstrap", "region": "us"}]
	}`, string(data))

	data, err = json.Marshal(Conditions{})
	require.NoError(t, err)
	assert.Equal(t, "{}", string(data))

	data, err = json.Marshal(Conditions{Regions: Regions{Names: []string{"eu"}, Links: [][]shape.Link{{{}}}}})
	require.NoError(t, err)
	assert.Equal(t, `{"regions":{"names":["eu"],"latency":[["0"]],"assign":"round-robin"}}`, string(data))
}

// What Marshal writes, Parse reads back to the same value: summary.json
// holds conditions that can be run again.
func TestMarshalRoundTrip(t *testing.T) {
	var cs []Conditions
	for _, f := range []string{"testdata/star.json", "testdata/regions.json", "testdata/world.json", "testdata/world-8.gml", "testdata/triangle.gml"} {
		c, err := Load(f)
		require.NoError(t, err, f)
		cs = append(cs, c)
	}
	cs = append(cs, Conditions{
		Link: shape.Link{Latency: 1500 * time.Microsecond, Jitter: 3, Loss: 0.07, Rate: 1_500_000},
		Nodes: []NodeRule{
			{Select: "*", Up: shape.Link{Loss: 1e-7}},
			{Select: "peer-0[0-4]*", Down: shape.Link{Loss: 1.0 / 3, Rate: 8_001}},
		},
		Links: []LinkRule{{From: "a", To: "b"}, {From: "b", To: "c", Link: shape.Link{Loss: 1}, Both: true}},
	})
	for i, c := range cs {
		data, err := json.MarshalIndent(c, "", "  ")
		require.NoError(t, err)
		back, err := Parse(strings.NewReader(string(data)), "summary.json")
		require.NoError(t, err, "%d: %s", i, data)
		assert.Equal(t, c, back, "%d: %s", i, data)

		var v struct {
			Conditions Conditions `json:"conditions"`
		}
		v.Conditions = c
		data, err = json.Marshal(v)
		require.NoError(t, err)
		v.Conditions = Conditions{}
		require.NoError(t, json.Unmarshal(data, &v))
		assert.Equal(t, c, v.Conditions)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string // a file under testdata/bad, or the JSON itself
		want []string
	}{
		{"unknown-field.json", "", []string{
			`conditions testdata/bad/unknown-field.json: unknown field "region"; the fields are link, links, nodes, regions`,
			`conditions testdata/bad/unknown-field.json: nodes[0]: unknown field "uplink"; the fields are down, select, up`,
		}},
		{"link.json", "", []string{
			`conditions testdata/bad/link.json: nodes[0].up: parse link "latency=5ms,jitter=10ms": link.jitter: 10ms exceeds latency 5ms`,
			`conditions testdata/bad/link.json: nodes[0].down: parse link "rate=10mbps": rate "10mbps": ambiguous`,
			`conditions testdata/bad/link.json: links[0].link: parse link "loss=5": loss "5": a fraction must be in 0..1; write 5% for 5 percent`,
		}},
		{"syntax.json", "", []string{
			`conditions testdata/bad/syntax.json: line 3, column 36: invalid character '"' after object key:value pair`,
		}},
		{"regions.json", "", []string{
			`conditions testdata/bad/regions.json: link: latency=10ms has no effect with regions`,
			`conditions testdata/bad/regions.json: regions.links[eu][us].jitter: 50ms exceeds latency 40ms`,
			`conditions testdata/bad/regions.json: regions.assign[0].region: "asia" is not a region; use one of eu, us`,
		}},
		{"not an object", `[]`, []string{"conditions testdata/inline.json: want an object {…}, got a list"}},
		{"empty", ``, []string{"conditions testdata/inline.json: the file ends before its JSON object does"}},
		{"cut short", `{"link": "latency=1ms"`, []string{"the file ends before its JSON object does"}},
		{"two objects", "{}\n{}", []string{"conditions testdata/inline.json: line 2, column 1: more after the JSON object"}},
		{"nodes not a list", `{"nodes": {}}`, []string{"nodes: want a list, got an object"}},
		{"a number for a selector", `{"links": [{"from": 1, "to": "b", "both": "yes"}]}`, []string{
			"links[0].both: want true or false, got a string",
			"links[0].from: want a string, got a number",
		}},
		{"validated", `{"links": [{"from": "a", "to": ""}]}`, []string{"links[0].to: empty"}},
		{"regions without names", `{"regions": {"latency": [["1ms"]]}}`, []string{"regions.names: missing"}},
		{"regions without latency", `{"regions": {"names": ["eu"]}}`, []string{"regions.latency: missing"}},
		{"a short row", `{"regions": {"names": ["eu", "us"], "latency": [["1ms", "2ms"], ["2ms"]]}}`, []string{
			"regions.latency[1]: 1 entries for 2 regions",
		}},
		{"too many rows", `{"regions": {"names": ["eu"], "latency": [["1ms"]], "rate": [["1mbit"], ["1mbit"]]}}`, []string{
			"regions.rate: 2 rows for 1 regions",
		}},
		{"a bad cell", `{"regions": {"names": ["eu"], "latency": [["1x"]], "loss": [["5"]]}}`, []string{
			`regions.latency[0][0]: duration "1x": want a number with a unit`,
			`regions.loss[0][0]: loss "5": a fraction must be in 0..1`,
		}},
		{"up of the wrong length", `{"regions": {"names": ["eu"], "latency": [["1ms"]], "up": ["rate=1mbit", "rate=2mbit"]}}`, []string{
			"regions.up: 2 links for 1 regions",
		}},
		{"gml and names", `{"regions": {"gml": "../world-8.gml", "names": ["eu"]}}`, []string{
			"regions: gml names a graph that gives the regions; leave out names",
		}},
		{"gml missing", `{"regions": {"gml": "nope.gml"}}`, []string{
			"regions.gml: open testdata/nope.gml: no such file or directory",
		}},
		{"gml broken", `{"regions": {"gml": "bad/no-unit.gml"}}`, []string{
			`regions.gml: testdata/bad/no-unit.gml: read gml: line 4: edge: latency: "50" has no unit`,
		}},
		{"assign", `{"regions": {"names": ["eu"], "latency": [["1ms"]], "assign": "random"}}`, []string{
			`regions.assign: "random": want "round-robin" or a list`,
		}},
		{"assign entry", `{"regions": {"names": ["eu"], "latency": [["1ms"]], "assign": [{"select": "a", "region": "eu", "weight": 2}]}}`, []string{
			`regions.assign[0]: unknown field "weight"; the fields are region, select`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.in == "" && strings.HasSuffix(tt.name, ".json") {
				_, err = Load("testdata/bad/" + tt.name)
			} else {
				_, err = Parse(strings.NewReader(tt.in), "testdata/inline.json")
			}
			require.Error(t, err)
			assertLines(t, err, tt.want)
		})
	}
}

func TestReadAllLimit(t *testing.T) {
	data, err := readAll(strings.NewReader(strings.Repeat(" ", 2<<20)), 2<<20)
	require.NoError(t, err)
	assert.Len(t, data, 2<<20)
	_, err = readAll(strings.NewReader(strings.Repeat(" ", 2<<20+1)), 2<<20)
	assert.EqualError(t, err, "larger than 2 MiB; is it the right file?")
}

func TestLoad(t *testing.T) {
	c, err := Load("testdata/world-8.gml")
	require.NoError(t, err)
	assert.Len(t, c.Regions.Names, 8)
	assert.Empty(t, c.Regions.Assign, "round-robin")
	assert.True(t, c.Link.IsZero())

	_, err = Load("testdata/nope.json")
	assert.ErrorContains(t, err, "load conditions: open testdata/nope.json: no such file or directory")
	_, err = Load("testdata/bad/disconnected.gml")
	assert.ErrorContains(t, err, "conditions testdata/bad/disconnected.gml: read gml: no path from eu to asia")

	// A GML graph that reads is still validated.
	dir := t.TempDir()
	path := dir + "/jitter.GML"
	require.NoError(t, os.WriteFile(path, []byte(`graph [ node [ id 0 label "a" ] node [ id 1 label "b" ] edge [ source 0 target 1 latency "1 ms" jitter "5 ms" ] ]`), 0o644))
	_, err = Load(path)
	require.Error(t, err)
	assertLines(t, err, []string{
		"conditions " + path + ": regions.links[a][b].jitter: 5ms exceeds latency 1ms",
		"conditions " + path + ": regions.links[b][a].jitter: 5ms exceeds latency 1ms",
	})
}
