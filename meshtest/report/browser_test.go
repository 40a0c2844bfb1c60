package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowser opens report.html in a real browser, as a person would open
// it from the artifacts: it must load without a console error, show every
// chart, and fit the window. The screenshot of the whole page is kept as
// report.png next to report.html, to look at.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	browser := startBrowser(t, exe)
	t.Logf("%s started in %v", exe, time.Since(start).Round(time.Millisecond))

	for _, verdict := range []string{"fail", "pass"} {
		t.Run("verdict="+verdict, func(t *testing.T) {
			d := sample(t, verdict)
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, d))
			path := filepath.Join(t.TempDir(), "report.html")
			require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(t.ArtifactDir(), "report.html"), buf.Bytes(), 0o644))

			start := time.Now()
			got, err := OpenPage(browser, path)
			require.NoError(t, err)
			t.Logf("loaded, checked and captured %s in %v", path, time.Since(start).Round(time.Millisecond))
			require.NoError(t, os.WriteFile(filepath.Join(t.ArtifactDir(), "report.png"), got.Screenshot, 0o644))

			assert.Empty(t, got.Problems, "the page logs no error and throws no exception")
			assert.Equal(t, strings.ToUpper(verdict)+": "+d.Title, got.Title)
			require.Len(t, got.Charts, len(d.Charts))
			for i, c := range got.Charts {
				assert.True(t, c.Complete && c.NaturalWidth > 0 && c.NaturalHeight > 0,
					"chart %d (%q) is drawn: complete=%v, natural size %d×%d", i, c.Alt, c.Complete, c.NaturalWidth, c.NaturalHeight)
			}
			assert.LessOrEqual(t, got.ScrollWidth, got.InnerWidth, "nothing sticks out of a %d px window", got.InnerWidth)
		})
	}

	// The checks above pass vacuously if the listener hears nothing; a page
	// that does everything wrong proves it does.
	t.Run("a broken page is caught", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "broken.html")
		require.NoError(t, os.WriteFile(path, []byte(`<!doctype html><title>broken</title>
<img class="chart" src="missing.svg" alt="missing">
<script>console.error("canary: console.error"); throw new Error("canary: exception")</script>`), 0o644))
		got, err := OpenPage(browser, path)
		require.NoError(t, err)
		all := strings.Join(got.Problems, "\n")
		assert.Contains(t, all, "canary: console.error")
		assert.Contains(t, all, "canary: exception")
		assert.Contains(t, all, "missing.svg", "a failed load is an error")
		require.Len(t, got.Charts, 1)
		assert.Zero(t, got.Charts[0].NaturalWidth, "a chart that did not load has no size")
	})
}

// chromium returns the browser to run, or skips the test when there is
// none; with MESHTEST_REQUIRE_CHROMIUM=1 (as in CI) a missing browser
// fails, so the test cannot be skipped by accident where it must run.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := FindBrowser()
	if err == nil {
		return p
	}
	msg := err.Error()
	if os.Getenv("MESHTEST_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + "; MESHTEST_REQUIRE_CHROMIUM=1 requires it")
	}
	t.Skip(msg)
	return ""
}

// browserTimeout bounds the whole browser test: start, three pages and the
// screenshots take 2-3 s on a laptop, so 30 s means something is stuck.
const browserTimeout = 30 * time.Second

// startBrowser starts headless Chromium and returns its chromedp context;
// each page opens in a tab of its own. The browser is stopped, and waited
// for, by t.Cleanup; its output goes to chromium.log in t.ArtifactDir().
func startBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	out, err := os.Create(filepath.Join(t.ArtifactDir(), "chromium.log"))
	require.NoError(t, err)
	t.Cleanup(func() { out.Close() }) // after the browser has exited: cleanups run last-in first-out

	ctx, cancelTimeout := context.WithTimeout(t.Context(), browserTimeout)
	t.Cleanup(cancelTimeout)
	ctx, stop, err := StartBrowser(ctx, exe, out)
	require.NoError(t, err, "(its output is in chromium.log)")
	t.Cleanup(stop) // waits for the process and removes its profile directory
	return ctx
}
