package metrics

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExtract(t *testing.T) {
	full := loadPayload(t, "node-full.txt")
	filtered := loadPayload(t, "node-filtered.txt")
	wantDefault := map[string]float64{
		"goroutines":          50,
		"heap_inuse_bytes":    3735552,
		"rss_bytes":           24752128,
		"open_fds":            13,
		"process_cpu_seconds": 0.06,
		"connections":         1,
		"peers":               1,
		"streams":             2,
	}
	// A node without the meshnode_* gauges: any client_golang program.
	plain := Families{}
	for name, mf := range full {
		if name != "meshnode_connections" && name != "meshnode_peers" && name != "meshnode_streams" {
			plain[name] = mf
		}
	}

	tests := []struct {
		name        string
		fams        Families
		qs          []Query
		want        map[string]float64
		wantMissing []string
	}{
		{"defaults on filtered payload", filtered, DefaultQueries(), wantDefault, nil},
		{"defaults on full payload", full, DefaultQueries(), wantDefault, nil},
		{
			"node without meshnode gauges", plain, DefaultQueries(),
			map[string]float64{"goroutines": 50, "heap_inuse_bytes": 3735552, "rss_bytes": 24752128, "open_fds": 13, "process_cpu_seconds": 0.06},
			[]string{"connections", "peers", "streams"},
		},
		{
			"label filters", full,
			[]Query{
				{Name: "conns_in", Family: "libp2p_swarm_connections_opened_total", Labels: map[string]string{"dir": "inbound"}},
				{Name: "conns_quic", Family: "libp2p_swarm_connections_opened_total", Labels: map[string]string{"transport": "quic-v1"}},
				{Name: "dial_hist", Family: "libp2p_identify_addrs_received"},
			},
			map[string]float64{"conns_in": 1},
			[]string{"conns_quic", "dial_hist"},
		},
		{"empty payload", Families{}, DefaultQueries()[:2], map[string]float64{}, []string{"goroutines", "heap_inuse_bytes"}},
		{"no queries", full, nil, map[string]float64{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := Extract(tt.fams, tt.qs)
			assert.InDeltaMapValues(t, tt.want, got, 1e-9)
			assert.Len(t, got, len(tt.want))
			assert.Equal(t, tt.wantMissing, missing)
		})
	}
}

func TestFamilyNames(t *testing.T) {
	qs := append(DefaultQueries(),
		Query{Name: "conns_in", Family: "libp2p_swarm_connections_opened_total", Labels: map[string]string{"dir": "inbound"}},
		Query{Name: "conns_out", Family: "libp2p_swarm_connections_opened_total", Labels: map[string]string{"dir": "outbound"}},
	)
	assert.Equal(t, []string{
		"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_open_fds",
		"process_cpu_seconds_total", "meshnode_connections", "meshnode_peers", "meshnode_streams",
		"libp2p_swarm_connections_opened_total",
	}, FamilyNames(qs))
	assert.Empty(t, FamilyNames(nil))
}

func TestDefaultQueriesIsAFreshSlice(t *testing.T) {
	a := DefaultQueries()
	a[0].Family = "changed"
	assert.Equal(t, "go_goroutines", DefaultQueries()[0].Family)
}

func TestFilterURL(t *testing.T) {
	tests := []struct {
		base  string
		names []string
		want  string
	}{
		{"http://10.0.0.2:9100/metrics", []string{"go_goroutines"}, "http://10.0.0.2:9100/metrics?name[]=go_goroutines"},
		{"http://h/metrics", []string{"a", "b"}, "http://h/metrics?name[]=a&name[]=b"},
		{"http://h/metrics?x=1", []string{"a"}, "http://h/metrics?x=1&name[]=a"},
		{"http://h/metrics?", []string{"a"}, "http://h/metrics?name[]=a"},
		{"http://h/metrics", []string{"odd name&x"}, "http://h/metrics?name[]=odd+name%26x"},
		{"http://h/metrics", nil, "http://h/metrics"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FilterURL(tt.base, tt.names), "FilterURL(%q, %q)", tt.base, tt.names)
	}
}

func TestQueryJSON(t *testing.T) {
	want := Query{Name: "connections", Family: "libp2p_rcmgr_connections", Labels: map[string]string{"scope": "system"}}
	for _, tt := range []struct{ name, doc string }{
		{"snake_case keys", `{"name":"connections","family":"libp2p_rcmgr_connections","labels":{"scope":"system"}}`},
		// Spec files written before the struct had tags.
		{"field names", `{"Name":"connections","Family":"libp2p_rcmgr_connections","Labels":{"scope":"system"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got Query
			dec := json.NewDecoder(strings.NewReader(tt.doc))
			dec.DisallowUnknownFields() // as spec files are read
			require.NoError(t, dec.Decode(&got))
			assert.Equal(t, want, got)
		})
	}

	b, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"connections","family":"libp2p_rcmgr_connections","labels":{"scope":"system"}}`, string(b))
	b, err = json.Marshal(Query{Name: "goroutines", Family: "go_goroutines"})
	require.NoError(t, err)
	assert.Equal(t, `{"name":"goroutines","family":"go_goroutines"}`, string(b), "nil labels are left out")
}
