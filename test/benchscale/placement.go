package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// placementSection is not measured yet.
func placementSection() section {
	return section{name: "placement", run: func(ctx context.Context, o options, log *slog.Logger, w io.Writer) error {
		fmt.Fprintln(w, "not measured yet")
		return nil
	}}
}
