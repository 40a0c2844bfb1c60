package node_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/meshtest/meshtest/node"
	ma "github.com/multiformats/go-multiaddr"
)

// Two in-process nodes on free ports: b dials a, retrying until a answers.
func ExampleStart() {
	ctx := context.Background()
	a, err := node.Start(ctx, node.Config{Out: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	target, err := ma.NewMultiaddr(fmt.Sprintf("%s/p2p/%s", a.Addrs()[0], a.ID()))
	if err != nil {
		log.Fatal(err)
	}
	b, err := node.Start(ctx, node.Config{Out: os.Stdout, Dial: []ma.Multiaddr{target}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	fmt.Println("metrics at http://" + b.MetricsAddr() + "/metrics?name[]=meshnode_peers")
}
