package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// streamsSection is not measured yet.
func streamsSection() section {
	return section{name: "streams", run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
		fmt.Fprintln(w, "not measured yet")
		return nil
	}}
}
