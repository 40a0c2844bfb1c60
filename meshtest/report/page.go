package report

import (
	_ "embed"
	"html/template"
)

// pageHTML is the page's template with its CSS. It lives in its own file
// so that it reads (and diffs) as HTML rather than as a Go string.
//
//go:embed page.html
var pageHTML string

// page is parsed once; a template error is a bug in this package, found by
// any test, so Must is the honest way to report it.
var page = template.Must(template.New("report.html").Parse(pageHTML))
