package waterfall

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// Bar glyphs.
const (
	glyphSpan      = '█'
	glyphAbandoned = '░'
	glyphPoint     = '·'
)

// barMinWidth is the narrowest line that gets time bars.
const barMinWidth = 40

// maxDepth is the deepest level of the tree that is indented.
const maxDepth = 100

// row is one laid-out line before it is fitted to the width.
type row struct {
	prefix string // tree glyphs
	label  []seg
	dur    string
	n      *node // nil for the header
}

// render writes the waterfall of one trace to b: a header line with the
// trace id, the total duration and the time axis, then one line per node.
// No line is longer than width runes. Only the nodes' own timestamps are
// used, so the output is a function of the input.
func render(b *strings.Builder, id trace.TraceID, f *forest, width int, color bool) {
	rows := layout(f.roots)
	total := f.t1.Sub(f.t0)
	header := headerRow(id, f, total)

	durW := utf8.RuneCountInString(header.dur)
	for _, r := range rows {
		durW = max(durW, utf8.RuneCountInString(r.dur))
	}
	// A line is label, " ", duration, then " |", bar, "|" when there is
	// room for bars.
	barW := 0
	if width >= barMinWidth {
		barW = (width - durW - 4) / 3
	}
	labelW := width - durW - 1
	if barW > 0 {
		labelW -= barW + 3
	}
	alignFacts(rows, labelW)

	lw := lineWriter{b: b, color: color, labelW: labelW, durW: durW, barW: barW}
	ax := axis{t0: f.t0, t1: f.t1, cells: barW}
	lw.line(header, func(p painter) { p.write(ax.scale(fmtDur(total)), styleDim) })
	for _, r := range rows {
		lw.line(r, func(p painter) { ax.bar(p, r.n) })
	}
}

// layout walks the trees depth first and returns one row per node, with
// its tree glyphs, label and duration.
func layout(roots []*node) []row {
	var rows []row
	var walk func(nodes []*node, parent *node, indent string, depth int)
	walk = func(nodes []*node, parent *node, indent string, depth int) {
		for i, n := range nodes {
			last := i == len(nodes)-1
			prefix, childIndent := "", ""
			if depth > 0 {
				prefix, childIndent = indent+"├─ ", indent+"│  "
				if last {
					prefix, childIndent = indent+"└─ ", indent+"   "
				}
				// Past maxDepth levels, which no line is wide enough to
				// show, the indent stops growing: a chain of thousands of
				// spans costs no more than its rows.
				if depth >= maxDepth {
					childIndent = indent
				}
			}
			r := row{prefix: prefix, label: label(n, parent), n: n}
			switch {
			case n.event:
			case n.start.IsZero():
				r.dur = "?"
			default:
				r.dur = fmtDur(n.end.Sub(n.start))
			}
			rows = append(rows, r)
			walk(n.children, n, childIndent, depth+1)
		}
	}
	walk(roots, nil, "", 0)
	return rows
}

// headerRow is the first line: the trace id, whether it continues one
// printed before, and how many spans failed.
func headerRow(id trace.TraceID, f *forest, total time.Duration) row {
	header := row{label: []seg{{text: "trace " + id.String(), style: styleBold}}, dur: fmtDur(total)}
	if f.continued {
		header.label = append(header.label, seg{text: " (continued)", style: styleDim})
	}
	if f.errorCount > 0 {
		text := " ✗ 1 error"
		if f.errorCount > 1 {
			text = " ✗ " + strconv.Itoa(f.errorCount) + " errors"
		}
		header.label = append(header.label, seg{text: text, style: styleRed})
	}
	return header
}

// alignFacts pads the labels of rows so that facts start in one column,
// after the longest prefix and name of the phase and other rows that have
// facts, on each of them where that leaves room in labelW. Request and event
// rows have a long first fact, and go their own way.
func alignFacts(rows []row, labelW int) {
	aligned := func(r row) bool { return len(r.label) > 1 && !r.n.event && !isRequest(r.n) }
	nameW := 0
	for _, r := range rows {
		if aligned(r) {
			nameW = max(nameW, utf8.RuneCountInString(r.prefix)+utf8.RuneCountInString(r.label[0].text))
		}
	}
	for i, r := range rows {
		if !aligned(r) {
			continue
		}
		l := utf8.RuneCountInString(r.prefix)
		for _, s := range r.label {
			l += utf8.RuneCountInString(s.text)
		}
		pad := nameW - utf8.RuneCountInString(r.prefix) - utf8.RuneCountInString(r.label[0].text)
		if pad > 0 && l+pad <= labelW {
			rows[i].label = slices.Insert(slices.Clone(r.label), 1, seg{text: strings.Repeat(" ", pad)})
		}
	}
}

// lineWriter writes rows as lines of the given column widths: the label cut
// to labelW, the duration right-aligned in durW, and a bar of barW cells
// when barW is positive.
type lineWriter struct {
	b                  *strings.Builder
	color              bool
	labelW, durW, barW int
}

func (w lineWriter) line(r row, bar func(p painter)) {
	var lb strings.Builder
	lp := painter{b: &lb, color: w.color}
	segs := r.label
	if r.prefix != "" {
		segs = append([]seg{{text: r.prefix, style: styleDim}}, segs...)
	}
	segs, used := fit(segs, max(w.labelW, 0))
	for _, s := range segs {
		lp.write(s.text, s.style)
	}
	lb.WriteString(strings.Repeat(" ", max(w.labelW-used, 0)+1))
	lb.WriteString(strings.Repeat(" ", w.durW-utf8.RuneCountInString(r.dur)))
	lb.WriteString(r.dur)
	if w.barW > 0 {
		lb.WriteString(" |")
		bar(lp)
		lb.WriteString("|")
	}
	w.b.WriteString(strings.TrimRight(lb.String(), " "))
	w.b.WriteString("\n")
}

// axis maps times to bar cells: cells columns from t0 to t1.
type axis struct {
	t0, t1 time.Time
	cells  int
}

// scale is the axis legend: "0" at the left, the total at the right.
func (a axis) scale(total string) string {
	l := utf8.RuneCountInString(total)
	if a.cells < l+2 {
		return "0" + strings.Repeat(" ", max(a.cells-1, 0))
	}
	return "0" + strings.Repeat(" ", a.cells-1-l) + total
}

// cell returns the position of t in cells, as a fraction.
func (a axis) cell(t time.Time) float64 {
	span := a.t1.Sub(a.t0)
	if span <= 0 {
		return 0
	}
	return float64(t.Sub(a.t0)) / float64(span) * float64(a.cells)
}

// bar writes n's bar: the cells from its start to its end, each rounded to
// the nearest cell boundary, at least one cell for a span that lasts; and a
// dot in the cell after the boundary nearest the instant (the last cell for
// the end of the axis) for an event or a span that lasted no time, so that
// it lines up with bars starting at the same time.
func (a axis) bar(p painter, n *node) {
	cells := a.cells
	if n.start.IsZero() || a.t0.IsZero() || cells <= 0 || a.linkedBefore(n) {
		p.b.WriteString(strings.Repeat(" ", max(cells, 0)))
		return
	}
	clamp := func(f float64) int {
		if math.IsNaN(f) {
			return 0
		}
		return int(min(max(f, 0), float64(cells)))
	}
	var c0, c1 int
	glyph := glyphSpan
	switch {
	case n.event || !n.end.After(n.start):
		glyph = glyphPoint
		c0 = min(clamp(math.Round(a.cell(n.start))), cells-1)
		c1 = c0 + 1
	default:
		if abandoned(n) {
			glyph = glyphAbandoned
		}
		c0 = min(clamp(math.Round(a.cell(n.start))), cells-1)
		c1 = max(clamp(math.Round(a.cell(n.end))), c0+1)
	}
	p.b.WriteString(strings.Repeat(" ", c0))
	p.write(strings.Repeat(string(glyph), c1-c0), barStyle(n))
	p.b.WriteString(strings.Repeat(" ", cells-c1))
}
