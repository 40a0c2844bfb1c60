package chart_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/series"
)

// lineOf turns a role's per-round summaries into a chart line, with pick
// choosing the statistic (mean, p95, …).
func lineOf(name string, points []series.Point, pick func(series.Stats) float64) chart.Line {
	l := chart.Line{Name: name}
	for _, p := range points {
		l.X = append(l.X, p.Elapsed.Seconds())
		l.Y = append(l.Y, pick(p.Stats))
	}
	return l
}

func dashed(l chart.Line) chart.Line {
	l.Dashed = true
	return l
}

// A memory chart of a star: the bootstrap against the mean and p95 of its
// peers, written as PNG and SVG.
func ExampleTimeChart() {
	rec := &series.Table{Interval: time.Second}
	for round := range 60 {
		at := time.Duration(round) * time.Second
		rec.Samples = append(rec.Samples,
			series.Sample{Round: round, Elapsed: at, Node: "bootstrap", Role: "bootstrap",
				Values: map[string]float64{"mem_bytes": 16e6 + float64(round)*1e4}},
			series.Sample{Round: round, Elapsed: at, Node: "peer-1", Role: "peer",
				Values: map[string]float64{"mem_bytes": 8.5e6}},
			series.Sample{Round: round, Elapsed: at, Node: "peer-2", Role: "peer",
				Values: map[string]float64{"mem_bytes": 8.7e6}},
		)
	}
	mean := func(s series.Stats) float64 { return s.Mean }
	p95 := func(s series.Stats) float64 { return s.P95 }
	peers := rec.RoleOverTime("peer", "mem_bytes")
	c := chart.TimeChart{
		Title:  "star-2: memory per node",
		YLabel: "memory",
		YUnit:  chart.Bytes,
		Lines: []chart.Line{
			lineOf("bootstrap", rec.RoleOverTime("bootstrap", "mem_bytes"), mean),
			lineOf("peer mean", peers, mean),
			dashed(lineOf("peer p95", peers, p95)),
		},
	}

	dir, err := os.MkdirTemp("", "meshtest-chart")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	for _, format := range []chart.Format{chart.PNG, chart.SVG} {
		f, err := os.Create(filepath.Join(dir, "star-2-memory."+format.String()))
		if err != nil {
			fmt.Println(err)
			return
		}
		err = c.Render(f, format)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		fmt.Println(filepath.Base(f.Name()), err)
	}
	// Output:
	// star-2-memory.png <nil>
	// star-2-memory.svg <nil>
}
