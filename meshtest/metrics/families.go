package metrics

import (
	"errors"
	"fmt"
	"io"
	"mime"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Families is one decoded exposition: metric families by name, as
// prometheus.Gatherer returns them and expfmt decodes them.
type Families map[string]*dto.MetricFamily

// Decode reads an exposition in the given format. Use
// expfmt.ResponseFormat(resp.Header) for an HTTP answer and
// expfmt.NewFormat(expfmt.TypeTextPlain) for a recorded text payload. An
// unknown format is read as Prometheus text, as the Prometheus server does,
// so an endpoint that forgets its Content-Type still works and one that
// answers with HTML fails with a parse error that names the format.
func Decode(r io.Reader, format expfmt.Format) (Families, error) {
	dec := expfmt.NewDecoder(r, format)
	fams := make(Families)
	for {
		mf := new(dto.MetricFamily)
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return fams, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s payload: %w", formatName(format), err)
		}
		if prev, ok := fams[mf.GetName()]; ok {
			// Not valid, but seen from hand-rolled exporters: keep every
			// series rather than silently the last block.
			prev.Metric = append(prev.Metric, mf.Metric...)
			continue
		}
		fams[mf.GetName()] = mf
	}
}

// formatName shortens a format to its media type for error messages.
func formatName(f expfmt.Format) string {
	if f == expfmt.FmtUnknown {
		return "unrecognised format (read as text)"
	}
	if mt, _, err := mime.ParseMediaType(string(f)); err == nil {
		return mt
	}
	return string(f)
}

// Value returns the sum of the series of family name whose labels match
// labels, and whether any series matched. A nil or empty labels matches every
// series, so Value("libp2p_swarm_connections_opened_total", nil) counts both
// directions and {"dir": "inbound"} one of them. A label the series lacks
// counts as the empty string, as in PromQL.
//
// Only gauges, counters and untyped families carry a single value per series;
// for summaries and histograms Value reports false.
//
// A family with no matching series also reports false, not zero: a labelled
// counter appears only after its first event, but a misspelt label value looks
// the same, and the caller is better placed to decide which it is.
func (f Families) Value(name string, labels map[string]string) (float64, bool) {
	mf, ok := f[name]
	if !ok {
		return 0, false
	}
	var sum float64
	matched := false
	for _, m := range mf.GetMetric() {
		if !matchLabels(m.GetLabel(), labels) {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_UNTYPED:
			sum += m.GetUntyped().GetValue()
		default:
			return 0, false
		}
		matched = true
	}
	return sum, matched
}

// matchLabels reports whether every label of want has its value in got.
func matchLabels(got []*dto.LabelPair, want map[string]string) bool {
	for k, v := range want {
		have := ""
		for _, lp := range got {
			if lp.GetName() == k {
				have = lp.GetValue()
				break
			}
		}
		if have != v {
			return false
		}
	}
	return true
}
