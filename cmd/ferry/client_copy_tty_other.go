//go:build !linux

package main

import "io"

// terminalWidth is 0 off Linux: progress is printed as plain lines there.
func terminalWidth(io.Writer) int { return 0 }
