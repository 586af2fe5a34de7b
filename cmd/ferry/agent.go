package main

import (
	"context"
	"fmt"
	"io"
)

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ferry agent: not yet built")
	return 1
}
