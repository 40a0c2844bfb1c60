// Command meshshaper shapes one interface of the network namespace it runs
// in, holds the shape until SIGTERM or SIGINT, and then removes everything it
// added. It is a static binary (CGO_ENABLED=0) meant to run beside a node:
//
//	docker run --network container:<node> --cap-add NET_ADMIN --cap-drop ALL meshshaper \
//	    -ingress-latency 50ms -ingress-loss 1% -egress-rate 10mbit
//
// It prints one JSON line on stdout when the shape is in place,
//
//	{"event":"shaped","mechanism":"nfqueue-delay-line","kernel":"nfqueue-delay-line","iface":"eth0",...}
//
// and one when it has removed it, with the delay line's counters and the
// process's CPU time; then it exits 0. Errors go to stderr and exit 1.
// "mechanism" is what delays packets ("" when nothing is delayed), "kernel"
// what Detect found the kernel allows. With -remove it only removes a shape
// left by a meshshaper that was killed, and exits.
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
	"golang.org/x/sys/unix"
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
}

func run(args []string) error {
	fs := flag.NewFlagSet("meshshaper", flag.ContinueOnError)
	iface := fs.String("iface", "eth0", "interface to shape")
	remove := fs.Bool("remove", false, "only remove a shape left on -iface, then exit")
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
	if *remove {
		return shape.Remove(*iface)
	}
	kernel, err := shape.Detect()
	if err != nil {
		return err
	}
	// Signals are caught before the shape exists, so a SIGTERM racing with
	// Apply still removes it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)

	sh, err := shape.Apply(*iface, s)
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	cpu0 := cpuTime()
	if err := out.Encode(event{Event: "shaped", Mechanism: string(sh.Mechanism()), Kernel: string(kernel),
		Iface: *iface, Egress: s.Egress.String(), Ingress: s.Ingress.String()}); err != nil {
		return fmt.Errorf("report ready: %w; %w", err, sh.Close())
	}
	<-sig
	st := sh.Stats()
	cpu := cpuTime() - cpu0
	if err := sh.Close(); err != nil {
		return err
	}
	return out.Encode(event{Event: "removed", Mechanism: string(sh.Mechanism()), Iface: *iface,
		Packets: st.Packets, Released: st.Released, Errors: st.Errors,
		MeanLate: us(st.MeanLate), MaxLate: us(st.MaxLate),
		CPUms: float64(cpu) / 1e6, LastError: st.LastError})
}

// linkFlags registers -<dir>-latency, -jitter, -loss and -rate for l.
func linkFlags(fs *flag.FlagSet, dir string, l *shape.Link) {
	fs.Func(dir+"-latency", dir+" one-way delay (50ms)", func(v string) (err error) { l.Latency, err = shape.ParseDuration(v); return })
	fs.Func(dir+"-jitter", dir+" delay spread ± (5ms)", func(v string) (err error) { l.Jitter, err = shape.ParseDuration(v); return })
	fs.Func(dir+"-loss", dir+" loss (1% or 0.01)", func(v string) (err error) { l.Loss, err = shape.ParseLoss(v); return })
	fs.Func(dir+"-rate", dir+" rate (10mbit, 500kbit, 1gbit)", func(v string) (err error) { l.Rate, err = shape.ParseRate(v); return })
}

// cpuTime is the process's user+system CPU time so far: the delay line's
// cost, as nothing else in this process runs while it is shaped.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
