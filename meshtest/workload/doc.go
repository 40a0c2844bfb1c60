// Package workload computes what a workload did from what the nodes reported:
// gossip propagation and duplicates from per-message delivery records, perf
// throughput and connection time from repeated runs. It knows no Docker and no
// HTTP; the fixture (package meshtest) collects the inputs.
package workload
