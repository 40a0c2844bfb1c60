package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
)

// MaxPayloadBytes bounds the body one scrape reads. A full go-libp2p node
// exposes ~40 KB; anything a hundred times larger is a misbehaving endpoint,
// and reading it every second for every node would cost more than the
// experiment it measures.
const MaxPayloadBytes = 4 << 20

// acceptHeader prefers the delimited protobuf format and accepts text, as the
// Prometheus server does. Protobuf is the cheaper of the two to decode (see
// BenchmarkDecode); endpoints that only speak text answer with text.
const acceptHeader = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,` +
	`text/plain;version=0.0.4;q=0.3,*/*;q=0.1`

// Scraper fetches and decodes Prometheus expositions. One Scraper serves
// every node of a mesh and is safe for concurrent use; its connections stay
// open between scrapes, so a node scraped every second costs one request, not
// one TCP handshake, per sample.
//
// The zero value is usable and builds a client from NewClient on first use.
// Call Close when done to release idle connections.
type Scraper struct {
	// Client sends the requests. Nil means a client from NewClient, created
	// on first use.
	Client *http.Client

	// Timeout bounds each scrape on top of any deadline ctx carries. Zero
	// means ctx alone bounds it. A sampler should set it below its interval,
	// so that one stuck node costs a missing sample rather than a late row.
	// A client from NewClient gives up after 10 s whatever this says.
	Timeout time.Duration

	once sync.Once
	dflt *http.Client
}

// NewScraper returns a Scraper with a client from NewClient whose scrapes
// each give up after timeout (zero: only ctx bounds them).
func NewScraper(timeout time.Duration) *Scraper {
	return &Scraper{Client: NewClient(), Timeout: timeout}
}

// Close releases the idle connections of the Scraper's client.
func (s *Scraper) Close() {
	s.client().CloseIdleConnections()
}

func (s *Scraper) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	s.once.Do(func() { s.dflt = NewClient() })
	return s.dflt
}

// Scrape fetches url and decodes the exposition in whatever format the
// endpoint answered with (delimited protobuf, Prometheus text or
// OpenMetrics). An error names the URL; for a status other than 200 it also
// carries the start of the body, which is where endpoints say what went wrong.
func (s *Scraper) Scrape(ctx context.Context, url string) (Families, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, unwrapURLError(err))
	}
	defer func() {
		// Reading to EOF is what returns the connection to the idle pool;
		// the bound keeps a runaway body from being read just to reuse it.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
	}()
	fams, err := decodeResponse(resp, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return fams, nil
}

// decodeResponse checks a scrape's status and decodes its body in the format
// the endpoint answered with. It reads the body to its end (within
// MaxPayloadBytes), which is what lets a kept connection serve the next
// request. Errors for a status other than 200 carry the start of the body,
// which is where endpoints say what went wrong. A non-nil keep decodes those
// families alone (DecodeOnly). A non-nil buf is where the body is read, and
// is kept grown for the next call: a Target reads every sample into one
// buffer instead of allocating one per scrape.
func decodeResponse(resp *http.Response, keep map[string]bool, buf *[]byte) (Families, error) {
	if resp.StatusCode != http.StatusOK {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, fmt.Errorf("status %s: %q", resp.Status, strings.TrimSpace(string(head)))
	}
	lr := &limitedReader{r: resp.Body, n: MaxPayloadBytes}
	format := expfmt.ResponseFormat(resp.Header)
	var fams Families
	var err error
	if keep == nil {
		// Everything is decoded: as the body streams in.
		if fams, err = Decode(lr, format); err == nil {
			_, err = io.Copy(io.Discard, lr)
		}
	} else {
		// Most of the payload is skipped: read it whole, then pick.
		var body []byte
		if buf != nil {
			body = (*buf)[:0]
		}
		body, err = readAllInto(body, lr)
		if buf != nil {
			*buf = body
		}
		if err == nil && !lr.exceeded {
			fams, err = decodeOnlyBytes(body, format, keep)
		}
	}
	switch {
	case lr.exceeded:
		// Whether or not the cut made a parse error: a payload cut at a
		// line or message boundary decodes cleanly, yet is not the whole.
		return nil, fmt.Errorf("payload larger than %d bytes", MaxPayloadBytes)
	case err != nil && format == expfmt.FmtUnknown:
		// Name what the endpoint did send: usually a web page or a
		// proxy's error, not a metrics endpoint at all.
		return nil, fmt.Errorf("content type %q: %w", resp.Header.Get("Content-Type"), err)
	case err != nil:
		return nil, err
	}
	return fams, nil
}

// readAllInto is io.ReadAll appending to b, so that a buffer kept between
// calls is reused.
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the growth
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and URL that Scrape already names.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// limitedReader is io.LimitedReader that remembers whether the limit cut the
// body short, so that Scrape reports an oversized payload as such rather than
// as the parse error the truncation causes.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.exceeded = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// FilterURL returns base with one name[] query parameter per family name,
// the filter client_golang's promhttp handler (v1.21 and later) applies
// before encoding. An endpoint that ignores the parameter returns everything,
// which Extract handles the same way, only slower. Existing query parameters
// of base are kept; with no names, base is returned unchanged.
func FilterURL(base string, names []string) string {
	if len(names) == 0 {
		return base
	}
	var b strings.Builder
	b.WriteString(base)
	sep := byte('?')
	if strings.Contains(base, "?") {
		sep = '&'
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = 0
		}
	}
	for _, n := range names {
		if sep != 0 {
			b.WriteByte(sep)
		}
		sep = '&'
		// The brackets stay literal, as in promhttp's documentation and in
		// logs people compare with it; Go's server decodes either form.
		b.WriteString("name[]=")
		b.WriteString(url.QueryEscape(n))
	}
	return b.String()
}
