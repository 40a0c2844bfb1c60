package chart

import (
	"fmt"
	"io"

	gochart "github.com/wcharczuk/go-chart/v2"
)

// Line is one named line of a chart. X and Y must have the same length; a
// NaN or infinite value leaves a gap in the line.
type Line struct {
	Name   string
	X, Y   []float64
	Dashed bool // draw dashed, e.g. a percentile beside a solid mean
}

// TimeChart draws figures over the time of an experiment, one line per
// series (the bootstrap, the mean of the peers, their p95, …). X values are
// seconds since the recording started.
type TimeChart struct {
	Title  string
	YLabel string // what the Y axis shows, without unit: "memory"
	YUnit  Unit   // how Y values are scaled and named; Count by default
	Lines  []Line
	// Width and Height are in pixels; zero means DefaultWidth and
	// DefaultHeight.
	Width, Height int
}

// Render draws the chart to w. A line of one point is drawn as a dot, a
// constant line sits below the top of the frame, and a chart with no finite
// value renders its empty axes with "(no data)" in the title.
func (c TimeChart) Render(w io.Writer, format Format) error {
	if err := c.render(w, format); err != nil {
		return fmt.Errorf("chart %q: %w", c.Title, err)
	}
	return nil
}

func (c TimeChart) render(w io.Writer, format Format) error {
	width, height, err := size(c.Width, c.Height)
	if err != nil {
		return err
	}
	var xs, ys [][]float64
	for _, l := range c.Lines {
		if len(l.X) != len(l.Y) {
			return fmt.Errorf("line %q has %d x values and %d y values", l.Name, len(l.X), len(l.Y))
		}
		for _, seg := range segments(l.X, l.Y) {
			xs, ys = append(xs, seg[0]), append(ys, seg[1])
		}
	}

	title := c.Title
	xlo, xhi := bounds(xs...)
	ylo, yhi := bounds(ys...)
	if xlo > xhi {
		title += " (no data)"
	}
	fr := frame{
		title:  title,
		x:      newAxis(xlo, xhi, 8, Count, false),
		y:      newAxis(ylo, yhi, 5, c.YUnit, true),
		xName:  "seconds",
		width:  width,
		height: height,
	}
	fr.yName = axisName(c.YLabel, fr.y.unitName)

	for i, l := range c.Lines {
		style := gochart.Style{StrokeColor: seriesColor(i), StrokeWidth: 2}
		if l.Dashed {
			style.StrokeDashArray = dashes
		}
		for _, seg := range segments(l.X, l.Y) {
			s := style
			if len(seg[0]) == 1 {
				// go-chart draws a one-point line as nothing at all.
				s.DotColor, s.DotWidth = seriesColor(i), 4
			}
			fr.series = append(fr.series, gochart.ContinuousSeries{
				Name: l.Name, Style: s, YAxis: gochart.YAxisSecondary,
				XValues: seg[0], YValues: seg[1],
			})
		}
		fr.legend = append(fr.legend, legendEntry{name: l.Name, color: seriesColor(i), dashed: l.Dashed})
	}
	return fr.render(w, format)
}
