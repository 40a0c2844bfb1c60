package monitor

import "strconv"

// Version is the Prometheus server a monitored mesh runs: built from source,
// through the Go module proxy, into a FROM scratch image tagged by this
// version and reused across runs (the first build takes minutes). It is also
// the version of the github.com/prometheus/prometheus module in go.mod, whose
// TSDB readers package snapshot uses: the reader is the server's own code.
const Version = "v0.316.0"

// Package is the Go package the server image is built from.
const Package = "github.com/prometheus/prometheus/cmd/prometheus@" + Version

// BuildTags leave every service discovery but the static and file ones out
// of the server (Prometheus's plugins/ build constraints): the mesh's
// targets are static, and the cloud SDKs are most of the build.
var BuildTags = []string{"remove_all_sd"}

// Port is the server's HTTP port, for the API, the UI and its own metrics.
const Port = 9090

// ConfigPath is where the server reads its prometheus.yml (Config). Writing
// a file there makes the container's root filesystem writable, which DataDir
// relies on.
const ConfigPath = "/etc/prometheus/prometheus.yml"

// ReadyPath answers 200 once the server has replayed its TSDB and is ready
// to serve queries: the readiness check for the deploying code.
const ReadyPath = "/-/ready"

// DataDir holds the server's TSDB. It is on the container's root filesystem
// rather than a tmpfs: Docker cannot copy files out of a tmpfs, and the
// snapshot must come out. (Not /prometheus, the image's usual path: in the
// FROM scratch image that is the binary.)
const DataDir = "/data"

// Args is the server's command line after the binary: the config at
// ConfigPath, the TSDB in DataDir, listening on Port, and the admin API on,
// which Client.Snapshot needs.
func Args() []string {
	return []string{
		"--config.file=" + ConfigPath,
		"--storage.tsdb.path=" + DataDir,
		"--web.listen-address=:" + strconv.Itoa(Port),
		"--web.enable-admin-api",
	}
}

// SnapshotDir is where, inside the server's container, the snapshot that
// Client.Snapshot named lies: the directory to copy out.
func SnapshotDir(name string) string {
	return DataDir + "/snapshots/" + name
}
