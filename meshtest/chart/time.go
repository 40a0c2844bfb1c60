package chart

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/golang/freetype/truetype"
	gochart "github.com/wcharczuk/go-chart/v2"
	"github.com/wcharczuk/go-chart/v2/drawing"
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
	// Events are drawn across the plot as dashed vertical lines, each with
	// its label at the top: the faults of a chaos run beside the figures
	// they moved.
	Events []Marker
	// Width and Height are in pixels; zero means DefaultWidth and
	// DefaultHeight.
	Width, Height int
}

// Marker is an event on a time chart.
type Marker struct {
	X     float64 // seconds since the recording started, as the lines' X; may lie outside them
	Label string  // short: "partition", "heal +3.2s"
}

// Render draws the chart to w. A line of one point is drawn as a dot, a
// constant line sits below the top of the frame, and a chart with no finite
// value renders its empty axes with "(no data)" in the title. The X axis
// reaches every event, also one before the first point or after the last;
// an event whose X is not finite is left out.
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
	var markers []Marker
	for _, m := range c.Events {
		if finite(m.X) {
			markers = append(markers, m)
			xlo, xhi = min(xlo, m.X), max(xhi, m.X)
		}
	}
	fr := frame{
		title:   title,
		x:       newAxis(xlo, xhi, 8, Count, false),
		y:       newAxis(ylo, yhi, 5, c.YUnit, true),
		xName:   "seconds",
		markers: markers,
		width:   width,
		height:  height,
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

// Marker lines are grey and half transparent, so that the data under them
// stays readable; their labels sit on a white box above the lines.
var (
	markerColor      = drawing.Color{R: 90, G: 90, B: 90, A: 170}
	markerLabelColor = drawing.Color{R: 255, G: 255, B: 255, A: 220}
	markerDashes     = []float64{4, 3}
)

// maxMarkerRows is how many rows of labels the top of the plot takes at
// most, and markerRowShare the least share of the plot's height each row
// comes with (a 360-pixel chart gets two rows): past that, labels would
// cover the data they annotate.
const maxMarkerRows, markerRowShare = 3, 6

// drawMarkers draws each marker as a dashed line from the top of the plot
// to the bottom, and its label at the top: right of the line, or left of
// it where the plot ends (never over the legend). Labels that would
// overlap go one row down; a label that finds no room in the rows the plot
// has space for is left out, its line still drawn.
//
// go-chart's SVG renderer fills every path with the fill colour set and
// strokes it with the stroke colour set, whichever it was asked to do, so
// each path here sets both.
func (fr frame) drawMarkers(font *truetype.Font, text func(string) string) gochart.Renderable {
	return func(r gochart.Renderer, plot gochart.Box, _ gochart.Style) {
		if len(fr.markers) == 0 {
			return
		}
		xs := make([]int, len(fr.markers))
		for i, m := range fr.markers {
			xs[i] = plot.Left + fr.x.translate(m.X, plot.Width())
			r.SetFillColor(drawing.Color{})
			r.SetStrokeColor(markerColor)
			r.SetStrokeWidth(1.5)
			r.SetStrokeDashArray(markerDashes)
			r.MoveTo(xs[i], plot.Top)
			r.LineTo(xs[i], plot.Bottom)
			r.Stroke()
		}
		r.SetStrokeDashArray(nil)

		r.SetFont(font)
		r.SetFontSize(labelSize)
		const pad, gap = 3, 4
		rowHeight := r.MeasureText("Mg").Height() + 2*pad + 2
		rows := make([][][2]int, min(maxMarkerRows, max(1, plot.Height()/(markerRowShare*rowHeight)))) // per row, the spans taken
		order := make([]int, len(fr.markers))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
		for _, i := range order {
			label := fr.markers[i].Label
			if label == "" {
				continue
			}
			// A browser draws the SVG's text in a sans-serif of its own,
			// often wider than the Roboto it is measured in here.
			w := r.MeasureText(label).Width() * 11 / 10
			left := xs[i] + gap
			if left+w+pad > plot.Right {
				left = xs[i] - gap - w
			}
			left = max(left, plot.Left+pad)
			span := [2]int{left - pad, left + w + pad}
			row := slices.IndexFunc(rows, func(taken [][2]int) bool {
				return !slices.ContainsFunc(taken, func(t [2]int) bool { return span[0] < t[1]+gap && t[0] < span[1]+gap })
			})
			if row < 0 {
				continue
			}
			rows[row] = append(rows[row], span)
			top := plot.Top + 2 + row*rowHeight
			r.SetStrokeColor(drawing.Color{})
			r.SetStrokeWidth(0)
			r.SetFillColor(markerLabelColor)
			r.MoveTo(span[0], top)
			r.LineTo(span[1], top)
			r.LineTo(span[1], top+rowHeight-2)
			r.LineTo(span[0], top+rowHeight-2)
			r.Close()
			r.Fill()
			r.SetFontColor(labelColor)
			r.Text(text(label), left, top+rowHeight-2-pad-1)
		}
		r.SetFillColor(drawing.Color{}) // the legend's swatches come next
	}
}
