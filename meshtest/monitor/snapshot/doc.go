// Package snapshot reads a Prometheus TSDB snapshot, as the monitored mesh
// leaves it in the artifacts, so that a test can check what the artifact
// holds rather than only that a directory exists:
//
//	series, err := snapshot.Read(dir, `go_goroutines{node="bootstrap"}`)
//
// It reads the blocks with Prometheus's own readers of the on-disk format
// (tsdb/index, tsdb/chunks, tsdb/tombstones) and parses the selector with
// its own PromQL parser, at the version the server runs (monitor.Version),
// so a Prometheus pointed at the artifact would show the same series.
//
// It is a package of its own, and does not use package tsdb itself, for
// the weight: package tsdb imports Prometheus's config, and with it service
// discovery and remote-write auth — some 500 packages, the AWS, Azure, GCP
// and Kubernetes clients among them — which every user of meshtest would
// otherwise compile. Package monitor must not import this one.
package snapshot
