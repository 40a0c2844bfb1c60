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

// HelperImageRepo is the repository of the network helper's image
// (meshshaper), tagged by content like the bundled node's.
const HelperImageRepo = "meshtest-shaper"

// GatewayImageRepo is the repository of the gateway's image (meshgate, of
// meshtest/gateway), which carries the harness into a swarm's overlay.
const GatewayImageRepo = "meshtest-gateway"

// command is a command of this module that meshtest runs in a container,
// with its image once built.
type command struct {
	repo string // BundledImageRepo, HelperImageRepo
	pkg  string // the go command's package path, from the module root
	dest string // where the binary is in the image, its entry point

	mu  sync.Mutex
	tag string // once built (or found) in this process
}

// The module's commands that meshtest runs. They memoise their image for
// the test process, the package's only process-wide state: every
// experiment of one `go test` run shares one build, and an image, like the
// process, outlives any one test.
var (
	bundledNode = &command{repo: BundledImageRepo, pkg: "./node/cmd/meshnode", dest: "/meshnode"}
	shaper      = &command{repo: HelperImageRepo, pkg: "./meshtest/shape/cmd/meshshaper", dest: "/meshshaper"}
	gatewayCmd  = &command{repo: GatewayImageRepo, pkg: "./meshtest/gateway/cmd/meshgate", dest: "/meshgate"}
)

// HelperImage is the image of meshshaper, built like the bundled node.
func (b *Backend) HelperImage(ctx context.Context, logf backend.Logf) (string, error) {
	return b.commandImage(ctx, shaper, logf)
}

// GatewayImage is the image of meshgate, built like the bundled node.
func (b *Backend) GatewayImage(ctx context.Context, logf backend.Logf) (string, error) {
	return b.commandImage(ctx, gatewayCmd, logf)
}

// commandImage builds c from the module's source with CGO disabled and wraps
// it in a FROM scratch image, offline. The Go build cache makes the compile
// cheap after the first time; the image is only built when no image with
// the binary's content tag exists. A failure is not memoised: the next call
// tries again.
func (b *Backend) commandImage(ctx context.Context, c *command, logf backend.Logf) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tag != "" {
		return c.tag, nil
	}
	root, err := backend.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", c.repo+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, filepath.Base(c.dest))
	if err := goCommand(ctx, root, nil, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, c.pkg); err != nil {
		return "", fmt.Errorf("build %s in %s: %w", c.pkg, root, err)
	}
	tag, err := b.scratchImage(ctx, c.repo, bin, c.dest, filepath.Join(root, c.pkg), logf)
	if err != nil {
		return "", err
	}
	c.tag = tag
	return tag, nil
}

// goCommand runs the go command in dir the way every binary of an image
// here is built: CGO disabled, for Linux, so that the binary is static and
// runs FROM scratch. env is added to the environment.
func goCommand(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), env...)
	cmd.WaitDelay = 10 * time.Second // a cancelled build's children must not hold its output open
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// scratchImage returns repo:<content hash> holding bin at dest, and builds
// it unless the engine has it already: the same binary is never built into
// an image twice, and a changed one never runs under a stale tag. from says
// where the binary comes from, in the line logged when it is built.
func (b *Backend) scratchImage(ctx context.Context, repo, bin, dest, from string, logf backend.Logf) (string, error) {
	sum, err := contentHash(bin, dest)
	if err != nil {
		return "", err
	}
	tag := repo + ":" + sum[:12]
	if _, err := b.cli.ImageInspect(ctx, tag); err == nil {
		return tag, nil
	}
	logf("meshtest: building image %s from %s", tag, from)
	if err := b.buildScratchImage(ctx, bin, dest, tag); err != nil {
		return "", err
	}
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
		tag, err := b.scratchImage(ctx, repo, s.Build.Binary, dest, s.Build.Binary, logf)
		if err != nil {
			return "", fmt.Errorf("spec %q: build binary: %w", s.Name, err)
		}
		return tag, nil
	}
	if !strings.Contains(s.Build.Package, "@") {
		return "", fmt.Errorf("spec %q: build package %q needs a pinned version (pkg@vX.Y.Z), so the image can be reused", s.Name, s.Build.Package)
	}
	h := sha256.Sum256([]byte(s.Build.Package + "\n" + strings.Join(s.Build.Requires, "\n") + "\n" + scratchDockerfile(dest) + tagsKey(s.Build.Tags)))
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
	env := []string{"GOBIN=" + dir, "GOFLAGS=-mod=mod"}
	flags := []string{"-trimpath", "-ldflags=-s -w"}
	if len(s.Build.Tags) > 0 {
		flags = append(flags, "-tags="+strings.Join(s.Build.Tags, ","))
	}
	var steps [][]string
	if len(s.Build.Requires) == 0 {
		steps = [][]string{append(append([]string{"install"}, flags...), s.Build.Package)}
	} else {
		// A throwaway module requiring the package and the pins: unlike
		// `go install pkg@version` it tolerates replace directives upstream.
		pkg := strings.SplitN(s.Build.Package, "@", 2)[0]
		steps = [][]string{
			{"mod", "init", "meshtest-build"},
			append([]string{"get", s.Build.Package}, s.Build.Requires...),
			append(append([]string{"build"}, flags...), "-o", bin, pkg),
		}
	}
	for _, step := range steps {
		if err := goCommand(ctx, dir, env, step...); err != nil {
			return "", fmt.Errorf("spec %q: %w", s.Name, err)
		}
	}
	if err := b.buildScratchImage(ctx, bin, dest, tag); err != nil {
		return "", fmt.Errorf("spec %q: %w", s.Name, err)
	}
	return tag, nil
}

// tagsKey is the build tags' part of an image's content tag: nothing for
// none, so that images built before tags existed keep their tags.
func tagsKey(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return "\ntags " + strings.Join(tags, ",")
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
		return b.commandImage(ctx, bundledNode, logf)
	case s.Build != nil:
		return b.buildSpecImage(ctx, s, logf)
	default:
		return "", fmt.Errorf("spec %q has neither an image nor a build", s.Name)
	}
}
