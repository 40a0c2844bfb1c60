package conditions

import "time"

// formatDuration writes a matrix cell's delay as the file reads it: "0"
// for none (time.Duration's own String says "0s"), else "50ms".
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}
