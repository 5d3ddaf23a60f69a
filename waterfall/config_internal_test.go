package waterfall

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// env returns a lookupEnv reading from m.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestAutoColor(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		env  map[string]string
		want bool
	}{
		{name: "terminal", tty: true, want: true},
		{name: "not a terminal", tty: false, want: false},
		{name: "NO_COLOR set", tty: true, env: map[string]string{"NO_COLOR": "1"}, want: false},
		{name: "NO_COLOR any value", tty: true, env: map[string]string{"NO_COLOR": "false"}, want: false},
		{name: "NO_COLOR empty counts as unset", tty: true, env: map[string]string{"NO_COLOR": ""}, want: true},
		{name: "TERM dumb", tty: true, env: map[string]string{"TERM": "dumb"}, want: false},
		{name: "TERM xterm", tty: true, env: map[string]string{"TERM": "xterm-256color"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, autoColor(tt.tty, env(tt.env)))
		})
	}
}

func TestUseColor(t *testing.T) {
	tty := func(io.Writer) (int, bool) { return 1, true }
	noColor := env(map[string]string{"NO_COLOR": "1"})
	tests := []struct {
		name string
		opts []Option
		want bool
	}{
		{name: "auto follows NO_COLOR", want: false},
		{name: "WithColor(true) wins over NO_COLOR", opts: []Option{WithColor(true)}, want: true},
		{name: "WithColor(false)", opts: []Option{WithColor(false)}, want: false},
		{name: "last option wins", opts: []Option{WithColor(false), nil, WithColor(true)}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newConfig(tt.opts)
			c.terminal, c.lookupEnv = tty, noColor
			assert.Equal(t, tt.want, c.useColor(io.Discard))
		})
	}
}

func TestWidthFor(t *testing.T) {
	errNoSize := errors.New("no size")
	tests := []struct {
		name      string
		opts      []Option
		tty       bool
		termWidth int
		termErr   error
		env       map[string]string
		want      int
	}{
		{name: "default", want: 100},
		{name: "COLUMNS", env: map[string]string{"COLUMNS": "132"}, want: 132},
		{name: "COLUMNS not a number", env: map[string]string{"COLUMNS": "wide"}, want: 100},
		{name: "COLUMNS zero", env: map[string]string{"COLUMNS": "0"}, want: 100},
		{name: "COLUMNS tiny", env: map[string]string{"COLUMNS": "5"}, want: minWidth},
		{name: "terminal", tty: true, termWidth: 77, env: map[string]string{"COLUMNS": "132"}, want: 77},
		{name: "terminal without size", tty: true, termErr: errNoSize, env: map[string]string{"COLUMNS": "132"}, want: 132},
		{name: "terminal huge", tty: true, termWidth: 100000, want: maxWidth},
		{name: "WithWidth wins", opts: []Option{WithWidth(60)}, tty: true, termWidth: 77, want: 60},
		{name: "WithWidth zero", opts: []Option{WithWidth(0)}, want: minWidth},
		{name: "WithWidth negative", opts: []Option{WithWidth(-3)}, want: minWidth},
		{name: "WithWidth huge", opts: []Option{WithWidth(1 << 40)}, want: maxWidth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newConfig(tt.opts)
			c.lookupEnv = env(tt.env)
			c.terminal = func(io.Writer) (int, bool) { return 3, tt.tty }
			c.termWidth = func(fd int) (int, error) {
				assert.Equal(t, 3, fd)
				return tt.termWidth, tt.termErr
			}
			assert.Equal(t, tt.want, c.widthFor(io.Discard))
		})
	}
}

func TestIsTerminal(t *testing.T) {
	_, ok := isTerminal(&bytes.Buffer{})
	assert.False(t, ok, "a buffer is no terminal")
}
