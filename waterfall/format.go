package waterfall

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// fmtDur formats a duration in at most 8 runes, with three significant
// digits where that fits: "0s", "850µs", "1.23ms", "123.4ms", "1.234s",
// "12.35s", "123.5s", "12.3h". Negative durations format as "0s".
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	case d < 100*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < 10000*time.Hour:
		return fmt.Sprintf("%.1fh", d.Hours())
	}
	return ">9999h"
}

// fmtBytes formats a byte count with decimal units: "512 B", "12.3 kB",
// "4.5 MB".
func fmtBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB", "PB"} {
		f /= 1000
		if f < 999.95 {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return fmt.Sprintf("%.1f EB", f/1000)
}

// sanitize makes s safe to print on a terminal: control characters,
// including ESC and the C1 range, become '?', and invalid UTF-8 becomes
// U+FFFD. Span names and attributes come from anywhere, including servers.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate returns s cut to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// SGR parameters of the styles used; "" is plain.
const (
	styleNone    = ""
	styleBold    = "1"
	styleDim     = "2"
	styleRed     = "31"
	styleGreen   = "32"
	styleYellow  = "33"
	styleBlue    = "34"
	styleMagenta = "35"
	styleCyan    = "36"
	styleGray    = "90"
)

// seg is a run of text in one style. A shrinkable seg, such as a URL, is cut
// first when a line is too long.
type seg struct {
	text   string
	style  string
	shrink bool
}

// minShrunk is the fewest runes a shrinkable seg is cut to before the line
// itself is cut.
const minShrunk = 16

// fit cuts segs to at most n runes in all: shrinkable segs first, down to
// minShrunk runes each, then the end of the line, which then ends in "…".
// It returns the segs and their length in runes.
func fit(segs []seg, n int) ([]seg, int) {
	total := 0
	for _, s := range segs {
		total += utf8.RuneCountInString(s.text)
	}
	if total <= n {
		return segs, total
	}
	out := make([]seg, len(segs))
	copy(out, segs)
	excess := total - n
	for i := range out {
		if excess == 0 {
			break
		}
		if !out[i].shrink {
			continue
		}
		l := utf8.RuneCountInString(out[i].text)
		cut := min(excess, l-minShrunk)
		if cut <= 0 {
			continue
		}
		out[i].text = truncate(out[i].text, l-cut)
		excess -= cut
	}
	if excess == 0 {
		return out, n
	}
	// Cut the end: keep n-1 runes and add "…".
	if n <= 0 {
		return nil, 0
	}
	kept := out[:0]
	room := n - 1
	for _, s := range out {
		l := utf8.RuneCountInString(s.text)
		if l <= room {
			kept = append(kept, s)
			room -= l
			continue
		}
		s.text = truncate(s.text, room+1)
		kept = append(kept, s)
		room = -1
		break
	}
	if room >= 0 {
		// Unreachable while total > n, kept for safety.
		kept = append(kept, seg{text: "…"})
	}
	return kept, n
}

// painter writes styled text, with ANSI SGR sequences when color is on.
type painter struct {
	b     *strings.Builder
	color bool
}

func (p painter) write(text, style string) {
	if text == "" {
		return
	}
	if !p.color || style == styleNone {
		p.b.WriteString(text)
		return
	}
	// Separating spaces stay plain.
	for text != "" && text[0] == ' ' {
		p.b.WriteByte(' ')
		text = text[1:]
	}
	if text == "" {
		return
	}
	p.b.WriteString("\x1b[")
	p.b.WriteString(style)
	p.b.WriteString("m")
	p.b.WriteString(text)
	p.b.WriteString("\x1b[0m")
}
