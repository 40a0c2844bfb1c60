package chart

import (
	"fmt"
	"io"
	"strconv"

	gochart "github.com/wcharczuk/go-chart/v2"
)

// Point is one measurement of a ScatterFit: the cost Y seen at X (the
// number of peers, a node's degree). Label, if set, is written beside it.
type Point struct {
	X, Y  float64
	Label string
}

// FitLine is the straight line y = Slope·x + Intercept fitted to the points,
// with its coefficient of determination R2.
type FitLine struct {
	Slope, Intercept, R2 float64
}

// ScatterFit draws measurements as dots with the line fitted to them, to
// show how a cost grows with a parameter across the runs of a sweep. The
// legend states the fit, "y = 0.11·x + 8.6 MB, R² = 0.998", in the units of
// the Y axis.
type ScatterFit struct {
	Title          string
	XLabel, YLabel string // what the axes show, without unit: "peers", "bootstrap memory"
	XUnit, YUnit   Unit   // how values are scaled and named; Count by default
	Points         []Point
	// PointsName names the dots in the legend; "measured" by default.
	PointsName string
	Fit        *FitLine // nil draws the points alone
	// Width and Height are in pixels; zero means DefaultWidth and
	// DefaultHeight.
	Width, Height int
}

// Render draws the chart to w. Points with a NaN or infinite coordinate are
// left out; a single point or points all on one value render.
func (c ScatterFit) Render(w io.Writer, format Format) error {
	if err := c.render(w, format); err != nil {
		return fmt.Errorf("chart %q: %w", c.Title, err)
	}
	return nil
}

func (c ScatterFit) render(w io.Writer, format Format) error {
	width, height, err := size(c.Width, c.Height)
	if err != nil {
		return err
	}
	var xs, ys []float64
	var labels []pointLabel
	for _, p := range c.Points {
		if !finite(p.X) || !finite(p.Y) {
			continue
		}
		xs, ys = append(xs, p.X), append(ys, p.Y)
		if p.Label != "" {
			labels = append(labels, pointLabel{x: p.X, y: p.Y, text: p.Label})
		}
	}

	title := c.Title
	xlo, xhi := bounds(xs)
	if xlo > xhi {
		title += " (no data)"
	}
	x := newAxis(xlo, xhi, 8, c.XUnit, true)

	// The fitted line spans the whole X axis, so it shows where it meets
	// zero; the Y axis must hold its ends as well as the points.
	var fitX, fitY []float64
	fit := c.Fit
	if fit != nil && !(finite(fit.Slope) && finite(fit.Intercept)) {
		fit = nil
	}
	if fit != nil {
		fitX = []float64{x.lo, x.hi}
		fitY = []float64{fit.Slope*x.lo + fit.Intercept, fit.Slope*x.hi + fit.Intercept}
	}
	ylo, yhi := bounds(ys, fitY)
	y := newAxis(ylo, yhi, 5, c.YUnit, true)

	fr := frame{
		title:       title,
		x:           x,
		y:           y,
		xName:       axisName(c.XLabel, x.unitName),
		yName:       axisName(c.YLabel, y.unitName),
		labels:      labels,
		labelsBelow: fit != nil && fit.Slope > 0,
		width:       width,
		height:      height,
	}
	name := c.PointsName
	if name == "" {
		name = "measured"
	}
	if len(xs) > 0 {
		fr.series = append(fr.series, gochart.ContinuousSeries{
			Name:  name,
			Style: gochart.Style{StrokeWidth: gochart.Disabled, DotColor: seriesColor(0), DotWidth: 5},
			YAxis: gochart.YAxisSecondary, XValues: xs, YValues: ys,
		})
	}
	fr.legend = append(fr.legend, legendEntry{name: name, color: seriesColor(0), dot: true})
	if fit != nil {
		fr.series = append(fr.series, gochart.ContinuousSeries{
			Name:  "fit",
			Style: gochart.Style{StrokeColor: seriesColor(1), StrokeWidth: 2},
			YAxis: gochart.YAxisSecondary, XValues: fitX, YValues: fitY,
		})
		fr.legend = append(fr.legend, legendEntry{name: fitLabel(*fit, y), color: seriesColor(1)})
	}
	return fr.render(w, format)
}

// fitLabel states the fit in the Y axis' unit, "y = 0.11·x + 8.6 MB,
// R² = 0.998", since the raw "y = 110000·x + 8600000" is hard to read.
func fitLabel(f FitLine, y axis) string {
	unit := ""
	if y.unitName != "" {
		unit = " " + y.unitName
	}
	sign, b := "+", f.Intercept/y.div
	if b < 0 {
		sign, b = "-", -b
	}
	return fmt.Sprintf("y = %s·x %s %s%s, R² = %.3f", g3(f.Slope/y.div), sign, g3(b), unit, f.R2)
}

// g3 formats v with three significant digits, without an exponent for the
// magnitudes a chart shows.
func g3(v float64) string {
	if v == 0 {
		return "0"
	}
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if f, err := strconv.ParseFloat(s, 64); err == nil && abs(f) >= 1e-4 && abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
