package spec_test

import (
	"fmt"

	"github.com/meshtest/meshtest/meshtest/spec"
)

// The bundled node with one setting changed, as a JSON spec file holds it.
func ExampleParse() {
	s, err := spec.Parse([]byte(`{"name": "meshnode-capped", "build": {"bundled": true}, "env": {"MESHNODE_CONN_HIGH": "50"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name, s.Env["MESHNODE_CONN_HIGH"], s.Env["MESHNODE_DIAL"], s.Identity.From)
	// Output: meshnode-capped 50 {{.DialAddrs}} assigned
}

// A spec's mistakes are named before anything starts.
func ExampleSpec_Check() {
	s := &spec.Spec{Name: "mine", Image: "mine:1", P2PPort: 4001, MetricsPort: 9090, Identity: spec.Identity{From: "dns"}}
	fmt.Println(s.Check())
	// Output: spec "mine": identity "from" is "dns"; use "assigned", "log" or "http"
}
