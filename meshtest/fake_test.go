package meshtest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/meshtest/meshtest/meshtest/backend"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/topology"
)

// fakeBackend records what the fixture asks of a backend, in order, so that
// tests can check the fixture's side of the seam without an engine: which
// units it starts with which settings, that logs are read before removal,
// that nothing starts after it. Start blocks while block is set, until the
// call's context ends, like a slow engine.
type fakeBackend struct {
	mu       sync.Mutex
	calls    []string
	units    []backend.Unit
	block    bool
	removeFn func(id string) error
	left     map[string][]string
}

func (f *fakeBackend) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeBackend) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) Name() string { return "fake" }
func (f *fakeBackend) Image(_ context.Context, s *spec.Spec, override string, _ backend.Logf) (string, error) {
	if override != "" {
		return override, nil
	}
	return "image-of-" + s.Name, nil
}
func (f *fakeBackend) NewRun(_ context.Context, o backend.RunOptions) (backend.Run, error) {
	f.record("new-run %s", o.ID)
	return &fakeRun{f: f, id: o.ID}, nil
}
func (f *fakeBackend) RemoveRun(_ context.Context, id string, _ backend.Logf) error {
	f.record("remove-run %s", id)
	if f.removeFn != nil {
		return f.removeFn(id)
	}
	return nil
}
func (f *fakeBackend) Leftovers(_ context.Context, id string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.left[id], nil
}
func (f *fakeBackend) RemoveAbandoned(context.Context, backend.Logf) { f.record("sweep") }
func (f *fakeBackend) Info(context.Context) backend.Info             { return backend.Info{Backend: "fake"} }

type fakeRun struct {
	f  *fakeBackend
	id string
}

func (r *fakeRun) ID() string      { return r.id }
func (r *fakeRun) Network() string { return "net-" + r.id }
func (r *fakeRun) Start(ctx context.Context, u backend.Unit) (backend.Instance, error) {
	r.f.record("start %s", u.Name)
	r.f.mu.Lock()
	r.f.units = append(r.f.units, u)
	block := r.f.block
	r.f.mu.Unlock()
	if block {
		<-ctx.Done()
		return backend.Instance{}, ctx.Err()
	}
	return backend.Instance{Name: u.Name, Handle: "h-" + u.Name, Image: u.Image}, nil
}
func (r *fakeRun) Status(context.Context) (map[string]backend.Status, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	out := map[string]backend.Status{}
	for _, u := range r.f.units {
		out[u.Name] = backend.Status{Running: true, State: "running", IP: "10.0.0.1", MetricsAddr: "10.0.0.1:1"}
	}
	return out, nil
}
func (r *fakeRun) Logs(_ context.Context, name string, _ int) (string, error) {
	r.f.record("logs %s", name)
	return "log of " + name, nil
}
func (r *fakeRun) Cost(context.Context, []string) (backend.CostReader, error) {
	return nil, fmt.Errorf("fake: no cost")
}
func (r *fakeRun) HostAddr(context.Context) (string, error) { return "10.0.0.254", nil }
func (r *fakeRun) CopyFrom(context.Context, string, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}
func (r *fakeRun) RemoveCommand() string { return "remove " + r.id }

// fakeMesh is a mesh on the fake backend, prepared (not started): its nodes
// have specs, images and identities, and its run exists.
func fakeMesh(t *testing.T, cfg Config, g topology.Graph) (*Mesh, *fakeBackend) {
	t.Helper()
	f := &fakeBackend{left: map[string][]string{}}
	cfg.Backend, cfg.Peers = f, g.N-1
	m, err := prepare(t.Context(), t.Name(), cfg, g, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	if err := m.assignSpecs(m.ctx); err != nil {
		t.Fatal(err)
	}
	run, err := f.NewRun(m.ctx, backend.RunOptions{ID: m.Run})
	if err != nil {
		t.Fatal(err)
	}
	m.run, m.Network = run, run.Network()
	return m, f
}

func (f *fakeBackend) HelperImage(context.Context, backend.Logf) (string, error) {
	return "image-of-meshshaper", nil
}

func (r *fakeRun) Act(_ context.Context, name string, a backend.Action) error {
	r.f.record("%s %s", a, name)
	return nil
}

// Exits reports nothing: fake units never die.
func (r *fakeRun) Exits(ctx context.Context) (<-chan backend.Exit, error) {
	ch := make(chan backend.Exit)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}
