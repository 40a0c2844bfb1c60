package workload

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteCSV(t *testing.T) {
	t0 := time.Unix(1000, 0)
	in := GossipInput{
		Messages: []Message{{ID: "m1", From: "a", At: t0.Add(time.Second)}},
		Deliveries: []Delivery{
			{Node: "c", ID: "m1", At: t0.Add(1500 * time.Millisecond), Duplicates: 2},
			{Node: "b", ID: "m1", At: t0.Add(1250 * time.Millisecond), Duplicates: -1},
			{Node: "b", ID: "old", At: t0.Add(100 * time.Millisecond), Duplicates: 0},
		},
	}
	var b strings.Builder
	require.NoError(t, WriteCSV(&b, in, t0))
	assert.Equal(t, `message,publisher,published_s,node,delivered_s,delay_s,duplicates
old,,,b,0.100000,,0
m1,a,1.000000,b,1.250000,0.250000,
m1,a,1.000000,c,1.500000,0.500000,2
`, b.String())
}
