package chart

import (
	"math"
	"strconv"

	gochart "github.com/wcharczuk/go-chart/v2"
)

// Unit says how values on an axis are scaled and named.
type Unit int

const (
	// Count shows values as they are: connections, goroutines, cores.
	Count Unit = iota
	// Bytes shows values in B, kB, MB or GB (powers of 1000), whichever
	// keeps tick labels short; the axis name carries the unit:
	// "memory (MB)".
	Bytes
	// BytesPerSecond is Bytes per second: B/s, kB/s, MB/s, GB/s.
	BytesPerSecond
)

// scale returns the divisor and unit name for values up to maxAbs.
func (u Unit) scale(maxAbs float64) (div float64, name string) {
	if u != Bytes && u != BytesPerSecond {
		return 1, ""
	}
	div, name = 1, "B"
	for _, p := range []struct {
		div  float64
		name string
	}{{1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if maxAbs >= p.div {
			div, name = p.div, p.name
			break
		}
	}
	if u == BytesPerSecond {
		name += "/s"
	}
	return div, name
}

// axisName joins what an axis shows with its unit: "memory (MB)".
func axisName(label, unit string) string {
	switch {
	case unit == "":
		return label
	case label == "":
		return unit
	}
	return label + " (" + unit + ")"
}

// axis is the extent of an axis, decided before go-chart sees the data:
// go-chart fails on a zero range ("zero x-range delta") and labels its own
// ticks at odd values such as 12.37, so the package picks round ticks itself
// and hands them over as the axis' explicit ticks, which also fix its range.
type axis struct {
	ticks    []gochart.Tick
	lo, hi   float64 // first and last tick, in data units
	div      float64 // data units per label unit: 1e6 for MB
	unitName string
}

// newAxis returns ticks at a 1-2-5 step covering lo..hi and zero, about
// target of them. A range of nothing (no data, or lo > hi) becomes 0..1.
// With headroom the range grows by 5% so that dots and constant lines do
// not sit on the frame.
func newAxis(lo, hi float64, target int, u Unit, headroom bool) axis {
	if lo > hi {
		lo, hi = 0, 1
	}
	// Zero is always on the axis: the experiment's figures are costs, and a
	// bootstrap at 36 MB must not tower over peers at 30 MB.
	lo, hi = min(lo, 0), max(hi, 0)
	if lo == hi {
		hi = 1
	}
	if headroom {
		pad := 0.05 * (hi - lo)
		if hi > 0 {
			hi += pad
		}
		if lo < 0 {
			lo -= pad
		}
	}

	div, name := u.scale(max(math.Abs(lo), math.Abs(hi)))
	slo, shi := lo/div, hi/div
	step := niceStep((shi - slo) / float64(max(target, 1)))
	first := math.Floor(slo/step + 1e-9)
	last := math.Ceil(shi/step - 1e-9)
	decimals := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))

	a := axis{div: div, unitName: name}
	for i := first; i <= last; i++ {
		v := i * step
		label := strconv.FormatFloat(v, 'f', decimals, 64)
		if v == 0 {
			label = "0" // not "-0" or "0.00"
		}
		a.ticks = append(a.ticks, gochart.Tick{Value: v * div, Label: label})
	}
	a.lo, a.hi = a.ticks[0].Value, a.ticks[len(a.ticks)-1].Value
	return a
}

// niceStep returns the multiple of 1, 2 or 5 of a power of ten nearest to
// rough (by ratio), so that the tick count stays within about 1.5 times
// the target either way.
func niceStep(rough float64) float64 {
	if !(rough > 0) || math.IsInf(rough, 0) {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(rough)))
	best := pow
	for _, m := range []float64{2, 5, 10} {
		if math.Abs(math.Log(m*pow/rough)) < math.Abs(math.Log(best/rough)) {
			best = m * pow
		}
	}
	return best
}

// translate maps v on the axis to a pixel offset within length pixels, the
// way go-chart's ContinuousRange does.
func (a axis) translate(v float64, length int) int {
	return int(math.Ceil((v - a.lo) / (a.hi - a.lo) * float64(length)))
}
