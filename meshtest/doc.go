// Package meshtest runs distributed-network experiments as plain Go tests:
// it deploys a mesh of nodes on a fresh Docker network, proves that every
// connection of the topology is up, samples every node's cost, and writes
// what it saw as charts, CSV and a JSON summary.
//
//	mesh := meshtest.New(t, meshtest.Config{Name: "star", Peers: 100})
//	rec := mesh.Record(t, 30*time.Second)
//	rec.WriteArtifacts(t)
//	boot, peer := rec.Role("bootstrap"), rec.Role("peer")
//
// The data path, and the package that owns each step:
//
//	topology -> deploy  -> converge -> sample   -> stats  -> assert | chart | report
//	topology    backend    meshtest    metrics,    series    the test, chart, report, regress
//	            (docker)               cgroup
//
// The fixture talks to whatever runs the nodes through meshtest/backend;
// meshtest/backend/docker, the default, is the only package that knows
// Docker (see the backend package for how Docker Swarm and an in-process
// simulation fit the same seam). Everything a mesh starts belongs to its
// run and is removed by t.Cleanup, on SIGINT/SIGTERM, or shortly before the
// test's -timeout; a later run sweeps what a killed one left. Nodes run
// without capabilities, read-only, on an internal network, and are reached
// on their own addresses: no port is published unless the host cannot
// route to containers.
//
// The default node is the bundled go-libp2p daemon of node/, built from
// source; a spec.Spec runs any other image (see spec.Bundled and spec.Load).
// RegisterFlags gives any test package the experiment flags, and Sweep an
// n-sweep for benchmarks.
package meshtest
