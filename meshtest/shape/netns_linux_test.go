package shape

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// requireNetns skips t unless it may create network namespaces (root, and
// ip and go on PATH). With MESHTEST_REQUIRE_DOCKER=1 (as in CI, which runs
// as root) it fails t instead: there a skip would hide that shaping was
// never measured.
func requireNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, fmt.Sprintf("root (euid is %d; the test creates network namespaces)", os.Geteuid()))
	}
	for _, tool := range []string{"ip", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s on PATH (%v)", tool, err))
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "this test needs " + strings.Join(missing, " and ")
	if os.Getenv("MESHTEST_REQUIRE_DOCKER") == "1" {
		t.Fatalf("MESHTEST_REQUIRE_DOCKER=1 but %s", msg)
	}
	t.Skipf("skipping, %s (set MESHTEST_REQUIRE_DOCKER=1 to fail instead)", msg)
}

// Addresses of the namespace pair, in 10.99.0.0/30.
const (
	shapedIP  = "10.99.0.1" // namespace a: runs meshshaper on its eth0
	measureIP = "10.99.0.2" // namespace b: the measuring side
)

// nsPair is two network namespaces joined by a veth pair, each end named
// eth0 as in a container. Traffic stays between the two.
type nsPair struct{ a, b string }

// newNSPair creates the pair; t.Cleanup deletes both namespaces (and with
// them the veth, any IFB, qdisc and nftables table in them), pass or fail.
func newNSPair(t *testing.T) nsPair {
	t.Helper()
	p := nsPair{a: fmt.Sprintf("mtshape-%d-a", os.Getpid()), b: fmt.Sprintf("mtshape-%d-b", os.Getpid())}
	t.Cleanup(func() {
		for _, ns := range []string{p.a, p.b} {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
				t.Errorf("delete netns %s: %v: %s", ns, err, out)
			}
		}
	})
	for _, args := range [][]string{
		{"netns", "add", p.a},
		{"netns", "add", p.b},
		{"link", "add", "eth0", "netns", p.a, "type", "veth", "peer", "name", "eth0", "netns", p.b},
		{"-n", p.a, "addr", "add", shapedIP + "/30", "dev", "eth0"},
		{"-n", p.b, "addr", "add", measureIP + "/30", "dev", "eth0"},
		{"-n", p.a, "link", "set", "lo", "up"},
		{"-n", p.b, "link", "set", "lo", "up"},
		{"-n", p.a, "link", "set", "eth0", "up"},
		{"-n", p.b, "link", "set", "eth0", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return p
}

// addSources gives namespace b the extra addresses 10.99.1.1, 10.99.1.2, …
// (n of them) on its eth0, and namespace a a route to them, so that one
// namespace can stand for several peers: a socket bound to one of them is
// one source (or destination) to a's rules.
func (p nsPair) addSources(t *testing.T, n int) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 99, 1, byte(i + 1)})
		out = append(out, a)
		if b, err := exec.Command("ip", "-n", p.b, "addr", "add", a.String()+"/32", "dev", "eth0").CombinedOutput(); err != nil {
			t.Fatalf("add address %v in %s: %v: %s", a, p.b, err, b)
		}
	}
	if b, err := exec.Command("ip", "-n", p.a, "route", "add", "10.99.1.0/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("route to the sources in %s: %v: %s", p.a, err, b)
	}
	return out
}

// inNetns runs fn on a thread switched into namespace ns. Sockets fn opens
// stay in ns after it returns and may be used from any goroutine. If the
// thread cannot switch back it is left locked, so it dies with its goroutine.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			errc <- fmt.Errorf("netns %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", ns, err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// leftovers lists what of this package remains in namespace ns.
func leftovers(ns string) ([]string, error) {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, err
	}
	defer nl.Close()
	var left []string
	links, err := nl.LinkList()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "mtshape") {
			left = append(left, "link "+l.Attrs().Name)
		}
		qs, err := nl.QdiscList(l)
		if err != nil {
			return nil, err
		}
		for _, q := range qs {
			if q.Type() == "htb" || q.Type() == "ingress" {
				left = append(left, fmt.Sprintf("qdisc %s on %s", q.Type(), l.Attrs().Name))
			}
		}
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		return nil, err
	}
	ts, err := c.ListTables()
	if err != nil {
		return nil, err
	}
	for _, tb := range ts {
		left = append(left, fmt.Sprintf("nft table %s (family %d)", tb.Name, tb.Family))
	}
	return left, nil
}

// buildShaper builds cmd/meshshaper, static as it ships.
func buildShaper(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meshshaper")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/meshshaper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build meshshaper: %v: %s", err, out)
	}
	return bin
}

// shaperEvent is one JSON line of meshshaper's output.
type shaperEvent struct {
	Event, Mechanism, Kernel, Iface string
	Packets, Released, Errors       uint64
	MeanLateUS                      float64 `json:"mean_late_us"`
	MaxLateUS                       float64 `json:"max_late_us"`
	CPUms                           float64 `json:"cpu_ms"`
	LastError                       string  `json:"last_error"`
}

// shaperProc is a meshshaper running in a namespace.
type shaperProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer
	Ready  shaperEvent
}

// startShaper runs meshshaper in ns with args and waits for its "shaped"
// line. t.Cleanup kills it if the test did not stop it.
func startShaper(t *testing.T, bin, ns string, args ...string) *shaperProc {
	t.Helper()
	return startShaperEnv(t, bin, ns, nil, "shaped", args...)
}

// startShaperEnv runs meshshaper in ns with args and the environment env
// added, and waits for the event want.
func startShaperEnv(t *testing.T, bin, ns string, env []string, want string, args ...string) *shaperProc {
	t.Helper()
	p := &shaperProc{lines: make(chan string, 8)}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("meshshaper: %v", err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start meshshaper: %v", err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	ev, err := p.next(10 * time.Second)
	if err != nil || ev.Event != want {
		p.cmd.Process.Kill()
		werr := p.cmd.Wait()
		t.Fatalf("meshshaper %s: want a %s event, got %+v, %v (exit: %v); stderr: %s", strings.Join(args, " "), want, ev, err, werr, p.stderr.String())
	}
	p.Ready = ev
	return p
}

func (p *shaperProc) next(timeout time.Duration) (shaperEvent, error) {
	var ev shaperEvent
	select {
	case line, ok := <-p.lines:
		if !ok {
			return ev, errors.New("output ended")
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return ev, fmt.Errorf("parse %q: %w", line, err)
		}
		return ev, nil
	case <-time.After(timeout):
		return ev, fmt.Errorf("no output in %v", timeout)
	}
}

// stop sends SIGTERM and returns the "removed" event; meshshaper must exit 0.
func (p *shaperProc) stop(t *testing.T) shaperEvent {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal meshshaper: %v", err)
	}
	ev, err := p.next(5 * time.Second)
	werr := p.cmd.Wait()
	if err != nil || ev.Event != "removed" || werr != nil {
		t.Fatalf("meshshaper stop: want a removed event and exit 0, got %+v, %v (exit: %v); stderr: %s", ev, err, werr, p.stderr.String())
	}
	return ev
}

// runShaper runs meshshaper to completion, for arguments it must refuse.
func runShaper(bin, ns string, args ...string) (stderr string, err error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	var buf bytes.Buffer
	cmd.Stderr = &buf
	err = cmd.Run()
	return buf.String(), err
}
