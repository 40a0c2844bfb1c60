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
//	topology -> deploy -> converge -> sample -> series/stats -> assert | chart | report
//	topology    meshtest   meshtest    metrics,   series          the test, chart, regress
//	                                   cgroup
//
// Only this package knows Docker (through testcontainers-go). Everything it
// starts carries labels naming the run and is removed by t.Cleanup, on
// SIGINT/SIGTERM, or shortly before the test's -timeout; a later run sweeps
// what a killed one left. Nodes run without capabilities, read-only, on an
// internal network, and are reached on their container IPs: no port is
// published unless the host cannot route to containers.
//
// The default node is the bundled go-libp2p daemon of node/, built from
// source; a Spec runs any other image (see BundledSpec and LoadSpec).
package meshtest
