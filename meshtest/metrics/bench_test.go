package metrics

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

// payloads returns the recorded payloads encoded in both formats a node may
// answer with, keyed "filtered"/"full" then "text"/"protobuf".
func payloads(b *testing.B) map[string]map[string][]byte {
	b.Helper()
	out := make(map[string]map[string][]byte)
	for _, name := range []string{"filtered", "full"} {
		text, err := os.ReadFile(filepath.Join("testdata", "node-"+name+".txt"))
		if err != nil {
			b.Fatal(err)
		}
		fams, err := Decode(bytes.NewReader(text), fmtText)
		if err != nil {
			b.Fatal(err)
		}
		var pb bytes.Buffer
		enc := expfmt.NewEncoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim))
		for _, mf := range fams {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
		out[name] = map[string][]byte{"text": text, "protobuf": pb.Bytes()}
	}
	return out
}

var benchFormats = map[string]expfmt.Format{
	"text":     expfmt.NewFormat(expfmt.TypeTextPlain),
	"protobuf": expfmt.NewFormat(expfmt.TypeProtoDelim),
}

// BenchmarkDecode is the parse cost of one sample of one node: the default
// queries' ~1 KB filtered payload against a go-libp2p host's full ~40 KB
// exposition, in each wire format.
func BenchmarkDecode(b *testing.B) {
	p := payloads(b)
	for _, payload := range []string{"filtered", "full"} {
		for _, format := range []string{"text", "protobuf"} {
			body := p[payload][format]
			b.Run("payload="+payload+"/format="+format, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Decode(bytes.NewReader(body), benchFormats[format]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkScrape is one whole scrape over loopback: request, response and
// decode, with the server side (a static body, so little of it) in the same
// process. Against BenchmarkDecode it shows what HTTP adds.
func BenchmarkScrape(b *testing.B) {
	p := payloads(b)
	for _, payload := range []string{"filtered", "full"} {
		for _, format := range []string{"text", "protobuf"} {
			body := p[payload][format]
			ct := string(benchFormats[format])
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				_, _ = w.Write(body)
			}))
			b.Run("payload="+payload+"/format="+format, func(b *testing.B) {
				s := NewScraper(0)
				defer s.Close()
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Scrape(b.Context(), srv.URL); err != nil {
						b.Fatal(err)
					}
				}
			})
			srv.Close()
		}
	}
}

// BenchmarkScrapeClient compares the two clients on the scrape the sampler
// makes every interval: the default queries' filtered payload
// (testdata/node-filtered.txt) as delimited protobuf, over loopback, through
// Target.Scrape (one kept connection, read and written on the caller's
// goroutine) and through Scraper.Scrape (net/http's client from NewClient).
//
// cpu-ns/op is the CPU time, user plus system, of the whole process per
// scrape, from getrusage(RUSAGE_SELF) around the loop. The httptest server
// runs in this process, so the figure includes the server's share of each
// request as well as the client's; the server is the same for both clients,
// so the difference between them is the clients'. ns/op is wall time, which
// on an idle machine is mostly the loopback round trip.
func BenchmarkScrapeClient(b *testing.B) {
	body := payloads(b)["filtered"]["protobuf"]
	ct := string(benchFormats["protobuf"])
	if f := expfmt.ResponseFormat(http.Header{"Content-Type": {ct}}); f.FormatType() != expfmt.TypeProtoDelim {
		b.Fatalf("content type %q reads as %v, want delimited protobuf", ct, f)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	url := srv.URL + "/metrics"

	tg, err := NewTarget(url)
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	// The sampler's own form: the families its queries read.
	only, err := NewTarget(url, FamilyNames(DefaultQueries())...)
	if err != nil {
		b.Fatal(err)
	}
	defer only.Close()
	s := NewScraper(time.Second)
	defer s.Close()
	for _, c := range []struct {
		name   string
		scrape func(context.Context) (Families, error)
	}{
		{"target", func(ctx context.Context) (Families, error) { return tg.Scrape(ctx, time.Second) }},
		{"target-families", func(ctx context.Context) (Families, error) { return only.Scrape(ctx, time.Second) }},
		{"http", func(ctx context.Context) (Families, error) { return s.Scrape(ctx, url) }},
	} {
		b.Run("client="+c.name, func(b *testing.B) {
			// The first scrape dials; the loop measures kept connections,
			// as a sampler sees them after its first round.
			fams, err := c.scrape(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if len(fams) != len(DefaultQueries()) {
				b.Fatalf("decoded %d families, want %d", len(fams), len(DefaultQueries()))
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			before := processCPU(b)
			for b.Loop() {
				if _, err := c.scrape(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU(b) - before
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user plus system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExtract is the cost of turning a decoded payload into the default
// figures.
func BenchmarkExtract(b *testing.B) {
	fams := loadPayload(b, "node-full.txt")
	qs := DefaultQueries()
	b.ReportAllocs()
	for b.Loop() {
		if _, missing := Extract(fams, qs); len(missing) > 0 {
			b.Fatal(missing)
		}
	}
}

// BenchmarkDecodeOnly is the parse cost of one sample of a node that serves
// its whole ~40 KB exposition whatever name[] asks: Decode of all of it
// against DecodeOnly of the default queries' families, in each format.
func BenchmarkDecodeOnly(b *testing.B) {
	body := payloads(b)["full"]
	keep := map[string]bool{}
	for _, name := range FamilyNames(DefaultQueries()) {
		keep[name] = true
	}
	for _, format := range []string{"text", "protobuf"} {
		for _, only := range []bool{false, true} {
			var k map[string]bool
			if only {
				k = keep
			}
			b.Run("format="+format+"/only="+map[bool]string{false: "all", true: "queried"}[only], func(b *testing.B) {
				b.SetBytes(int64(len(body[format])))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := DecodeOnly(bytes.NewReader(body[format]), benchFormats[format], k); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
