// Command meshnode is the bundled meshtest node: a go-libp2p host with TCP,
// Noise and Yamux, no hidden connection limits, Prometheus metrics and JSON
// event lines on stdout. See package github.com/meshtest/meshtest/node for
// flags, environment variables and endpoints.
//
// Exit status: 0 after a clean shutdown on SIGTERM or SIGINT, 2 for a bad
// flag or variable, 1 when the node fails to start or stop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/meshtest/meshtest/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := node.ParseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, err)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshnode: %v\n", err)
		return 2
	}
	cfg.Out = stdout

	// SIGTERM is what docker stop sends; the node must close its connections
	// and exit 0 so a stopped container is told apart from a crashed one.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	n, err := node.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "meshnode: %v\n", err)
		return 1
	}
	<-ctx.Done()
	if err := n.Close(); err != nil {
		fmt.Fprintf(stderr, "meshnode: %v\n", err)
		return 1
	}
	return 0
}
