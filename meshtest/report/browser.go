package report

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumNames are the names a Chromium-based browser has in PATH: Debian's
// package, Ubuntu's and Google's.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// FindBrowser returns the path of a Chromium-based browser in PATH.
func FindBrowser() (string, error) {
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium in PATH (looked for %s); install it (Debian: apt-get install chromium)", strings.Join(chromiumNames, ", "))
}

// StartBrowser starts headless Chromium and returns its chromedp context;
// each page opens in a tab of its own. stop ends the browser and waits for
// it. Its output goes to output.
func StartBrowser(ctx context.Context, exe string, output io.Writer) (browser context.Context, stop func(), err error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, and /dev/shm not used
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // the sandbox needs user namespaces, which a root in a container lacks
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(output),
	)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	stop = func() { cancelBrowser(); cancelAlloc() }
	// The first action starts the browser; its context must outlive the
	// tabs, so it is this one and not a tab's.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w", exe, err)
	}
	return ctx, stop, nil
}

// Capture opens the page at path in a headless Chromium found in PATH and
// returns what it showed, screenshot included, within a minute.
func Capture(ctx context.Context, path string) (PageState, error) {
	exe, err := FindBrowser()
	if err != nil {
		return PageState{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	browser, stop, err := StartBrowser(ctx, exe, io.Discard)
	if err != nil {
		return PageState{}, err
	}
	defer stop()
	return OpenPage(browser, path)
}

// PageState is what a person would see of a page: its title, its charts,
// whether it fits the window, and the errors in the console they did not
// open.
type PageState struct {
	Title                   string
	Charts                  []ChartImage
	ScrollWidth, InnerWidth int
	Problems                []string // error-level console calls, exceptions, failed loads
	Screenshot              []byte   // PNG of the whole page
}

type ChartImage struct {
	Alt           string `json:"alt"`
	Complete      bool   `json:"complete"`
	NaturalWidth  int    `json:"naturalWidth"`
	NaturalHeight int    `json:"naturalHeight"`
}

// OpenPage loads the file at path in a new tab of the browser at a laptop's
// window size and reads what a person would see.
func OpenPage(browser context.Context, path string) (PageState, error) {
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	// Listen rather than Console: it sees each event before the reply to
	// the command that follows it, so once the last command has returned,
	// every message the page wrote is in problems.
	err := chromedp.Listen(tab, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				p = "console." + string(ev.Type) + ": " + consoleArgs(ev.Args)
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			p = "exception: " + d.Text
			if d.Exception != nil {
				p += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p = fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	})
	if err != nil {
		return PageState{}, fmt.Errorf("open a tab: %w", err)
	}

	var s PageState
	u := (&url.URL{Scheme: "file", Path: path}).String()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(u)); err != nil {
		return s, fmt.Errorf("load %s: %w", u, err)
	}
	if s.Title, err = chromedp.Run(tab, chromedp.Title()); err != nil {
		return s, fmt.Errorf("read the title: %w", err)
	}
	// The load event waits for every image, so by now each chart has
	// decoded or failed; naturalWidth is 0 for one that failed.
	s.Charts, err = chromedp.Run(tab, chromedp.Evaluate[[]ChartImage](`Array.from(document.querySelectorAll("img.chart"),
		i => ({alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))`))
	if err != nil {
		return s, fmt.Errorf("read the charts: %w", err)
	}
	size, err := chromedp.Run(tab, chromedp.Evaluate[[2]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil {
		return s, fmt.Errorf("read the page width: %w", err)
	}
	s.ScrollWidth, s.InnerWidth = size[0], size[1]
	if s.Screenshot, err = chromedp.Run(tab, chromedp.FullScreenshot(100)); err != nil { // 100: PNG, not JPEG
		return s, fmt.Errorf("screenshot: %w", err)
	}
	mu.Lock()
	s.Problems = slices.Clone(problems)
	mu.Unlock()
	return s, nil
}

// consoleArgs renders the arguments of a console call: strings as they
// are, other values by their description.
func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case a.Type == runtime.RemoteObjectTypeString:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Value))
		}
	}
	return strings.Join(parts, " ")
}
