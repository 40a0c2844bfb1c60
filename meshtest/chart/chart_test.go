package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wcharczuk/go-chart/v2/drawing"
)

// renderer is what TimeChart and ScatterFit have in common.
type renderer interface {
	Render(w io.Writer, format Format) error
}

// checkPNG asserts that data is a PNG of the given size that shows
// something: more than a handful of colours, and every colour in want.
func checkPNG(t *testing.T, data []byte, width, height int, want ...drawing.Color) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err, "decode png")
	assert.Equal(t, image.Rect(0, 0, width, height), img.Bounds(), "size")
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	colours := map[color.RGBA]bool{}
	for i := 0; i+3 < len(rgba.Pix); i += 4 {
		p := rgba.Pix[i : i+4 : i+4]
		colours[color.RGBA{p[0], p[1], p[2], p[3]}] = true
	}
	// White background, dark text and grey grid at the very least.
	assert.Greater(t, len(colours), 3, "distinct colours")
	for _, w := range want {
		assert.True(t, hasColour(colours, w), "no pixel near %v", w)
	}
}

// hasColour reports whether a colour close to c was drawn; anti-aliasing
// blends the edges of lines and dots, but their cores keep their colour.
func hasColour(colours map[color.RGBA]bool, c drawing.Color) bool {
	for got := range colours {
		d := math.Abs(float64(got.R)-float64(c.R)) + math.Abs(float64(got.G)-float64(c.G)) + math.Abs(float64(got.B)-float64(c.B))
		if d < 20 {
			return true
		}
	}
	return false
}

// checkSVG asserts that data is well-formed XML with an <svg> root and
// returns its text content.
func checkSVG(t *testing.T, data []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var text strings.Builder
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "parse svg")
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	assert.Equal(t, "svg", root)
	return text.String()
}

func render(t *testing.T, c renderer, f Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, c.Render(&buf, f))
	return buf.Bytes()
}

func seconds(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i)
	}
	return xs
}

func constant(n int, v float64) []float64 {
	ys := make([]float64, n)
	for i := range ys {
		ys[i] = v
	}
	return ys
}

// memory is a chart of the usual shape: bootstrap and peer mean over a
// minute, in bytes.
func memory() TimeChart {
	boot, peer := make([]float64, 60), make([]float64, 60)
	for i := range boot {
		boot[i] = 16e6 + 1e5*math.Sin(float64(i)/5)
		peer[i] = 8.6e6 + 5e4*math.Cos(float64(i)/7)
	}
	return TimeChart{
		Title: "star-100 memory", YLabel: "memory", YUnit: Bytes,
		Lines: []Line{
			{Name: "bootstrap", X: seconds(60), Y: boot},
			{Name: "peer mean", X: seconds(60), Y: peer, Dashed: true},
		},
	}
}

// chaos is the connections of a 10-peer star through a partition of five
// peers, healed, then a peer killed and restarted: the events drawn across
// it, two of them close enough that their labels must not collide.
func chaos() TimeChart {
	boot, peer := make([]float64, 60), make([]float64, 60)
	for i := range boot {
		boot[i], peer[i] = 10, 1
		switch {
		case i >= 15 && i < 24:
			boot[i], peer[i] = 5, 0.5
		case i >= 24 && i < 27:
			boot[i], peer[i] = 8, 0.8
		case i >= 40 && i < 44:
			boot[i], peer[i] = 9, 0.9
		}
	}
	return TimeChart{
		Title: "star-10 connections", YLabel: "connections",
		Lines: []Line{
			{Name: "bootstrap", X: seconds(60), Y: boot},
			{Name: "peer mean", X: seconds(60), Y: peer, Dashed: true},
		},
		Events: []Marker{
			{X: -2, Label: "conditions"},
			{X: 15, Label: "partition"},
			{X: 24, Label: "heal +3.2s"},
			{X: 40, Label: "kill peer-3"},
			{X: 41, Label: "restart peer-3"},
			{X: 59.5, Label: "kill peer-7"},
		},
	}
}

func TestTimeChartPNG(t *testing.T) {
	checkPNG(t, render(t, memory(), PNG), DefaultWidth, DefaultHeight, palette[0], palette[1])

	small := memory()
	small.Width, small.Height = 640, 360
	checkPNG(t, render(t, small, PNG), 640, 360, palette[0], palette[1])
}

func TestTimeChartSVG(t *testing.T) {
	text := checkSVG(t, render(t, memory(), SVG))
	for _, want := range []string{"star-100 memory", "bootstrap", "peer mean", "seconds", "memory (MB)"} {
		assert.Contains(t, text, want)
	}
}

func TestTimeChartEdgeCases(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		lines []Line
		// colours that must appear in the PNG: what was drawn
		drawn []drawing.Color
	}{
		{"single point", []Line{{Name: "boot", X: []float64{3}, Y: []float64{16e6}}}, []drawing.Color{palette[0]}},
		{"single point at zero", []Line{{Name: "boot", X: []float64{0}, Y: []float64{0}}}, nil},
		{"all equal", []Line{
			{Name: "bootstrap", X: seconds(30), Y: constant(30, 100)},
			{Name: "peer", X: seconds(30), Y: constant(30, 1)},
		}, []drawing.Color{palette[0], palette[1]}},
		{"all zero", []Line{{Name: "errors", X: seconds(30), Y: constant(30, 0)}}, []drawing.Color{palette[0]}},
		{"NaN skipped", []Line{{Name: "peer", X: seconds(6), Y: []float64{1, nan, 3, 4, nan, 6}}}, []drawing.Color{palette[0]}},
		{"NaN x skipped", []Line{{Name: "peer", X: []float64{0, nan, 2}, Y: []float64{1, 2, 3}}}, []drawing.Color{palette[0]}},
		{"infinite skipped", []Line{{Name: "peer", X: seconds(3), Y: []float64{1, math.Inf(1), 3}}}, []drawing.Color{palette[0]}},
		{"all NaN", []Line{{Name: "peer", X: seconds(3), Y: constant(3, nan)}}, nil},
		{"empty line", []Line{{Name: "peer"}}, nil},
		{"no lines", nil, nil},
		{"negative", []Line{{Name: "delta", X: seconds(3), Y: []float64{-5, 0, 5}}}, []drawing.Color{palette[0]}},
		{"only negative", []Line{{Name: "delta", X: seconds(3), Y: []float64{-5, -7, -6}}}, []drawing.Color{palette[0]}},
		{"tiny values", []Line{{Name: "cpu", X: seconds(3), Y: []float64{0.001, 0.002, 0.0015}}}, []drawing.Color{palette[0]}},
		{"huge values", []Line{{Name: "bytes", X: seconds(3), Y: []float64{1e15, 2e15, 3e15}}}, []drawing.Color{palette[0]}},
		{"x not from zero", []Line{{Name: "late", X: []float64{100, 101, 102}, Y: []float64{1, 2, 3}}}, []drawing.Color{palette[0]}},
		{"many lines", manyLines(40), []drawing.Color{palette[0]}},
		{"long name", []Line{{Name: strings.Repeat("a very long series name ", 20), X: seconds(3), Y: []float64{1, 2, 3}}}, []drawing.Color{palette[0]}},
	}
	for _, tt := range tests {
		for _, unit := range []Unit{Count, Bytes} {
			t.Run(tt.name+"/"+[]string{"count", "bytes"}[unit], func(t *testing.T) {
				c := TimeChart{Title: tt.name, YLabel: "value", YUnit: unit, Lines: tt.lines}
				checkPNG(t, render(t, c, PNG), DefaultWidth, DefaultHeight, tt.drawn...)
				checkSVG(t, render(t, c, SVG))
			})
		}
	}
}

func manyLines(n int) []Line {
	var ls []Line
	for i := range n {
		ls = append(ls, Line{Name: "peer-" + string(rune('a'+i%26)), X: seconds(10), Y: constant(10, float64(i))})
	}
	return ls
}

// TestTimeChartEvents: each event is a dashed line with its label, in SVG
// and PNG; the X axis reaches an event before the first point; labels of
// events close together are not drawn over one another.
func TestTimeChartEvents(t *testing.T) {
	c := chaos()
	svg := render(t, c, SVG)
	text := checkSVG(t, svg)
	for _, m := range c.Events {
		assert.Contains(t, text, m.Label)
	}
	assert.Contains(t, text, "-10", "the X axis reaches the event at -2 s")
	assert.Equal(t, len(c.Events), strings.Count(string(svg), `stroke-dasharray="4.0, 3.0"`), "one dashed line per event")

	// The PNG shows the lines: columns the plain chart does not have,
	// drawn over most of the plot's height. (Without the event at -2 s,
	// which moves the axis, the two charts have the same grid.)
	within, plain := c, c
	within.Events, plain.Events = c.Events[1:], nil
	lines := markerColumns(t, render(t, plain, PNG), render(t, within, PNG))
	assert.Len(t, lines, len(within.Events), "columns drawn top to bottom: %v", lines)

	boxes := labelBoxes(t, svg)
	require.Len(t, boxes, len(c.Events))
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			assert.False(t, a.Overlaps(b), "labels at %v and %v overlap", a, b)
		}
	}

	// An event without a label is a line alone; one without a finite X is
	// left out, and neither fails the chart.
	c.Events = []Marker{{X: 10}, {X: math.NaN(), Label: "lost"}}
	svg = render(t, c, SVG)
	assert.NotContains(t, checkSVG(t, svg), "lost")
	assert.Equal(t, 1, strings.Count(string(svg), `stroke-dasharray="4.0, 3.0"`))
	checkPNG(t, render(t, c, PNG), DefaultWidth, DefaultHeight)
}

// markerColumns returns the x of each run of pixel columns in which with
// differs from without over more than a quarter of the image's height: the
// dashed lines a chart drew across its plot. Adjacent columns (a line
// anti-aliased over two pixels) count once.
func markerColumns(t *testing.T, without, with []byte) []int {
	t.Helper()
	a, err := png.Decode(bytes.NewReader(without))
	require.NoError(t, err)
	b, err := png.Decode(bytes.NewReader(with))
	require.NoError(t, err)
	require.Equal(t, a.Bounds(), b.Bounds())
	var xs []int
	for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
		differ := 0
		for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
			if a.At(x, y) != b.At(x, y) {
				differ++
			}
		}
		switch {
		case differ <= a.Bounds().Dy()/4:
		case len(xs) > 0 && xs[len(xs)-1] == x-1:
			xs[len(xs)-1] = x
		default:
			xs = append(xs, x)
		}
	}
	return xs
}

// labelBoxes returns the boxes the labels of a chart's events sit on, from
// its SVG: the paths filled with the labels' white.
func labelBoxes(t *testing.T, svg []byte) []image.Rectangle {
	t.Helper()
	fill := "fill:" + markerLabelColor.String()
	var boxes []image.Rectangle
	for _, path := range strings.Split(string(svg), "<path")[1:] {
		if !strings.Contains(path, fill) {
			continue
		}
		d, _, _ := strings.Cut(path[strings.Index(path, `d="`)+3:], `"`)
		var r image.Rectangle
		var x0, y0, x1, y1, x2, y2, x3, y3 int
		_, err := fmt.Sscanf(strings.Join(strings.Fields(d), " "), "M %d %d L %d %d L %d %d L %d %d Z", &x0, &y0, &x1, &y1, &x2, &y2, &x3, &y3)
		require.NoError(t, err, "label box %q", d)
		r = image.Rect(x0, y0, x2, y2)
		boxes = append(boxes, r)
	}
	return boxes
}

func TestTimeChartNoData(t *testing.T) {
	c := TimeChart{Title: "memory", Lines: []Line{{Name: "peer", X: seconds(2), Y: constant(2, math.NaN())}}}
	text := checkSVG(t, render(t, c, SVG))
	assert.Contains(t, text, "memory (no data)")
	assert.Contains(t, text, "peer", "the legend still names the line")
}

func TestTimeChartLegendOverflow(t *testing.T) {
	c := TimeChart{Title: "peers", Lines: manyLines(40)}
	text := checkSVG(t, render(t, c, SVG))
	// 40 rows do not fit beside a 500-pixel plot: the rest are counted.
	assert.Regexp(t, `\+\d+ more`, text)
}

func TestRenderEscapesSVG(t *testing.T) {
	c := TimeChart{Title: `A & B <"x">`, YLabel: "a<b", Lines: []Line{{Name: "p&q", X: seconds(2), Y: []float64{1, 2}}}}
	text := checkSVG(t, render(t, c, SVG))
	assert.Contains(t, text, `A & B <"x">`)
	assert.Contains(t, text, "a<b")
	assert.Contains(t, text, "p&q")
	checkPNG(t, render(t, c, PNG), DefaultWidth, DefaultHeight)
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name   string
		c      renderer
		format Format
		want   string
	}{
		{"length mismatch", TimeChart{Title: "m", Lines: []Line{{Name: "boot", X: seconds(3), Y: seconds(2)}}}, PNG,
			`chart "m": line "boot" has 3 x values and 2 y values`},
		{"unknown format", memory(), Format(7), "unknown format Format(7)"},
		{"too small", TimeChart{Title: "m", Width: 100, Height: 50}, PNG, "size 100x50 is below the minimum"},
		{"scatter too small", ScatterFit{Title: "s", Width: 10}, SVG, `chart "s": size 10x500`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Render(io.Discard, tt.format)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func sweep() ScatterFit {
	return ScatterFit{
		Title: "bootstrap memory against peers", XLabel: "peers", YLabel: "bootstrap memory", YUnit: Bytes,
		Points: []Point{{10, 9.7e6, "n=10"}, {50, 14.1e6, "n=50"}, {100, 19.6e6, "n=100"}, {250, 36.1e6, "n=250"}},
		Fit:    &FitLine{Slope: 0.11e6, Intercept: 8.6e6, R2: 0.99871},
	}
}

func TestScatterFit(t *testing.T) {
	checkPNG(t, render(t, sweep(), PNG), DefaultWidth, DefaultHeight, palette[0], palette[1])
	text := checkSVG(t, render(t, sweep(), SVG))
	for _, want := range []string{
		"bootstrap memory against peers", "peers", "bootstrap memory (MB)", "measured", "n=250",
		"y = 0.11·x + 8.6 MB, R² = 0.999",
	} {
		assert.Contains(t, text, want)
	}
}

func TestScatterFitEdgeCases(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		c    ScatterFit
	}{
		{"single point", ScatterFit{Points: []Point{{100, 16e6, "n=100"}}}},
		{"single point with fit", ScatterFit{Points: []Point{{100, 16e6, ""}}, Fit: &FitLine{Slope: 0.1e6, Intercept: 6e6, R2: 1}}},
		{"equal x", ScatterFit{Points: []Point{{100, 15e6, ""}, {100, 16e6, ""}}}},
		{"equal y", ScatterFit{Points: []Point{{10, 100, ""}, {50, 100, ""}}, Fit: &FitLine{Intercept: 100, R2: 1}}},
		{"NaN points skipped", ScatterFit{Points: []Point{{10, nan, "lost"}, {nan, 5, ""}, {50, 7, "ok"}, {100, 9, ""}}}},
		{"no points", ScatterFit{}},
		{"NaN fit ignored", ScatterFit{Points: []Point{{1, 1, ""}, {2, 2, ""}}, Fit: &FitLine{Slope: nan, R2: nan}}},
		{"falling line", ScatterFit{Points: []Point{{1, 10, "a"}, {5, 2, "b"}}, Fit: &FitLine{Slope: -2, Intercept: 12, R2: 1}}},
		{"fit below zero", ScatterFit{Points: []Point{{1, 1, ""}, {2, 3, ""}}, Fit: &FitLine{Slope: 2, Intercept: -1, R2: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Title = tt.name
			checkPNG(t, render(t, tt.c, PNG), DefaultWidth, DefaultHeight)
			checkSVG(t, render(t, tt.c, SVG))
		})
	}
}

func TestFormatString(t *testing.T) {
	assert.Equal(t, "png", PNG.String())
	assert.Equal(t, "svg", SVG.String())
}

// TestArtifacts writes a time chart and a scatter chart of the usual shape
// to the test's artifact directory, to be looked at after layout changes:
//
//	mkdir -p /tmp/out && go test -run Artifacts -artifacts -outputdir /tmp/out ./meshtest/chart
//
// It writes them as the harness does, through Files, and checks what landed
// on disk: every file there, each a well-formed image of the chart's size.
func TestArtifacts(t *testing.T) {
	dir := t.ArtifactDir()
	small := sweep()
	small.Width, small.Height = 800, 450
	var want []string
	for _, c := range []struct {
		base          string
		c             Renderer
		title         string
		width, height int
	}{
		{"star-100-memory", memory(), "star-100 memory", DefaultWidth, DefaultHeight},
		{"star-10-connections-events", chaos(), "star-10 connections", DefaultWidth, DefaultHeight},
		{"bootstrap-memory-vs-peers", sweep(), "bootstrap memory against peers", DefaultWidth, DefaultHeight},
		{"bootstrap-memory-vs-peers-800x450", small, "bootstrap memory against peers", 800, 450},
	} {
		files, err := Files(c.base, c.c)
		require.NoError(t, err)
		for name, data := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
		}
		for _, f := range []Format{PNG, SVG} {
			name := c.base + "." + f.String()
			want = append(want, name)
			data, err := os.ReadFile(filepath.Join(dir, name))
			if !assert.NoError(t, err) {
				continue
			}
			assert.NoError(t, checkImage(name, data, c.width, c.height))
			if f == SVG {
				assert.Contains(t, checkSVG(t, data), c.title, "%s names its chart", name)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	assert.ElementsMatch(t, want, got, "files in %s", dir)
}

// checkImage reports what is wrong with the image file name holds, by its
// extension: that it is empty, is not a well-formed PNG or SVG, or is not
// width×height pixels (for an SVG, its viewBox).
func checkImage(name string, data []byte, width, height int) error {
	if len(data) == 0 {
		return fmt.Errorf("%s: empty", name)
	}
	var w, h int
	switch ext := filepath.Ext(name); ext {
	case ".png":
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: not a PNG: %w", name, err)
		}
		w, h = cfg.Width, cfg.Height
	case ".svg":
		if !bytes.HasPrefix(data, []byte("<svg")) {
			return fmt.Errorf("%s: starts %q, want <svg", name, data[:min(len(data), 20)])
		}
		var err error
		if w, h, err = svgSize(data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	default:
		return fmt.Errorf("%s: unexpected extension %q", name, ext)
	}
	if w != width || h != height {
		return fmt.Errorf("%s: %dx%d, want %dx%d", name, w, h, width, height)
	}
	return nil
}

// svgSize checks that data is well-formed XML with an <svg> root and returns
// the size its viewBox declares, which is how go-chart sizes an SVG.
func svgSize(data []byte) (width, height int, err error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root *xml.StartElement
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("not well-formed XML: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == nil {
			root = &se
		}
	}
	if root == nil || root.Name.Local != "svg" {
		return 0, 0, errors.New("no <svg> root element")
	}
	for _, a := range root.Attr {
		if a.Name.Local != "viewBox" {
			continue
		}
		var x, y int
		if _, err := fmt.Sscanf(a.Value, "%d %d %d %d", &x, &y, &width, &height); err != nil || x != 0 || y != 0 {
			return 0, 0, fmt.Errorf("viewBox %q, want \"0 0 width height\"", a.Value)
		}
		return width, height, nil
	}
	return 0, 0, errors.New("<svg> has no viewBox")
}

// TestCheckImage makes sure TestArtifacts' check can fail.
func TestCheckImage(t *testing.T) {
	var pngData bytes.Buffer
	require.NoError(t, png.Encode(&pngData, image.NewRGBA(image.Rect(0, 0, 40, 30))))
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 30"><path d="M 0 0"/></svg>`
	tests := []struct {
		name, file, data string
		width            int    // the width checked for; every image here is 40x30
		want             string // "" for no error
	}{
		{"png", "a.png", pngData.String(), 40, ""},
		{"svg", "a.svg", svg, 40, ""},
		{"empty", "a.png", "", 40, "a.png: empty"},
		{"not png", "a.png", svg, 40, "a.png: not a PNG"},
		{"png size", "a.png", pngData.String(), 41, "a.png: 40x30, want 41x30"},
		{"svg size", "a.svg", svg, 41, "a.svg: 40x30, want 41x30"},
		{"not svg", "a.svg", "<html></html>", 40, `starts "<html></html>", want <svg`},
		{"svg truncated", "a.svg", svg[:len(svg)-3], 40, "not well-formed XML"},
		{"no viewBox", "a.svg", `<svg width="40" height="30"></svg>`, 40, "<svg> has no viewBox"},
		{"odd viewBox", "a.svg", `<svg viewBox="5 5 40 30"></svg>`, 40, `viewBox "5 5 40 30"`},
		{"other extension", "a.jpg", "x", 40, `unexpected extension ".jpg"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkImage(tt.file, []byte(tt.data), tt.width, 30)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestFiles(t *testing.T) {
	c := TimeChart{Title: "t", Lines: []Line{{Name: "a", X: []float64{0, 1}, Y: []float64{1, 2}}}}
	files, err := Files("star-10-memory", c)
	require.NoError(t, err)
	require.Len(t, files, 2)
	_, err = png.Decode(bytes.NewReader(files["star-10-memory.png"]))
	assert.NoError(t, err, "the .png is a PNG")
	assert.Contains(t, string(files["star-10-memory.svg"]), "<svg", "the .svg is an SVG")

	_, err = Files("bad", TimeChart{Lines: []Line{{X: []float64{0}, Y: nil}}})
	assert.ErrorContains(t, err, "bad.png")
	assert.ErrorContains(t, err, "bad.svg")
}
