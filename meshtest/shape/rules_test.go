package shape

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestRulesValidate(t *testing.T) {
	ok := Rules{
		EgressRate: 100_000_000, IngressRate: 50_000_000, EgressLoss: 0.01,
		To: []RateRule{{Dst: addrs("10.0.0.2", "10.0.0.3"), Rate: 5_000_000}, {Dst: addrs("10.0.0.4"), Rate: 200_000_000}},
		From: []PathRule{
			{Src: addrs("10.0.0.2"), Latency: 20 * time.Millisecond, Jitter: 2 * time.Millisecond},
			{Src: addrs("10.0.0.3"), Loss: 1},
			{Src: addrs("10.0.0.9")}, // named and untouched: exempt from the last rule
			{Latency: 50 * time.Millisecond, Loss: 0.02},
		},
	}
	require.NoError(t, ok.Validate())
	require.NoError(t, Rules{}.Validate())

	tests := []struct {
		name string
		r    Rules
		want []string
	}{
		{"loss over one", Rules{From: []PathRule{{}, {}, {Src: addrs("10.0.0.1"), Loss: 5}}}, []string{"from[2].loss: 5 is not a probability", "1% for one percent"}},
		{"jitter over latency", Rules{From: []PathRule{{Src: addrs("10.0.0.1"), Latency: time.Millisecond, Jitter: 2 * time.Millisecond}}}, []string{"from[0].jitter: 2ms exceeds latency 1ms"}},
		{"latency too long", Rules{From: []PathRule{{Latency: time.Minute}}}, []string{"from[0].latency: 1m0s exceeds 10s"}},
		{"catch-all not last", Rules{From: []PathRule{{Latency: time.Millisecond}, {Src: addrs("10.0.0.1")}}}, []string{"from[0].src: empty", "move it to the end"}},
		{"ipv6 source", Rules{From: []PathRule{{Src: addrs("10.0.0.1", "2001:db8::1")}}}, []string{"from[0].src[1]: 2001:db8::1 is IPv6", "IPv4"}},
		{"zero source", Rules{From: []PathRule{{Src: []netip.Addr{{}}}}}, []string{"from[0].src[0]: not an address"}},
		{"ipv6 destination", Rules{To: []RateRule{{Dst: addrs("::1"), Rate: 1_000_000}}}, []string{"to[0].dst[0]: ::1 is IPv6"}},
		{"no rate", Rules{To: []RateRule{{Dst: addrs("10.0.0.1")}}}, []string{"to[0].rate: 0 bit/s", "above 0"}},
		{"tiny rate", Rules{To: []RateRule{{Dst: addrs("10.0.0.1"), Rate: 10}}}, []string{"to[0].rate: 10 bit/s is below the minimum 8kbit"}},
		{"no destination", Rules{To: []RateRule{{Rate: 1_000_000}}}, []string{"to[0].dst: empty"}},
		{"destination twice", Rules{To: []RateRule{{Dst: addrs("10.0.0.1"), Rate: 1_000_000}, {Dst: addrs("10.0.0.2", "10.0.0.1"), Rate: 2_000_000}}},
			[]string{"to[1].dst[1]: 10.0.0.1 is already in to[0]"}},
		{"negative uplink", Rules{EgressRate: -1}, []string{"egress_rate: -1 bit/s is negative"}},
		{"ingress too fast", Rules{IngressRate: 2 * MaxRate}, []string{"ingress_rate: 200gbit exceeds 100gbit"}},
		{"egress loss NaN", Rules{EgressLoss: math.NaN()}, []string{"egress_loss: NaN is not a probability"}},
		{"every problem listed", Rules{EgressRate: -1, From: []PathRule{{Loss: -1}}}, []string{"egress_rate", "from[0].loss"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	t.Run("too many delay classes", func(t *testing.T) {
		var r Rules
		for i := range MaxDelayClasses + 1 {
			r.From = append(r.From, PathRule{Src: addrs(fmt.Sprintf("10.1.%d.1", i)), Latency: time.Duration(i+1) * time.Millisecond})
		}
		err := r.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf("from: %d distinct (latency, jitter) pairs exceed %d", MaxDelayClasses+1, MaxDelayClasses))
		r.From = r.From[:MaxDelayClasses]
		require.NoError(t, r.Validate())
	})
}

func TestCompileFrom(t *testing.T) {
	ms := time.Millisecond
	p := compileFrom([]PathRule{
		{Src: addrs("10.0.0.1", "10.0.0.2"), Latency: 20 * ms},
		{Src: addrs("10.0.0.2", "10.0.0.3"), Latency: 50 * ms, Loss: 0.1}, // .2 is the first rule's
		{Src: addrs("::ffff:10.0.0.4"), Loss: 1, Latency: 30 * ms},        // a cut delays nothing
		{Src: addrs("10.0.0.5"), Latency: 20 * ms, Loss: 0.1},             // shares a class and a loss group
		{Src: addrs("10.0.0.6")},                                          // named, untouched
		{Latency: 50 * ms},                                                // every other source
	})
	assert.Equal(t, addrs("10.0.0.4"), p.cut, "cut, unmapped")
	require.Len(t, p.loss, 1)
	assert.Equal(t, lossGroup{p: 0.1, src: addrs("10.0.0.3", "10.0.0.5")}, p.loss[0])
	require.Len(t, p.classes, 2)
	assert.Equal(t, delayClass{key: delayKey{20 * ms, 0}, src: addrs("10.0.0.1", "10.0.0.2", "10.0.0.5")}, p.classes[0])
	assert.Equal(t, delayClass{key: delayKey{50 * ms, 0}, src: addrs("10.0.0.3"), rest: true}, p.classes[1])
	assert.Equal(t, addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"), p.named)
	require.NotNil(t, p.rest)
	assert.Equal(t, restPlan{class: 1}, *p.rest)
	assert.False(t, p.empty())

	// Without a rule for every source, sources no rule names are not
	// listed: they pass untouched by default.
	p = compileFrom([]PathRule{{Src: addrs("10.0.0.1"), Loss: 1}})
	assert.Nil(t, p.named)
	assert.Nil(t, p.rest)
	assert.True(t, compileFrom(nil).empty())
	assert.True(t, compileFrom([]PathRule{{Src: addrs("10.0.0.1")}}).empty(), "a rule that changes nothing")
	p = compileFrom([]PathRule{{Loss: 1, Latency: 5 * ms}})
	assert.Equal(t, restPlan{cut: true, class: -1}, *p.rest)
	assert.Empty(t, p.classes)
}

func TestShapeRules(t *testing.T) {
	s := Shape{Egress: Link{Rate: 10_000_000, Loss: 0.01}, Ingress: Link{Latency: 50 * time.Millisecond, Jitter: time.Millisecond, Rate: 5_000_000}}
	r := s.Rules()
	assert.Equal(t, Rules{EgressRate: 10_000_000, IngressRate: 5_000_000, EgressLoss: 0.01,
		From: []PathRule{{Latency: 50 * time.Millisecond, Jitter: time.Millisecond}}}, r)
	require.NoError(t, r.Validate())
	p := compileFrom(r.From)
	require.NotNil(t, p.rest)
	assert.Equal(t, 0, p.rest.class, "the whole ingress is one class for every source")
	assert.True(t, Shape{}.Rules().IsZero())
}

func TestPlanHTB(t *testing.T) {
	// Without an uplink the parent is MaxRate and each class is limited to
	// exactly its rule's rate.
	p := planHTB(0, []RateRule{{Dst: addrs("10.0.0.1"), Rate: 5_000_000}, {Dst: addrs("::ffff:10.0.0.2"), Rate: 10_000_000}})
	assert.Equal(t, int64(MaxRate), p.parent)
	require.Len(t, p.children, 2)
	assert.Equal(t, htbRate{5_000_000, 5_000_000}, p.children[0].htbRate)
	assert.Equal(t, htbRate{10_000_000, 10_000_000}, p.children[1].htbRate)
	assert.Equal(t, addrs("10.0.0.2"), p.children[1].dst)

	// Under a 10 Mbit/s uplink the guarantees share it and never sum above
	// it; each class may borrow up to its rate, capped by the uplink.
	p = planHTB(10_000_000, []RateRule{{Dst: addrs("10.0.0.1"), Rate: 8_000_000}, {Dst: addrs("10.0.0.2"), Rate: 20_000_000}})
	sum := p.dflt.rate
	for _, c := range p.children {
		sum += c.rate
		assert.LessOrEqual(t, c.rate, c.ceil)
	}
	assert.LessOrEqual(t, sum, int64(10_000_000))
	assert.Equal(t, int64(8_000_000), p.children[0].ceil)
	assert.Equal(t, int64(10_000_000), p.children[1].ceil, "capped by the uplink")
	assert.Equal(t, htbRate{10_000_000, 10_000_000}, planHTB(10_000_000, nil).dflt, "an uplink alone is one class at rate = ceil, as before")
}

// The JSON form is what the harness sends to a helper: durations in
// nanoseconds under _ns names, addresses as strings.
func TestRulesJSON(t *testing.T) {
	r := Rules{EgressRate: 10_000_000, To: []RateRule{{Dst: addrs("172.18.0.3"), Rate: 5_000_000}},
		From: []PathRule{{Src: addrs("172.18.0.3", "172.18.0.4"), Latency: 25 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.01}, {Loss: 1}}}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"egress_rate":10000000,"to":[{"dst":["172.18.0.3"],"rate":5000000}],
		"from":[{"src":["172.18.0.3","172.18.0.4"],"latency_ns":25000000,"jitter_ns":1000000,"loss":0.01},{"loss":1}]}`, string(b))
	var back Rules
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r, back)
}
