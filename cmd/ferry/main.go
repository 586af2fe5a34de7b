// Command ferry is the one Ferry binary: the agent that runs a node, the demo,
// and the client commands that talk to a cluster over gRPC.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// cliEnv is what a command sees of its process, so tests can run commands
// in-process with their own streams and environment.
type cliEnv struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(key string) (string, bool)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], cliEnv{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		lookupEnv: os.LookupEnv,
	})
	stop()
	os.Exit(code)
}

// run dispatches one invocation and returns the exit status: 0 success,
// 1 failure reported by the server or network, 2 usage error.
func run(ctx context.Context, args []string, env cliEnv) int {
	if len(args) == 0 {
		printUsage(env.stderr)
		return exitUsage
	}
	switch args[0] {
	case "agent":
		return runAgent(ctx, args[1:], env.stdout, env.stderr)
	case "demo":
		return runDemo(ctx, args[1:], env.stdout, env.stderr)
	case "tls":
		return runTLS(ctx, args[1:], env.stdout, env.stderr)
	case "keygen":
		return runKeygen(args[1:], env.stdout, env.stderr)
	case "version", "-version", "--version":
		return runVersion(args[1:], env.stdout, env.stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			// "ferry help job get" is "ferry job get -h".
			return run(ctx, append(append([]string{}, args[1:]...), "-h"), env)
		}
		printUsage(env.stdout)
		return exitOK
	}
	return runClient(ctx, args, env)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: ferry <command> [arguments] [flags]

Ferry runs a fault-tolerant cluster of SAN data movers and controls it.

Node commands:
  agent                      run a Ferry node (see "ferry agent -h")
  demo                       run a local demo cluster (see "ferry demo -h")

Security (local files, no cluster needed):
  tls ca create              make the cluster's own CA (ECDSA P-256)
  tls cert create            make a node (-node NAME) or client (-client NAME) certificate
  keygen                     print a new gossip encryption key

Client commands (talk gRPC to any node of a running cluster; without one they
say so at once and how to start one):
`)
	for _, c := range clientCommands() {
		fmt.Fprintf(w, "  %-26s %s\n", c.synopsis(), c.summary)
	}
	fmt.Fprint(w, `  help [COMMAND]             show a command's usage and flags
  version                    print the version, commit, Go version and build date

Every client command takes -addr (any node's gRPC address), -o table|json,
-timeout and -config; see "ferry <command> -h". Flags may also be set by
FERRY_<FLAG> environment variables (FERRY_ADDR) or a config file of
"name = value" lines; precedence is flag > environment > config file > default.

With -ca, -cert and -key (FERRY_CA or FERRY_CACERT, FERRY_CERT, FERRY_KEY),
client connections use mutual TLS 1.3 with the cluster's CA; without them,
plaintext gRPC, which agents serve only when started with -insecure or -dev.

Exit status: 0 success, 1 error reported by the server or the network (or a
watched job that did not succeed), 2 usage error, 130 interrupted (Ctrl-C).
`)
}
