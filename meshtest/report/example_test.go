package report_test

import (
	"bytes"
	"fmt"
	"log"
	"strings"

	"github.com/meshtest/meshtest/meshtest/report"
)

// An experiment fills Data from its summary and writes the page next to
// its other artifacts, e.g. to filepath.Join(t.ArtifactDir(), "report.html").
func ExampleWrite() {
	var page bytes.Buffer
	err := report.Write(&page, report.Data{
		Title:   "TestStar — star, 10 peers",
		Verdict: "pass",
		Params:  []report.KV{{Key: "peers", Value: "10"}, {Key: "duration", Value: "15s"}},
		Timings: []report.KV{{Key: "bring-up", Value: "4.2 s"}, {Key: "sampling", Value: "15.0 s"}},
		Convergence: report.Convergence{
			Proven: true, Edges: 10, Nodes: 11,
			Detail: "every edge seen from both ends after 0.4 s",
		},
		Checks: []report.Check{
			{Name: "bootstrap holds 10 connections", OK: true, Detail: "min 10, max 10"},
		},
		Regression: "✅ no regression\n\n| figure | baseline | now |\n|:--|--:|--:|\n| `bootstrap_bytes_per_conn` | 14.1 kB/conn | 14.3 kB/conn |\n",
		Files:      []string{"samples.csv", "summary.json"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, title, _ := strings.Cut(page.String(), "<title>")
	title, _, _ = strings.Cut(title, "</title>")
	fmt.Println(title)
	// Output: PASS: TestStar — star, 10 peers
}
