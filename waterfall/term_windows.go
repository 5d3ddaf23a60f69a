package waterfall

import "golang.org/x/sys/windows"

// isTerminalFd reports whether fd is a console.
func isTerminalFd(fd int) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(fd), &mode) == nil
}

// terminalWidth returns the width in columns of the console fd's window.
func terminalWidth(fd int) (int, error) {
	var info windows.ConsoleScreenBufferInfo
	if err := windows.GetConsoleScreenBufferInfo(windows.Handle(fd), &info); err != nil {
		return 0, err
	}
	return int(info.Window.Right - info.Window.Left + 1), nil
}
