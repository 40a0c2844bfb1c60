// Package series holds what a mesh experiment observed and what it adds up to.
//
// A [Table] is a flat list of [Sample]s: one node observed once, in one
// sampling round, with the figures scraped from it ("mem_bytes",
// "goroutines", "connections", …). Everything else is derived from that list
// on demand, so the list stays the single source of truth that is written to
// samples.csv and read back for later analysis:
//
//   - [Table.Role] gives the single numbers a test asserts on
//     (boot.Mean("goroutines"), peer.Spread("mem_bytes").P95, …);
//   - [Table.RoleOverTime] gives the per-round summaries a chart draws;
//   - [Table.Check] proves an invariant held in every sample, such as
//     the bootstrap holding exactly n connections;
//   - [Fit] fits cost against n or degree across the runs of a sweep.
//
// A sample whose Event is set marks a fault the run injected (a kill, a
// partition, a heal) at the time and round it happened, so samples.csv shows
// the faults among the figures they explain. Such rows hold no values, and
// everything above passes over them; [Table.Events] lists them.
//
// The package is pure: it knows nothing of Docker or Prometheus.
package series
