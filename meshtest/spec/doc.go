// Package spec says how to run one kind of node: its image or how to build
// one, its ports, its command line, environment and files as templates
// filled per node, how the harness learns its peer ID, when it is ready, and
// which of its metrics count its connections.
//
// A spec is a Go value or a JSON file (Load). The bundled go-libp2p node is
// Bundled(); a JSON file with {"build": {"bundled": true}} starts from it and
// changes only what it names. Everything here is pure: no backend, no
// network, so a bad spec fails with a message naming the spec and the field
// before anything starts.
package spec
