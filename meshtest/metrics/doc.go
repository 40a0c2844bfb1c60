// Package metrics scrapes a node's Prometheus endpoint and turns the answer
// into the named figures meshtest samples every interval.
//
// It is one of the two views of a node's cost (the other is package cgroup):
// the node's own account of goroutines, heap, RSS, file descriptors and libp2p
// connections and streams. The package knows nothing of Docker; it takes a URL
// and returns values, so it is tested against recorded payloads in testdata/.
//
// A sampler for n nodes holds one Scraper and, per node, one filtered URL:
//
//	s := metrics.NewScraper(time.Second)
//	defer s.Close()
//	qs := metrics.DefaultQueries()
//	url := metrics.FilterURL("http://172.18.0.5:9100/metrics", metrics.FamilyNames(qs))
//	fams, err := s.Scrape(ctx, url)
//	values, missing := metrics.Extract(fams, qs)
//
// Asking for the few families the harness charts (name[] filter) rather than
// the whole exposition is what keeps 100 scrapes a second cheap: a go-libp2p
// node exposes ~40 KB of text, of which the default queries need ~1 KB.
package metrics
