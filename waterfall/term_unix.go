//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos

package waterfall

import "golang.org/x/sys/unix"

// isTerminalFd reports whether fd is a terminal: whether it has a window
// size, which only terminals have.
func isTerminalFd(fd int) bool {
	_, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	return err == nil
}

// terminalWidth returns the width in columns of the terminal fd.
func terminalWidth(fd int) (int, error) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, err
	}
	return int(ws.Col), nil
}
