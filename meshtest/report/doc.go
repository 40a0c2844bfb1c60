// Package report writes the page a person opens after a run: report.html,
// one self-contained file with the verdict, the checks that made it, the
// proof that the mesh converged, the charts, how the links were shaped and
// whether they measured as asked, the faults the run injected, the
// per-role numbers, the comparison with the baseline and links to the
// other artifacts.
//
// The page is built for looking, not reading: the verdict is a green or red
// badge in the header, each check a ✓ or ✗, the timings bars of one scale,
// and the charts a grid; the numbers follow the pictures, and the
// parameters and the environment close the page, for whoever asks what was
// run and where.
//
// The file works offline and from a mail attachment: the CSS is inline,
// there is no JavaScript, no web font, no CDN, and every chart is inside the
// file. Charts are embedded as <img src="data:image/svg+xml;base64,…">
// rather than as inline <svg> elements. An SVG shown through <img> is a
// sealed document: the browser runs none of its scripts, loads none of its
// external references and lets none of its styles or ids leak into the
// page, so the report needs no SVG sanitizer to stay safe whatever bytes a
// chart holds. The cost is that the charts' text cannot be selected, which
// a chart of lines does not need.
//
// Every string is escaped by html/template. The regression table arrives as
// the Markdown that meshtest/regress writes for GitHub job summaries; a
// small converter turns its pipe tables, lists and verdict line into HTML,
// rather than a Markdown library that would bring a dependency and
// features (raw HTML, links) the report must not pass through.
//
// The package is pure: it takes values and writes bytes, and knows nothing
// of Docker or of how the numbers were measured.
package report
