package main

import (
	"io"

	"golang.org/x/sys/unix"
)

// terminalWidth returns the width in columns of w if it is a terminal, or 0:
// progress is redrawn in place on a terminal and printed as plain lines to
// pipes, files and test buffers.
func terminalWidth(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	if ws.Col == 0 {
		return 80 // a terminal that does not say, such as a serial console
	}
	return int(ws.Col)
}
