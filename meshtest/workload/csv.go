package workload

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// WriteCSV writes every delivery of in as one row, the raw data behind
// Gossip's figures: message, publisher, published_s and delivered_s
// (seconds since origin, the start of the window), delay_s, node and
// duplicates. A delivery of a message not in in.Messages has an empty
// publisher, published_s and delay_s; unknown duplicates (-1) are an
// empty cell. Rows are in delivery order, then node order.
func WriteCSV(w io.Writer, in GossipInput, origin time.Time) error {
	pub := map[string]Message{}
	for _, m := range in.Messages {
		if _, seen := pub[m.ID]; !seen {
			pub[m.ID] = m
		}
	}
	ds := slices.Clone(in.Deliveries)
	slices.SortStableFunc(ds, func(a, b Delivery) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Node, b.Node), cmp.Compare(a.ID, b.ID))
	})
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"message", "publisher", "published_s", "node", "delivered_s", "delay_s", "duplicates"}); err != nil {
		return fmt.Errorf("deliveries csv: %w", err)
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }
	for _, d := range ds {
		row := []string{d.ID, "", "", d.Node, secs(d.At.Sub(origin)), "", ""}
		if m, ok := pub[d.ID]; ok {
			row[1], row[2], row[5] = m.From, secs(m.At.Sub(origin)), secs(d.At.Sub(m.At))
		}
		if d.Duplicates >= 0 {
			row[6] = strconv.Itoa(d.Duplicates)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("deliveries csv: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}
