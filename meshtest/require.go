package meshtest

import (
	"context"
	"testing"

	"github.com/meshtest/meshtest/meshtest/backend/docker"
)

// DockerAvailable reports whether a Docker engine answers, found the way
// New finds it (testcontainers-go's discovery: DOCKER_HOST, Docker contexts,
// rootless sockets), with the reason when none does.
func DockerAvailable(ctx context.Context) error { return docker.Available(ctx) }

// RequireDocker skips t when no Docker engine answers, saying why, so that
// `go test ./...` passes on a machine without one. With
// MESHTEST_REQUIRE_DOCKER=1 (as in CI) a missing engine fails t instead: there
// a skip would hide that nothing was tested.
func RequireDocker(t testing.TB) {
	t.Helper()
	docker.Require(t)
}
