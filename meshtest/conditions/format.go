package conditions

import (
	"strconv"
	"strings"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

// formatLink writes l as shape.ParseLink reads it, as shape.Link.String
// does, but with the shortest loss that reads back exactly: String prints a
// loss of 0.07 as "7.000000000000001%".
func formatLink(l shape.Link) string {
	var parts []string
	if l.Latency != 0 {
		parts = append(parts, "latency="+l.Latency.String())
	}
	if l.Jitter != 0 {
		parts = append(parts, "jitter="+l.Jitter.String())
	}
	if l.Loss != 0 {
		parts = append(parts, "loss="+formatLoss(l.Loss))
	}
	if l.Rate != 0 {
		parts = append(parts, "rate="+shape.FormatRate(l.Rate))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// formatLoss writes a loss as a percentage with the fewest decimals (up to
// six) that read back to exactly p, else as the fraction itself, which
// always does: not every float is some decimal percentage divided by 100.
func formatLoss(p float64) string {
	if p == 0 {
		return "0"
	}
	for prec := 0; prec <= 6; prec++ {
		s := strconv.FormatFloat(p*100, 'f', prec, 64) + "%"
		if v, err := shape.ParseLoss(s); err == nil && v == p {
			return s
		}
	}
	return strconv.FormatFloat(p, 'f', -1, 64)
}
