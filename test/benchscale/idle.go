package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// idleSection is not measured yet.
func idleSection() section {
	return section{name: "idle", run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
		fmt.Fprintln(w, "not measured yet")
		return nil
	}}
}
