package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// throughputSection is not measured yet.
func throughputSection() section {
	return section{name: "throughput", run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
		fmt.Fprintln(w, "not measured yet")
		return nil
	}}
}
