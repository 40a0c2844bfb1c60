package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
)

// BundledImageRepo is the repository of the bundled node's image. Its tag is
// the first 12 hex digits of the SHA-256 of its Dockerfile and binary, so an unchanged node is
// never rebuilt, and a changed one never runs under a stale tag.
const BundledImageRepo = "meshtest-node"

// bundled memoises the bundled node image for the test process: every
// experiment in one `go test` run shares one build. This is the package's only
// process-wide state; an image, like the process, outlives any one test.
var bundled struct {
	sync.Mutex
	tag string
}

// bundledImage builds node/cmd/meshnode from source with CGO disabled and
// wraps it in a FROM scratch image, offline. The Go build cache makes the
// compile cheap after the first time; the image is only built when no image
// with the binary's content tag exists.
func (b *Backend) bundledImage(ctx context.Context, logf backend.Logf) (string, error) {
	bundled.Lock()
	defer bundled.Unlock()
	if bundled.tag != "" {
		return bundled.tag, nil
	}
	root, err := backend.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "meshtest-node-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "meshnode")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./node/cmd/meshnode")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	cmd.WaitDelay = 10 * time.Second // a cancelled build's children must not hold its output open
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bundled node in %s: %w\n%s", root, err, out)
	}
	sum, err := contentHash(bin, "/meshnode")
	if err != nil {
		return "", err
	}
	tag := BundledImageRepo + ":" + sum[:12]
	if _, err := b.cli.ImageInspect(ctx, tag); err == nil {
		bundled.tag = tag
		return tag, nil
	}
	logf("meshtest: building image %s from %s", tag, filepath.Join(root, "node"))
	if err := b.buildScratchImage(ctx, bin, "/meshnode", tag); err != nil {
		return "", err
	}
	bundled.tag = tag
	return tag, nil
}

// scratchDockerfile is the whole recipe of an image around one binary.
func scratchDockerfile(dest string) string {
	return fmt.Sprintf("FROM scratch\nCOPY bin %s\nENTRYPOINT [%q]\n", dest, dest)
}

// contentHash identifies an image by everything that goes into it: the
// Dockerfile and the binary.
func contentHash(bin, dest string) (string, error) {
	f, err := os.Open(bin)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	io.WriteString(h, scratchDockerfile(dest))
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildScratchImage builds an image holding one static binary and nothing
// else, from a build context streamed from memory: no base image to pull.
// It declares no EXPOSE on purpose: testcontainers publishes every exposed
// port of an image on the host, and the harness reaches nodes on their
// container IPs instead (no docker-proxy per port and node).
func (b *Backend) buildScratchImage(ctx context.Context, bin, dest, tag string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	dockerfile := scratchDockerfile(dest)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"bin", 0o755, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := b.cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{"meshtest.image": "true"},
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer res.Body.Close()
	// The build reports failures in its JSON message stream, not the status.
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("build image %s: read build output: %w", tag, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("build image %s: %s", tag, msg.Error)
		}
	}
	return nil
}

// buildSpecImage builds the image a spec's Build describes, offline, into a
// FROM scratch image: `go install` of a pinned package (through the Go module
// proxy; a pinned version builds the same binary, so the image is tagged by
// the package string and never rebuilt), or a static binary on disk (tagged
// by its content).
func (b *Backend) buildSpecImage(ctx context.Context, s *spec.Spec, logf backend.Logf) (string, error) {
	repo := "meshtest-" + strings.ToLower(backend.SafeName(s.Name))
	dest := "/" + filepath.Base(strings.SplitN(s.Build.Package+s.Build.Binary, "@", 2)[0])
	if s.Build.Binary != "" {
		sum, err := contentHash(s.Build.Binary, dest)
		if err != nil {
			return "", fmt.Errorf("spec %q: build binary: %w", s.Name, err)
		}
		tag := repo + ":" + sum[:12]
		if _, err := b.cli.ImageInspect(ctx, tag); err == nil {
			return tag, nil
		}
		return tag, b.buildScratchImage(ctx, s.Build.Binary, dest, tag)
	}
	if !strings.Contains(s.Build.Package, "@") {
		return "", fmt.Errorf("spec %q: build package %q needs a pinned version (pkg@vX.Y.Z), so the image can be reused", s.Name, s.Build.Package)
	}
	h := sha256.Sum256([]byte(s.Build.Package + "\n" + strings.Join(s.Build.Requires, "\n") + "\n" + scratchDockerfile(dest)))
	tag := repo + ":" + hex.EncodeToString(h[:])[:12]
	if _, err := b.cli.ImageInspect(ctx, tag); err == nil {
		return tag, nil
	}
	dir, err := os.MkdirTemp("", "meshtest-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	logf("meshtest: building %s for spec %q (CGO_ENABLED=0 go build through the module proxy; minutes the first time)", s.Build.Package, s.Name)
	bin := filepath.Join(dir, strings.TrimPrefix(dest, "/"))
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOBIN="+dir, "GOFLAGS=-mod=mod")
	var steps [][]string
	if len(s.Build.Requires) == 0 {
		steps = [][]string{{"go", "install", "-trimpath", "-ldflags=-s -w", s.Build.Package}}
	} else {
		// A throwaway module requiring the package and the pins: unlike
		// `go install pkg@version` it tolerates replace directives upstream.
		pkg := strings.SplitN(s.Build.Package, "@", 2)[0]
		steps = [][]string{
			{"go", "mod", "init", "meshtest-build"},
			append([]string{"go", "get", s.Build.Package}, s.Build.Requires...),
			{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg},
		}
	}
	for _, step := range steps {
		cmd := exec.CommandContext(ctx, step[0], step[1:]...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.WaitDelay = 10 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("spec %q: %s: %w\n%s", s.Name, strings.Join(step, " "), err, out)
		}
	}
	if err := b.buildScratchImage(ctx, bin, dest, tag); err != nil {
		return "", fmt.Errorf("spec %q: %w", s.Name, err)
	}
	return tag, nil
}

// Image returns the image a spec runs: override or the spec's image, checked
// to be on the engine (no registry is reachable), or the image its build
// makes, built on first use.
func (b *Backend) Image(ctx context.Context, s *spec.Spec, override string, logf backend.Logf) (string, error) {
	img := override
	if img == "" {
		img = s.Image
	}
	switch {
	case img != "":
		if _, err := b.cli.ImageInspect(ctx, img); err != nil {
			return "", fmt.Errorf("image %q (spec %q) is not on the Docker engine (%v): no registry is reachable, so build it locally first (`docker build -t %s .`) or give the spec a \"build\"", img, s.Name, err, img)
		}
		return img, nil
	case s.Build != nil && s.Build.Bundled:
		return b.bundledImage(ctx, logf)
	case s.Build != nil:
		return b.buildSpecImage(ctx, s, logf)
	default:
		return "", fmt.Errorf("spec %q has neither an image nor a build", s.Name)
	}
}
