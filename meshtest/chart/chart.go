package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/golang/freetype/truetype"
	gochart "github.com/wcharczuk/go-chart/v2"
	"github.com/wcharczuk/go-chart/v2/drawing"
)

// Format is the file format a chart is rendered in.
type Format int

const (
	// PNG is a raster image, for quick viewing and CI artifacts.
	PNG Format = iota
	// SVG is a vector image, sharp at any zoom, for reports.
	SVG
)

// String returns the format's file extension without the dot: "png", "svg".
func (f Format) String() string {
	switch f {
	case PNG:
		return "png"
	case SVG:
		return "svg"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

func (f Format) renderer() (gochart.RendererProvider, error) {
	switch f {
	case PNG:
		return gochart.PNG, nil
	case SVG:
		return gochart.SVG, nil
	}
	return nil, fmt.Errorf("unknown format %v", f)
}

// DefaultWidth and DefaultHeight are the size in pixels of a chart that
// does not set one: readable on a laptop screen and in a PR comment.
const (
	DefaultWidth  = 1000
	DefaultHeight = 500
)

// Below this the legend and axes leave no room for the plot.
const minWidth, minHeight = 300, 200

// Type sizes in points; go-chart renders at 92 DPI.
const (
	titleSize  = 15
	legendSize = 10
	labelSize  = 9
)

// palette is Tableau 10: distinct hues that stay apart for the colour-blind
// better than go-chart's default, which has two near-identical blues.
var palette = []drawing.Color{
	{R: 31, G: 119, B: 180, A: 255},  // blue
	{R: 255, G: 127, B: 14, A: 255},  // orange
	{R: 44, G: 160, B: 44, A: 255},   // green
	{R: 214, G: 39, B: 40, A: 255},   // red
	{R: 148, G: 103, B: 189, A: 255}, // purple
	{R: 140, G: 86, B: 75, A: 255},   // brown
	{R: 227, G: 119, B: 194, A: 255}, // pink
	{R: 127, G: 127, B: 127, A: 255}, // grey
	{R: 188, G: 189, B: 34, A: 255},  // olive
	{R: 23, G: 190, B: 207, A: 255},  // cyan
}

func seriesColor(i int) drawing.Color { return palette[i%len(palette)] }

var (
	gridColor  = drawing.Color{R: 225, G: 225, B: 225, A: 255}
	labelColor = drawing.Color{R: 90, G: 90, B: 90, A: 255}
	dashes     = []float64{6, 4}
)

// legendEntry is one row of the legend: a sample of the line or dot, then
// the name.
type legendEntry struct {
	name   string
	color  drawing.Color
	dashed bool
	dot    bool // a dot instead of a line, for scattered points
}

// pointLabel is a text drawn beside a data point.
type pointLabel struct {
	x, y float64
	text string
}

// frame is everything one chart draws; TimeChart and ScatterFit fill it in
// and frame.render does the layout that go-chart leaves to the caller.
type frame struct {
	title         string
	x, y          axis
	xName, yName  string
	series        []gochart.Series
	legend        []legendEntry
	labels        []pointLabel
	labelsBelow   bool     // write point labels below their points
	markers       []Marker // events across the plot; TimeChart only
	width, height int
}

func size(w, h int) (int, int, error) {
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w < minWidth || h < minHeight {
		return 0, 0, fmt.Errorf("size %dx%d is below the minimum %dx%d", w, h, minWidth, minHeight)
	}
	return w, h, nil
}

// render draws the frame with go-chart.
//
// Layout: title on top; the Y axis on the left; the legend in a column right
// of the plot, where it cannot hide data. go-chart draws the primary Y axis
// on the right, so every series goes on the secondary axis, which is drawn
// on the left, and the primary axis gets the same ticks (go-chart checks its
// range even when no series uses it) and is hidden.
func (fr frame) render(w io.Writer, format Format) error {
	provider, err := format.renderer()
	if err != nil {
		return err
	}
	font, err := gochart.GetDefaultFont()
	if err != nil {
		return fmt.Errorf("load font: %w", err)
	}
	// go-chart writes text into SVG unescaped, so a name holding & or <
	// would make the file invalid XML; PNG wants the text as it is.
	text := func(s string) string { return s }
	if format == SVG {
		text = escapeXML
	}

	legendWidth, legendNames := fr.layoutLegend(font)
	grid := gochart.Style{StrokeColor: gridColor, StrokeWidth: 1}
	series := make([]gochart.Series, len(fr.series))
	copy(series, fr.series)
	if len(series) == 0 {
		// go-chart refuses a chart without a visible series; an empty one
		// draws nothing and lets an all-NaN chart show its axes.
		series = append(series, gochart.ContinuousSeries{YAxis: gochart.YAxisSecondary})
	}

	c := gochart.Chart{
		Title:      text(fr.title),
		TitleStyle: gochart.Style{FontSize: titleSize},
		Width:      fr.width,
		Height:     fr.height,
		Font:       font,
		Background: gochart.Style{Padding: gochart.Box{
			Top: 45,
			// Room for the Y axis name, which go-chart does not lay out.
			Left:   45,
			Right:  legendWidth,
			Bottom: 10,
		}},
		XAxis: gochart.XAxis{
			Name:           text(fr.xName),
			Ticks:          fr.x.ticks,
			GridMajorStyle: grid,
			GridMinorStyle: grid,
		},
		YAxis: gochart.YAxis{Style: gochart.Hidden(), Ticks: fr.y.ticks},
		// The Y axis name is drawn by drawYName: go-chart writes it top to
		// bottom, and misplaces it when turned the usual way round.
		YAxisSecondary: gochart.YAxis{
			Ticks:          fr.y.ticks,
			GridMajorStyle: grid,
			GridMinorStyle: grid,
		},
		Series: series,
	}
	c.Elements = []gochart.Renderable{
		fr.drawMarkers(font, text),
		fr.drawYName(font, text),
		fr.drawLabels(font, text),
		fr.drawLegend(font, legendNames, text),
	}
	if err := c.Render(provider, w); err != nil {
		return fmt.Errorf("render %s: %w", format, err)
	}
	return nil
}

// layoutLegend measures the legend and returns the width to reserve right
// of the plot, and the names as they fit in it: names longer than a third of
// the chart are cut short with "…" rather than run off the image.
func (fr frame) layoutLegend(font *truetype.Font) (width int, names []string) {
	const margin, swatch, gap = 15, 28, 6
	if len(fr.legend) == 0 {
		return margin, nil
	}
	r, err := gochart.PNG(1, 1) // only measures text
	if err != nil {
		return margin, nil
	}
	r.SetDPI(gochart.DefaultDPI)
	r.SetFont(font)
	r.SetFontSize(legendSize)
	maxText := fr.width / 3
	widest := 0
	for _, e := range fr.legend {
		name := e.name
		if r.MeasureText(name).Width() > maxText {
			// The longest prefix that fits with its ellipsis.
			rs := []rune(name)
			n := sort.Search(len(rs), func(n int) bool {
				return r.MeasureText(string(rs[:n+1])+"…").Width() > maxText
			})
			name = string(rs[:n]) + "…"
		}
		names = append(names, name)
		widest = max(widest, r.MeasureText(name).Width())
	}
	return margin + swatch + gap + widest + margin, names
}

// drawLegend draws the legend in a column right of the plot, one row per
// entry. Rows that do not fit in the plot's height are summarised as
// "+N more" rather than drawn off the image.
func (fr frame) drawLegend(font *truetype.Font, names []string, text func(string) string) gochart.Renderable {
	return func(r gochart.Renderer, plot gochart.Box, _ gochart.Style) {
		const margin, swatch, gap = 15, 28, 6
		r.SetFont(font)
		r.SetFontSize(legendSize)
		r.SetFontColor(gochart.DefaultTextColor)
		rowHeight := r.MeasureText("Mg").Height() + 10
		rows := len(names)
		if fit := max(1, plot.Height()/rowHeight); rows > fit {
			rows = fit - 1
		}
		x := plot.Right + margin
		for i := range rows {
			e := fr.legend[i]
			y := plot.Top + i*rowHeight + rowHeight/2
			if e.dot {
				r.SetFillColor(e.color)
				r.SetStrokeColor(e.color)
				r.SetStrokeWidth(1)
				r.Circle(4, x+swatch/2, y)
				r.FillStroke()
			} else {
				r.SetStrokeColor(e.color)
				r.SetStrokeWidth(2.5)
				r.SetStrokeDashArray(nil)
				if e.dashed {
					r.SetStrokeDashArray(dashes)
				}
				r.MoveTo(x, y)
				r.LineTo(x+swatch, y)
				r.Stroke()
				r.SetStrokeDashArray(nil)
			}
			r.SetFontColor(gochart.DefaultTextColor)
			th := r.MeasureText(names[i]).Height()
			r.Text(text(names[i]), x+swatch+gap, y+th/2)
		}
		if more := len(names) - rows; more > 0 {
			y := plot.Top + rows*rowHeight + rowHeight/2
			r.SetFontColor(labelColor)
			r.Text(fmt.Sprintf("+%d more", more), x+swatch+gap, y+r.MeasureText("M").Height()/2)
		}
	}
}

// drawYName writes the Y axis name along the left edge, centred on the plot
// and reading bottom to top.
func (fr frame) drawYName(font *truetype.Font, text func(string) string) gochart.Renderable {
	return func(r gochart.Renderer, plot gochart.Box, _ gochart.Style) {
		if fr.yName == "" {
			return
		}
		r.SetFont(font)
		r.SetFontSize(gochart.DefaultAxisFontSize)
		r.SetFontColor(gochart.DefaultTextColor)
		tb := r.MeasureText(fr.yName)
		// Turned 270°, the text runs up from (x, y) and its glyphs stand to
		// the left of x.
		r.SetTextRotation(gochart.DegreesToRadians(270))
		r.Text(text(fr.yName), 12+tb.Height(), plot.Top+plot.Height()/2+tb.Width()/2)
		r.ClearTextRotation()
	}
}

// drawLabels writes each point label beside its point, on the side away
// from the fitted line: below it when the line rises, above when it falls.
func (fr frame) drawLabels(font *truetype.Font, text func(string) string) gochart.Renderable {
	return func(r gochart.Renderer, plot gochart.Box, _ gochart.Style) {
		r.SetFont(font)
		r.SetFontSize(labelSize)
		r.SetFontColor(labelColor)
		for _, l := range fr.labels {
			px := plot.Left + fr.x.translate(l.x, plot.Width())
			py := plot.Bottom - fr.y.translate(l.y, plot.Height())
			if fr.labelsBelow {
				py += 7 + r.MeasureText(l.text).Height()
			} else {
				py -= 7
			}
			r.Text(text(l.text), px+7, py)
		}
	}
}

// segments splits the points (xs[i], ys[i]) at every NaN or infinite value,
// so that a round a node missed shows as a gap instead of a line drawn
// through a made-up value (or, in go-chart, to a garbage coordinate).
func segments(xs, ys []float64) [][2][]float64 {
	var segs [][2][]float64
	var cur [2][]float64
	for i := range xs {
		if finite(xs[i]) && finite(ys[i]) {
			cur[0] = append(cur[0], xs[i])
			cur[1] = append(cur[1], ys[i])
			continue
		}
		if len(cur[0]) > 0 {
			segs = append(segs, cur)
			cur = [2][]float64{}
		}
	}
	if len(cur[0]) > 0 {
		segs = append(segs, cur)
	}
	return segs
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// bounds returns the smallest and largest finite values of vs; lo > hi when
// there are none.
func bounds(vs ...[]float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		for _, x := range v {
			if finite(x) {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	return lo, hi
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escapeXML(s string) string { return xmlEscaper.Replace(s) }

// Renderer is a chart that draws itself in any Format: TimeChart and
// ScatterFit.
type Renderer interface {
	Render(w io.Writer, format Format) error
}

// Files renders c in every format, keyed by file name: base + ".png" and
// base + ".svg". It renders every format it can and returns the others'
// errors joined.
func Files(base string, c Renderer) (map[string][]byte, error) {
	files := map[string][]byte{}
	var errs []error
	for _, format := range []Format{PNG, SVG} {
		var buf bytes.Buffer
		name := base + "." + format.String()
		if err := c.Render(&buf, format); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		files[name] = buf.Bytes()
	}
	return files, errors.Join(errs...)
}
