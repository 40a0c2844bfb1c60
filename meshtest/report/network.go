package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/meshtest/meshtest/meshtest/summary"
)

// networkView is the Network section: how packets were delayed, each
// calibrated path as a row, and what the delay line cost.
type networkView struct {
	Mechanism, Kernel, Note string
	// Status is the section's verdict: "ok" (every path measured as
	// asked), "bad" (a path did not) or "warn" (undecided, or nothing
	// was measured); Headline says it in words, Chip for the header.
	Status, Headline, Chip string
	Paths                  []pathView
	Cost                   []KV
}

// pathView is one calibrated path, every figure already in words.
type pathView struct {
	Path              string // "bootstrap → peer-1"
	WantRTT, GotRTT   string
	WantLoss, GotLoss string
	Probes            string
	WantRate, GotRate string
	Verdict           string // summary.CalibrationOK, CalibrationMismatch or CalibrationUndecided
	Status            string // row class: "bad" for a mismatch, "warn" undecided, "" ok
	Mismatches        []string
}

func networkOf(n summary.Network) (networkView, error) {
	v := networkView{Mechanism: n.Mechanism, Kernel: n.Kernel, Note: n.Note}
	var errs []error
	off, undecided := 0, 0
	for i, c := range n.Calibration {
		p := pathView{
			Path:    c.From + " → " + c.To,
			WantRTT: short(c.WantRTTMs) + " ms", GotRTT: short(c.GotRTTMs) + " ms",
			WantLoss: short(100*c.WantLoss) + " %", GotLoss: short(100*c.GotLoss) + " %",
			Probes:   strconv.Itoa(c.Probes),
			WantRate: rate(c.WantRateBitsPerS), GotRate: rate(c.GotRateBitsPerS),
			Verdict: c.Verdict, Mismatches: c.Mismatches,
		}
		switch c.Verdict {
		case summary.CalibrationOK:
		case summary.CalibrationMismatch:
			p.Status = "bad"
			off++
		case summary.CalibrationUndecided:
			p.Status = "warn"
			undecided++
		default:
			errs = append(errs, fmt.Errorf("path %d (%s): verdict %q: want %q, %q or %q", i, p.Path, c.Verdict,
				summary.CalibrationOK, summary.CalibrationMismatch, summary.CalibrationUndecided))
		}
		v.Paths = append(v.Paths, p)
	}
	paths := len(n.Calibration)
	switch {
	case paths == 0:
		v.Status, v.Headline, v.Chip = "warn", "Not calibrated", "links: not calibrated"
	case off > 0:
		v.Status = "bad"
		v.Headline = fmt.Sprintf("Off on %d of %d paths", off, paths)
		v.Chip = fmt.Sprintf("links: %d of %d paths off", off, paths)
	case undecided > 0 || !n.Passed:
		v.Status = "warn"
		v.Headline = fmt.Sprintf("Undecided on %d of %d paths", undecided, paths)
		v.Chip = fmt.Sprintf("links: %d of %d paths undecided", undecided, paths)
	default:
		v.Status, v.Headline, v.Chip = "ok", "Measured as asked", "links: calibrated"
	}
	for _, c := range []struct {
		when string
		d    *summary.DelayLineCost
	}{{"window", n.DelayLine}, {"calibration", n.CalibrationDelayLine}} {
		if c.d == nil {
			continue
		}
		cpu := short(c.d.CPUSeconds) + " s of the helpers' CPU"
		if c.d.CPUMsPer1000Packets > 0 {
			cpu += fmt.Sprintf(" (%s ms per 1000 packets)", short(c.d.CPUMsPer1000Packets))
		}
		v.Cost = append(v.Cost,
			KV{Key: "packets delayed (" + c.when + ")", Value: strconv.FormatUint(c.d.Packets, 10)},
			KV{Key: "CPU (" + c.when + ")", Value: cpu},
			KV{Key: "late by (" + c.when + ")", Value: fmt.Sprintf("%s ms on average, %s ms at most", short(c.d.MeanLateMs), short(c.d.MaxLateMs))},
		)
	}
	return v, errors.Join(errs...)
}

// calibrationCheck is the report's check of the link conditions, or false
// when nothing was calibrated.
func calibrationCheck(n *summary.Network) (Check, bool) {
	if n == nil || len(n.Calibration) == 0 {
		return Check{}, false
	}
	counts := map[string]int{}
	for _, c := range n.Calibration {
		counts[c.Verdict]++
	}
	var parts []string
	for _, verdict := range []string{summary.CalibrationOK, summary.CalibrationMismatch, summary.CalibrationUndecided} {
		if k := counts[verdict]; k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, verdict))
		}
	}
	return Check{
		Name:   "the link conditions measured as asked",
		OK:     n.Passed,
		Detail: fmt.Sprintf("%d paths: %s (%s)", len(n.Calibration), strings.Join(parts, ", "), n.Mechanism),
	}, true
}

// short writes v with three significant digits and no trailing zeros:
// 40, 40.6, 1.99, 0.123; at least the units: 1234.
func short(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	decimals := min(3, max(0, 2-int(math.Floor(math.Log10(math.Abs(v))))))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// rate writes a rate in bits per second with an SI prefix, "9.7 Mbit/s";
// 0, not measured, is "—".
func rate(bitsPerS float64) string {
	if bitsPerS == 0 {
		return "—"
	}
	for _, p := range []struct {
		div    float64
		prefix string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(bitsPerS) >= p.div {
			return short(bitsPerS/p.div) + " " + p.prefix + "bit/s"
		}
	}
	return short(bitsPerS) + " bit/s"
}
