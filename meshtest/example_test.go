package meshtest_test

import (
	"testing"
	"time"

	"github.com/meshtest/meshtest/meshtest"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// A star of 20 peers around a bootstrap: the seed's experiment in a few lines.
func ExampleNew() {
	var t *testing.T // in a test: func TestStar(t *testing.T)

	mesh := meshtest.New(t, meshtest.Config{Name: "star", Peers: 20})
	rec := mesh.Record(t, 30*time.Second)
	rec.WriteArtifacts(t)

	boot, peer := rec.Role("bootstrap"), rec.Role("peer")
	if boot.Min(meshtest.FigConns) != 20 {
		t.Errorf("the bootstrap lost connections")
	}
	if boot.Mean(meshtest.FigGoroutines) <= peer.Mean(meshtest.FigGoroutines) {
		t.Errorf("the bootstrap should run more goroutines than a peer")
	}
}

// Any topology, with cost fitted against each node's degree.
func ExampleNewGraph() {
	var t *testing.T

	g, err := topology.Parse("random-regular:d=4", 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	mesh := meshtest.NewGraph(t, meshtest.Config{}, g)
	rec := mesh.Record(t, time.Minute)
	rec.WriteArtifacts(t)
	rec.WriteDegreeArtifacts(t)
}

// Another image in place of the bundled node, from a spec file.
func ExampleConfig_Spec() {
	var t *testing.T

	s, err := spec.Load("../testdata/specs/kubo-peer.json") // relative to the test's package

	if err != nil {
		t.Fatal(err)
	}
	mesh := meshtest.New(t, meshtest.Config{Name: "kubo", Peers: 20, Spec: s})
	mesh.Record(t, 30*time.Second).WriteArtifacts(t)
}
