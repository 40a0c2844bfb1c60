package meshtest

import (
	"fmt"
	"maps"
	"testing"

	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/series"
)

// DegreeFit is one figure against the number of connections each node holds:
// a point per node (its degree, its mean over the window) and the least-squares
// line through them.
type DegreeFit struct {
	Figure string
	X, Y   []float64 // degree and time mean, one pair per node
	Nodes  []string
	Line   series.Line
	Err    error // the fit's, e.g. every node has the same degree
}

// ByDegree fits figure against the nodes' degrees in the topology.
func (r *Recording) ByDegree(figure string) DegreeFit {
	f := DegreeFit{Figure: figure}
	deg := r.Graph.Degrees()
	means := map[string]float64{}
	for _, role := range r.Roles() {
		for node, v := range r.Role(role).NodeMeans(figure) {
			means[node] = v
		}
	}
	for _, n := range r.nodes {
		if v, ok := means[n.Name]; ok {
			f.X, f.Y, f.Nodes = append(f.X, float64(deg[n.Index])), append(f.Y, v), append(f.Nodes, n.Name)
		}
	}
	f.Line, f.Err = series.Fit(f.X, f.Y)
	return f
}

var degreeFigures = []struct {
	file, figure, label string
	unit                chart.Unit
}{
	{"memory", FigMemBytes, "container memory", chart.Bytes},
	{"goroutines", FigGoroutines, "goroutines", chart.Count},
	{"cpu", FigCPUCores, "container CPU (cores)", chart.Count},
}

// WriteDegreeArtifacts charts memory, goroutines and CPU against each node's
// degree, with the fitted line and its R², next to the other artifacts
// (<name>-<peers>-degree-memory.png, …).
func (r *Recording) WriteDegreeArtifacts(t testing.TB) {
	t.Helper()
	files := map[string][]byte{}
	prefix := r.filePrefix()
	for _, df := range degreeFigures {
		fit := r.ByDegree(df.figure)
		c := chart.ScatterFit{
			Title:      fmt.Sprintf("%s against connections: %s, %d nodes", df.label, r.Graph.Name, r.Graph.N),
			XLabel:     "connections (degree)",
			YLabel:     df.label,
			YUnit:      df.unit,
			PointsName: "nodes (time mean)",
		}
		for i := range fit.X {
			c.Points = append(c.Points, chart.Point{X: fit.X[i], Y: fit.Y[i]})
		}
		if fit.Err == nil {
			c.Fit = &chart.FitLine{Slope: fit.Line.Slope, Intercept: fit.Line.Intercept, R2: fit.Line.R2}
		}
		rendered, err := chart.Files(fmt.Sprintf("%s-degree-%s", prefix, df.file), c)
		if err != nil {
			t.Errorf("meshtest: %v", err)
		}
		maps.Copy(files, rendered)
	}
	for _, dir := range artifactDirs(t, r.Config.ResultsDir) {
		if err := writeFiles(dir, files); err != nil {
			t.Errorf("meshtest: write degree charts to %s: %v", dir, err)
		}
	}
}
