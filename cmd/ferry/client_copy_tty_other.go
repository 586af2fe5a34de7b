//go:build !linux

package main

import "io"

// isTerminal is false off Linux: progress is printed as plain lines there.
func isTerminal(io.Writer) bool { return false }
