package waterfall

import (
	"io"
	"os"
	"strconv"
)

const (
	// defaultWidth is the width used when neither WithWidth, the terminal
	// nor COLUMNS gives one.
	defaultWidth = 100
	// minWidth and maxWidth bound every width, given or detected.
	minWidth = 20
	maxWidth = 1000
)

// config is the configuration of an [Exporter]. Its zero value means
// "automatic" for every setting.
type config struct {
	// width is the line width in columns, or 0 to detect it at each
	// rendering.
	width int
	// color is nil to decide from the writer and the environment.
	color *bool
	// lookupEnv reads the environment; os.LookupEnv unless a test injects
	// another.
	lookupEnv func(key string) (string, bool)
	// terminal reports whether w is a terminal and, if so, its file
	// descriptor; isTerminal unless a test injects another.
	terminal func(w io.Writer) (fd int, ok bool)
	// termWidth returns the width of the terminal fd; terminalWidth unless
	// a test injects another.
	termWidth func(fd int) (int, error)
}

// newConfig returns the defaults with opts applied in order.
func newConfig(opts []Option) config {
	c := config{
		lookupEnv: os.LookupEnv,
		terminal:  isTerminal,
		termWidth: terminalWidth,
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures an [Exporter]. Options are applied in order: when one
// setting is given twice, the last one wins. A nil Option is ignored.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithWidth sets the width of the output in columns, counted in runes: no
// line is longer.
//
// Without it, the width is that of the terminal when the writer is one,
// else the value of the COLUMNS environment variable when it is a positive
// integer, else 100; it is measured again for each trace, so a resized
// terminal is followed. Widths below 20 columns, zero and negative ones
// included, give 20, and widths above 1000 give 1000. Below 40 columns the
// time bars are left out.
func WithWidth(columns int) Option {
	columns = min(max(columns, minWidth), maxWidth)
	return optionFunc(func(c config) config {
		c.width = columns
		return c
	})
}

// WithColor turns ANSI colors and dimming on or off, whatever the writer
// and the environment.
//
// Without it, color is used when the writer is a terminal, the NO_COLOR
// environment variable is unset or empty (https://no-color.org) and TERM is
// not "dumb".
func WithColor(on bool) Option {
	return optionFunc(func(c config) config {
		c.color = &on
		return c
	})
}

// useColor decides whether to color output written to w.
func (c config) useColor(w io.Writer) bool {
	if c.color != nil {
		return *c.color
	}
	_, tty := c.terminal(w)
	return autoColor(tty, c.lookupEnv)
}

// autoColor is the automatic color decision: a terminal, no NO_COLOR (an
// empty value counts as unset, as https://no-color.org asks) and a TERM
// other than "dumb".
func autoColor(tty bool, lookupEnv func(string) (string, bool)) bool {
	if !tty {
		return false
	}
	if v, ok := lookupEnv("NO_COLOR"); ok && v != "" {
		return false
	}
	if v, _ := lookupEnv("TERM"); v == "dumb" {
		return false
	}
	return true
}

// widthFor returns the width to render with for output written to w.
func (c config) widthFor(w io.Writer) int {
	if c.width != 0 {
		return c.width
	}
	if fd, ok := c.terminal(w); ok {
		if n, err := c.termWidth(fd); err == nil && n > 0 {
			return min(max(n, minWidth), maxWidth)
		}
	}
	if v, ok := c.lookupEnv("COLUMNS"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return min(max(n, minWidth), maxWidth)
		}
	}
	return defaultWidth
}

// isTerminal reports whether w is a file, such as os.Stdout, that is a
// terminal, and returns its descriptor.
func isTerminal(w io.Writer) (int, bool) {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, isTerminalFd(fd)
}
