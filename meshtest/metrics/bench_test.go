package metrics

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

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
