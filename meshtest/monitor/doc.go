// Package monitor puts a real Prometheus server into a mesh: the server's
// command line, the prometheus.yml that scrapes every node, the exporter
// through which the harness's own container samples reach it, a PromQL
// client, and the TSDB snapshot that goes into the artifacts (which package
// snapshot reads).
//
// The harness samples every node itself, and that is what its assertions
// and charts use. Prometheus is there for the person reading the results:
// the same endpoints scraped on Prometheus's schedule, beside the
// container-level figures the harness exports, kept in a snapshot that any
// Prometheus (and Grafana on top of it) can open after the run. It also
// cross-checks the harness: both must agree on what a node reported.
//
// The package knows nothing of Docker: it produces a config and a command
// line for whatever deploys the server, talks HTTP to a URL, and reads and
// writes files. Deploying code wires it up roughly so:
//
//	x, err := monitor.NewExporter(gateway) // the host's address on the mesh bridge
//	cfg := monitor.Config(run, time.Second, targets, x.Addr())
//	// ... start Package with Args(), cfg at ConfigPath, wait for ReadyPath ...
//	c, err := monitor.NewClient(url, transport)
//	err = c.WaitTargets(ctx, len(targets), time.Minute)
//	// ... every interval: x.Set(node, role, group, stats) ...
//	name, err := c.Snapshot(ctx)
//	// ... copy SnapshotDir(name) out of the container through Untar ...
//	series, err := snapshot.Read(dest, `{node="bootstrap"}`)
//
// Reading the snapshot is package snapshot's, with Prometheus's own TSDB
// readers at the version the server is built from, so that a test can check
// that the artifact holds the samples it should rather than only that a
// directory exists. It is kept out of this package, which imports nothing
// of the Prometheus server's module: every user of meshtest compiles this
// package, and only the tests that read a snapshot compile that one.
package monitor
