package meshtest

import (
	"fmt"
	"slices"

	"github.com/meshtest/meshtest/meshtest/chart"
	"github.com/meshtest/meshtest/meshtest/workload"
)

// namedChart is a chart with the file suffix and title it is saved under.
type namedChart struct {
	file, title string
	c           chart.Renderer
}

// workloadCharts are the charts of the window's gossip workload: how fast
// deliveries came, how they accrued over the window, and duplicates by
// degree. None without a workload.
func (r *Recording) workloadCharts() []namedChart {
	g := r.Gossip
	if g == nil {
		return nil
	}
	// Short titles: the chart does not wrap them.
	where := fmt.Sprintf("%s, %d nodes, %d × %d B", r.Graph.Name, r.Graph.N, g.Result.Messages, g.Load.Size)
	expected := float64(max(1, g.Result.Expected))

	// The CDF's height is the share of expected deliveries made by each
	// delay: its plateau is the delivery ratio.
	delays := workload.DeliveryCDF(g.Input)
	cdf := chart.Line{Name: "first deliveries"}
	for i, d := range delays {
		cdf.X, cdf.Y = append(cdf.X, d), append(cdf.Y, float64(i+1)/expected)
	}
	// Over the window: deliveries made against those due by then (every
	// subscriber but the publisher, from the publish on).
	counted := map[string]bool{}
	for _, msg := range g.Input.Messages {
		counted[msg.ID] = true
	}
	publisher := map[string]string{}
	for _, msg := range g.Input.Messages {
		publisher[msg.ID] = msg.From
	}
	var at []float64
	for _, d := range g.Input.Deliveries {
		if counted[d.ID] && publisher[d.ID] != d.Node {
			at = append(at, d.At.Sub(r.Started).Seconds())
		}
	}
	slices.Sort(at)
	made := chart.Line{Name: "delivered"}
	for i, x := range at {
		made.X, made.Y = append(made.X, x), append(made.Y, float64(i+1))
	}
	due := chart.Line{Name: "published × receivers", Dashed: true}
	receivers := float64(max(0, len(g.Input.Subscribers)-1))
	for i, msg := range g.Input.Messages {
		due.X, due.Y = append(due.X, msg.At.Sub(r.Started).Seconds()), append(due.Y, float64(i+1)*receivers)
	}
	// Duplicates against each node's gossip mesh degree: each mesh peer
	// may forward a copy.
	var points []chart.Point
	for _, name := range r.nodeNames() {
		if ng, ok := g.Result.PerNode[name]; ok && ng.Duplicates >= 0 {
			points = append(points, chart.Point{X: float64(g.Input.MeshDegree[name]), Y: ng.Duplicates})
		}
	}
	return []namedChart{
		{"gossip-delay-cdf", "Gossip first-delivery delay (CDF)", chart.TimeChart{
			Title: "Gossip delay CDF: " + where, YLabel: "share of expected deliveries", Lines: []chart.Line{cdf}}},
		{"gossip-deliveries", "Gossip deliveries over time", chart.TimeChart{
			Title: "Gossip deliveries: " + where, YLabel: "deliveries", Lines: []chart.Line{made, due}, Events: r.markers()}},
		{"gossip-duplicates", "Gossip duplicates by mesh degree", chart.ScatterFit{
			Title: "Gossip duplicates by mesh degree: " + where, XLabel: "mesh degree", YLabel: "duplicates per message",
			Points: points, PointsName: "nodes"}},
	}
}

// nodeNames are the recorded nodes' names in topology order.
func (r *Recording) nodeNames() []string {
	out := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		out[i] = n.Name
	}
	return out
}
