//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos || windows)

package waterfall

import "errors"

// isTerminalFd reports false: this system has no terminal this package
// knows how to ask.
func isTerminalFd(int) bool { return false }

// terminalWidth fails: see isTerminalFd.
func terminalWidth(int) (int, error) {
	return 0, errors.New("waterfall: terminal size not supported on this system")
}
