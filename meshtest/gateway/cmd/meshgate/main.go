// Command meshgate is meshtest's gateway into a network the harness's host
// cannot route to (a swarm's overlay): it serves HTTP CONNECT on
// 0.0.0.0:7960 (gateway.Port) in its container, tunnels that carry
// "Proxy-Authorization: Bearer $MESHGATE_TOKEN" only, to addresses in the
// prefixes of -allow only. A static binary for a FROM scratch image, on a
// read-only root with every capability dropped:
//
//	MESHGATE_TOKEN=<token> meshgate -allow 10.0.1.0/24
//
// It prints one JSON line when serving and exits 0 on SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshtest/meshtest/meshtest/gateway"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "meshgate: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("meshgate", flag.ContinueOnError)
	allow := fs.String("allow", "", "comma-separated prefixes a tunnel may go to, e.g. 10.0.1.0/24 (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := os.Getenv("MESHGATE_TOKEN")
	if token == "" {
		return errors.New("MESHGATE_TOKEN is empty: a gateway needs a token")
	}
	var prefixes []netip.Prefix
	for _, p := range strings.Split(*allow, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("-allow %q: %w", p, err)
		}
		prefixes = append(prefixes, pre.Masked())
	}
	if len(prefixes) == 0 {
		return errors.New("-allow is empty: name the network's prefix, e.g. -allow 10.0.1.0/24")
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(gateway.Port))
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "", log.LstdFlags)
	srv := &http.Server{
		Handler:           &gateway.Server{Token: token, Allow: prefixes, Logf: logger.Printf},
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close() // tunnels are hijacked: Close ends the listener, not them, and the process's exit ends them
	}()
	line, _ := json.Marshal(map[string]any{"event": "serving", "addr": ln.Addr().String(), "allow": *allow})
	fmt.Println(string(line))
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
