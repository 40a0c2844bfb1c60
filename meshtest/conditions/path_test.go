package conditions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/meshtest/meshtest/meshtest/shape"
)

func TestPathComposition(t *testing.T) {
	nodes := mesh(3)
	boot, p1, p2 := nodes[0], nodes[1], nodes[2]
	tests := []struct {
		name     string
		c        Conditions
		from, to Node
		want     Path
		rtt      time.Duration
		rtLoss   float64
	}{
		{"nothing", Conditions{}, p1, boot, Path{}, 0, 0},
		{"the flags: one-way latency on every link", Conditions{Link: link("latency=50ms,rate=10mbit")}, p1, p2,
			Path{Latency: ms(50), LinkRate: 10e6, Throughput: 10e6}, ms(100), 0},
		{"uplink and downlink add to the link", Conditions{
			Link:  link("latency=10ms,jitter=1ms"),
			Nodes: []NodeRule{{Select: "bootstrap", Up: link("latency=50ms,jitter=5ms"), Down: link("latency=20ms")}},
		}, boot, p1, Path{Latency: ms(60), Jitter: ms(6)}, ms(60 + 30), 0},
		{"the other way, the bootstrap's downlink", Conditions{
			Link:  link("latency=10ms,jitter=1ms"),
			Nodes: []NodeRule{{Select: "bootstrap", Up: link("latency=50ms,jitter=5ms"), Down: link("latency=20ms")}},
		}, p1, boot, Path{Latency: ms(30), Jitter: ms(1)}, ms(30 + 60), 0},
		{"a loss in one place is exact", Conditions{Nodes: []NodeRule{{Select: "peer", Down: link("loss=1%")}}}, boot, p1,
			Path{Loss: 0.01}, 0, 0.01},
		{"losses compose", Conditions{
			Link:  link("loss=1%"),
			Nodes: []NodeRule{{Select: "*", Up: link("loss=2%"), Down: link("loss=3%")}},
		}, p1, p2, Path{Loss: 1 - 0.98*0.99*0.97}, 0, 1 - (0.98*0.99*0.97)*(0.98*0.99*0.97)},
		{"throughput: the smallest rate set", Conditions{
			Link:  link("rate=10mbit"),
			Nodes: []NodeRule{{Select: "peer-001", Up: link("rate=5mbit")}, {Select: "bootstrap", Down: link("rate=100mbit")}},
		}, p1, boot, Path{LinkRate: 10e6, EgressRate: 5e6, IngressRate: 100e6, Throughput: 5e6}, 0, 0},
		{"throughput: unlimited link, limited downlink", Conditions{
			Nodes: []NodeRule{{Select: "bootstrap", Down: link("rate=100mbit")}},
		}, p1, boot, Path{IngressRate: 100e6, Throughput: 100e6}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.Path(tt.from, tt.to)
			assert.Equal(t, tt.want.Latency, got.Latency)
			assert.Equal(t, tt.want.Jitter, got.Jitter)
			assert.InDelta(t, tt.want.Loss, got.Loss, 1e-15)
			got.Loss, tt.want.Loss = 0, 0
			assert.Equal(t, tt.want, got)
			back := tt.c.Path(tt.to, tt.from)
			assert.Equal(t, tt.rtt, RTT(got, back))
			assert.InDelta(t, tt.rtLoss, RoundTripLoss(tt.c.Path(tt.from, tt.to), back), 1e-15)
		})
	}
}

func TestPathPrecedence(t *testing.T) {
	nodes := mesh(4)
	boot, p1, p2, p3 := nodes[0], nodes[1], nodes[2], nodes[3]
	regions := Regions{
		Names: []string{"eu", "us"},
		Links: [][]shape.Link{
			{link("latency=2ms"), link("latency=40ms,loss=0.1%")},
			{link("latency=45ms"), link("latency=3ms")},
		},
		Up:   []shape.Link{link("rate=50mbit"), link("rate=20mbit")},
		Down: []shape.Link{link("rate=100mbit"), {}},
	}
	tests := []struct {
		name     string
		c        Conditions
		from, to Node
		want     string // Path.String
	}{
		{"default", Conditions{Link: link("latency=10ms")}, p1, p2, "latency=10ms"},
		{"a link rule replaces the default", Conditions{
			Link:  link("latency=10ms"),
			Links: []LinkRule{{From: "peer-001", To: "peer-002", Link: link("loss=1%")}},
		}, p1, p2, "loss=1%"},
		{"only in its direction", Conditions{
			Link:  link("latency=10ms"),
			Links: []LinkRule{{From: "peer-001", To: "peer-002", Link: link("loss=1%")}},
		}, p2, p1, "latency=10ms"},
		{"both directions", Conditions{
			Link:  link("latency=10ms"),
			Links: []LinkRule{{From: "peer-001", To: "peer-002", Link: link("loss=1%"), Both: true}},
		}, p2, p1, "loss=1%"},
		{"the last matching link rule wins", Conditions{Links: []LinkRule{
			{From: "peer", To: "*", Link: link("latency=5ms")},
			{From: "peer-001", To: "bootstrap", Link: link("latency=7ms")},
			{From: "peer-002", To: "bootstrap", Link: link("latency=9ms")},
		}}, p1, boot, "latency=7ms"},
		{"a later, broader rule wins too", Conditions{Links: []LinkRule{
			{From: "peer-001", To: "bootstrap", Link: link("latency=7ms")},
			{From: "*", To: "*", Link: link("latency=5ms")},
		}}, p1, boot, "latency=5ms"},
		{"a zero link rule takes the default away", Conditions{
			Link:  link("latency=10ms"),
			Links: []LinkRule{{From: "bootstrap", To: "*", Link: shape.Link{}, Both: true}},
		}, p3, boot, "none"},
		{"the last node rule wins, whole", Conditions{Nodes: []NodeRule{
			{Select: "peer", Up: link("latency=5ms"), Down: link("latency=1ms")},
			{Select: "peer-001", Up: link("latency=20ms")},
		}}, p1, p2, "latency=21ms"},
		{"regions: round-robin by index", Conditions{Regions: regions}, boot, p1, "latency=40ms,loss=0.1%,throughput=50mbit"},
		{"regions: back", Conditions{Regions: regions}, p1, boot, "latency=45ms,throughput=20mbit"},
		{"regions: within one", Conditions{Regions: regions}, p1, p3, "latency=3ms,throughput=20mbit"},
		{"regions: the smaller of uplink and downlink", Conditions{Regions: regions}, p1, p2, "latency=45ms,throughput=20mbit"},
		{"regions: assigned", Conditions{Regions: withAssign(regions, Assign{"peer-003", "eu"})}, p2, p3, "latency=2ms,throughput=50mbit"},
		{"regions: the last assignment wins", Conditions{Regions: withAssign(regions, Assign{"peer", "eu"}, Assign{"peer-003", "us"})}, p2, p3, "latency=40ms,loss=0.1%,throughput=50mbit"},
		{"regions: a node rule replaces the region's uplink and downlink", Conditions{
			Regions: regions,
			Nodes:   []NodeRule{{Select: "bootstrap", Up: link("latency=1ms")}},
		}, boot, p1, "latency=41ms,loss=0.1%"},
		{"regions: a link rule replaces the regions' link", Conditions{
			Regions: regions,
			Links:   []LinkRule{{From: "bootstrap", To: "peer-001", Link: link("latency=1ms")}},
		}, boot, p1, "latency=1ms,throughput=50mbit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.c.Path(tt.from, tt.to).String())
		})
	}
}

func withAssign(r Regions, as ...Assign) Regions {
	r.Assign = as
	return r
}

// More than 64 link rules take more than one word of the bit sets.
func TestPathManyLinkRules(t *testing.T) {
	nodes := mesh(200)
	var c Conditions
	for i := 1; i < 200; i++ {
		c.Links = append(c.Links, LinkRule{From: nodes[i].Name, To: "bootstrap", Link: shape.Link{Latency: time.Duration(i) * time.Millisecond}})
	}
	c.Links = append(c.Links, LinkRule{From: "peer-07*", To: "bootstrap", Link: link("latency=1s")})
	net := c.resolve(nodes)
	for i := 1; i < 200; i++ {
		want := time.Duration(i) * time.Millisecond
		if i >= 70 && i < 80 {
			want = time.Second
		}
		assert.Equal(t, want, net.path(i, 0).Latency, "peer %d", i)
		assert.Equal(t, want, c.Path(nodes[i], nodes[0]).Latency, "peer %d", i)
		assert.Zero(t, net.path(0, i).Latency, "peer %d, the other way", i)
	}
}

func TestPathInvalidRegionsDoNotPanic(t *testing.T) {
	c := Conditions{Regions: Regions{Names: []string{"eu", "us"}, Links: [][]shape.Link{{link("latency=1ms")}}}}
	nodes := mesh(2)
	assert.Equal(t, ms(1), c.Path(nodes[0], nodes[0]).Latency)
	assert.Equal(t, Path{}, c.Path(nodes[0], nodes[1]))
}

func TestPathString(t *testing.T) {
	assert.Equal(t, "none", Path{}.String())
	assert.Equal(t, "throughput=10mbit", Path{LinkRate: 10e6, Throughput: 10e6}.String())
	assert.Equal(t, "latency=50ms,jitter=5ms,loss=7%,throughput=1gbit", Path{Latency: ms(50), Jitter: ms(5), Loss: 0.07, Throughput: 1e9}.String())
}
