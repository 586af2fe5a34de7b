// Command ferry is the one Ferry binary: the agent that runs a node, the demo,
// and the client commands that talk to a cluster over gRPC.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ferry agent|demo|members|raft|job ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "agent":
		os.Exit(runAgent(ctx, os.Args[2:], os.Stdout, os.Stderr))
	case "demo":
		os.Exit(runDemo(ctx, os.Args[2:], os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "ferry: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
