package waterfall

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its terminal side.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err, "Linux has pseudo-terminals")
	t.Cleanup(func() { _ = ptmx.Close() })
	fd := int(ptmx.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tty.Close() })
	return tty
}

func TestIsTerminalRealPTYAndPipe(t *testing.T) {
	tty := openPTY(t)
	require.NoError(t, unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 77}))

	fd, ok := isTerminal(tty)
	require.True(t, ok, "a pseudo-terminal is a terminal")
	w, err := terminalWidth(fd)
	require.NoError(t, err)
	assert.Equal(t, 77, w)

	r, pw, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(); _ = pw.Close() })
	_, ok = isTerminal(pw)
	assert.False(t, ok, "a pipe is not a terminal")
	_, err = terminalWidth(int(pw.Fd()))
	assert.Error(t, err)
}
