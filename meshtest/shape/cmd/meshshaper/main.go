// Command meshshaper shapes one interface of the network namespace it runs
// in. It is a static binary (CGO_ENABLED=0) meant to run beside a node, in
// an image with nothing else in it: it needs no shell, no files, no /tmp,
// and runs on a read-only root:
//
//	docker run --network container:<node> --cap-drop ALL --cap-add NET_ADMIN --read-only \
//	    -e MESHSHAPER_TOKEN=<token> meshshaper -serve
//
// With -serve it is the node's helper (shape.StartHelper): it removes what a
// crashed predecessor left, runs shape.Detect, and serves the control API
// on 0.0.0.0:7950 (shape.ControlPort), every request with "Authorization:
// Bearer $MESHSHAPER_TOKEN" — GET /healthz, PUT /rules, GET /stats, POST
// /probe/rtt and POST /probe/throughput, see the shape package — and the
// probe protocol on 7951 (shape.ProbePort), UDP and TCP. The token is
// required. It prints one JSON line on stdout when serving,
//
//	{"event":"serving","kernel":"nfqueue-delay-line","iface":"eth0","control":"[::]:7950","probe_port":7951,...}
//
// and on SIGTERM or SIGINT removes every rule, prints one line with the
// delay lines' counters and the process's CPU time,
//
//	{"event":"removed","mechanism":"nfqueue-delay-line","packets":15,"released":15,"mean_late_us":110.6,"max_late_us":586.6,"cpu_ms":17.6,...}
//
// and exits 0. Errors go to stderr and exit 1.
//
// Without -serve it applies the shape given by flags, for every peer alike,
// and holds it until a signal, printing a "shaped" line when it is in place
// and the same "removed" line at the end:
//
//	meshshaper -ingress-latency 50ms -ingress-loss 1% -egress-rate 10mbit
//
// "mechanism" is what delays packets ("" when nothing is delayed),
// "kernel" what Detect found the kernel allows. With -remove it only
// removes a shape left by a meshshaper that was killed, and exits.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meshtest/meshtest/meshtest/shape"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "meshshaper: %v\n", err)
		os.Exit(1)
	}
}

// event is one line of meshshaper's output.
type event struct {
	Event     string  `json:"event"`
	Mechanism string  `json:"mechanism"`
	Kernel    string  `json:"kernel,omitempty"`
	Iface     string  `json:"iface"`
	Egress    string  `json:"egress,omitempty"`
	Ingress   string  `json:"ingress,omitempty"`
	Packets   uint64  `json:"packets,omitempty"`
	Released  uint64  `json:"released,omitempty"`
	Errors    uint64  `json:"errors,omitempty"`
	MeanLate  float64 `json:"mean_late_us,omitempty"`
	MaxLate   float64 `json:"max_late_us,omitempty"`
	CPUms     float64 `json:"cpu_ms,omitempty"`
	LastError string  `json:"last_error,omitempty"`
	Control   string  `json:"control,omitempty"`
	ProbePort int     `json:"probe_port,omitempty"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("meshshaper", flag.ContinueOnError)
	iface := fs.String("iface", "", "interface to shape (default: the one interface besides the loopback)")
	remove := fs.Bool("remove", false, "only remove a shape left on -iface, then exit")
	serve := fs.Bool("serve", false, "serve the control API and the probe protocol; token in $MESHSHAPER_TOKEN")
	control := fs.String("control", fmt.Sprintf("0.0.0.0:%d", shape.ControlPort), "with -serve: control API address")
	probe := fs.String("probe", fmt.Sprintf("0.0.0.0:%d", shape.ProbePort), "with -serve: probe server address, UDP and TCP")
	var s shape.Shape
	linkFlags(fs, "egress", &s.Egress)
	linkFlags(fs, "ingress", &s.Ingress)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *iface == "" {
		only, err := shape.OnlyInterface()
		if err != nil {
			return err
		}
		*iface = only
	}
	if *remove {
		return shape.Remove(*iface)
	}
	if *serve && !s.IsZero() {
		return errors.New("-serve takes no shape flags; PUT the rules to /rules")
	}
	// Signals are caught before anything is shaped, so a SIGTERM racing with
	// the start still removes it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	kernel, err := shape.Detect()
	if err != nil {
		return err
	}
	if *serve {
		return runServe(sig, shape.HelperConfig{Iface: *iface, Token: os.Getenv("MESHSHAPER_TOKEN"), Kernel: kernel,
			ControlAddr: *control, ProbeAddr: *probe})
	}
	return runOnce(sig, *iface, kernel, s)
}

// runOnce holds s on iface until a signal.
func runOnce(sig <-chan os.Signal, iface string, kernel shape.Mechanism, s shape.Shape) error {
	sh, err := shape.Apply(iface, s)
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	cpu0 := shape.CPUTime()
	mech := sh.Mechanism()
	if err := out.Encode(event{Event: "shaped", Mechanism: string(mech), Kernel: string(kernel),
		Iface: iface, Egress: s.Egress.String(), Ingress: s.Ingress.String()}); err != nil {
		return fmt.Errorf("report ready: %w; %w", err, sh.Close())
	}
	<-sig
	if err := sh.Close(); err != nil {
		return err
	}
	return out.Encode(removed(mech, iface, sh.Stats(), shape.CPUTime()-cpu0))
}

// runServe serves until a signal, then removes every rule.
func runServe(sig <-chan os.Signal, cfg shape.HelperConfig) error {
	if cfg.Token == "" {
		return errors.New("-serve needs a token in $MESHSHAPER_TOKEN: every control request must carry it")
	}
	h, err := shape.StartHelper(cfg)
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(event{Event: "serving", Kernel: string(cfg.Kernel), Iface: cfg.Iface,
		Control: h.ControlAddr(), ProbePort: h.ProbePort()}); err != nil {
		_, cerr := h.Close()
		return fmt.Errorf("report ready: %w; %w", err, cerr)
	}
	<-sig
	mech := h.Stats().Mechanism
	st, err := h.Close()
	if err != nil {
		return err
	}
	ev := removed(mech, cfg.Iface, st.Delay, st.CPU)
	ev.Kernel = string(cfg.Kernel)
	return out.Encode(ev)
}

func removed(mech shape.Mechanism, iface string, st shape.DelayStats, cpu time.Duration) event {
	return event{Event: "removed", Mechanism: string(mech), Iface: iface,
		Packets: st.Packets, Released: st.Released, Errors: st.Errors,
		MeanLate: us(st.MeanLate), MaxLate: us(st.MaxLate),
		CPUms: float64(cpu) / 1e6, LastError: st.LastError}
}

// linkFlags registers -<dir>-latency, -jitter, -loss and -rate for l.
func linkFlags(fs *flag.FlagSet, dir string, l *shape.Link) {
	fs.Func(dir+"-latency", dir+" one-way delay (50ms)", func(v string) (err error) { l.Latency, err = shape.ParseDuration(v); return })
	fs.Func(dir+"-jitter", dir+" delay spread ± (5ms)", func(v string) (err error) { l.Jitter, err = shape.ParseDuration(v); return })
	fs.Func(dir+"-loss", dir+" loss (1% or 0.01)", func(v string) (err error) { l.Loss, err = shape.ParseLoss(v); return })
	fs.Func(dir+"-rate", dir+" rate (10mbit, 500kbit, 1gbit)", func(v string) (err error) { l.Rate, err = shape.ParseRate(v); return })
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
