package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// svgSize checks that b is an SVG document and returns its size in pixels,
// from the width and height attributes or else the viewBox (go-chart writes
// only a viewBox). The size goes on the <img> so that the browser reserves
// the chart's space before decoding it; 0, 0 means the document names no
// size, which is not an error.
func svgSize(b []byte) (w, h int, err error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return 0, 0, errors.New("no SVG")
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return 0, 0, errors.New("not SVG: no root element")
		}
		if err != nil {
			return 0, 0, fmt.Errorf("not SVG: %w", err)
		}
		root, ok := tok.(xml.StartElement)
		if !ok {
			continue // the XML declaration, comments, a doctype
		}
		if root.Name.Local != "svg" {
			return 0, 0, fmt.Errorf("not SVG: root element is <%s>", root.Name.Local)
		}
		var width, height, viewBox string
		for _, a := range root.Attr {
			switch a.Name.Local {
			case "width":
				width = a.Value
			case "height":
				height = a.Value
			case "viewBox":
				viewBox = a.Value
			}
		}
		w, h = pixels(width), pixels(height)
		if w > 0 && h > 0 {
			return w, h, nil
		}
		if f := strings.Fields(strings.ReplaceAll(viewBox, ",", " ")); len(f) == 4 {
			vw, err1 := strconv.ParseFloat(f[2], 64)
			vh, err2 := strconv.ParseFloat(f[3], 64)
			if err1 == nil && err2 == nil && vw >= 1 && vh >= 1 {
				return int(vw + 0.5), int(vh + 0.5), nil
			}
		}
		return 0, 0, nil
	}
}

// pixels reads "1000" or "1000px"; other units (%, em, cm) have no fixed
// size in pixels and give 0.
func pixels(s string) int {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "px"), 64)
	if err != nil || v < 1 {
		return 0
	}
	return int(v + 0.5)
}
