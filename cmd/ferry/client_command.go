package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ferry-san/ferry/internal/flagenv"
)

// envPrefix prefixes the environment variables that stand in for flags.
const envPrefix = "FERRY"

// action runs a client command once its flags are parsed; args are its
// positional arguments, already checked against clientCommand.nargs.
type action func(ctx context.Context, c *client, args []string) error

// clientCommand is one client subcommand, e.g. "job get".
type clientCommand struct {
	name    string // words after "ferry"
	args    string // the synopsis after the name, e.g. "ID"; names positionals when nargs > 0
	nargs   int    // exact number of positional arguments; -1: any, the action checks them
	summary string
	details string // optional paragraph for -h
	// outputs are -o formats the command takes besides table and json;
	// the action sees the chosen one in client.format.
	outputs []string
	// flags registers the command's own flags on fs and returns the action,
	// which reads them once parsed.
	flags func(fs *flag.FlagSet) action
}

// clientCommands lists the client subcommands in the order help shows them.
func clientCommands() []*clientCommand {
	return []*clientCommand{
		membersCommand(),
		membersRemoveCommand(),
		raftStatusCommand(),
		jobSubmitCommand(),
		jobListCommand(),
		jobGetCommand(),
		jobCancelCommand(),
		jobWatchCommand(),
		diskCreateCommand(),
		diskAddCommand(),
		diskListCommand(),
		removeCommand("disk", "NAME"),
		libraryCreateCommand(),
		libraryListCommand(),
		libraryInventoryCommand(),
		libraryUnloadCommand(),
		removeCommand("library", "NAME"),
		tapeLabelCommand(),
		tapeListCommand(),
		tapeImportCommand(),
		tapeFilesCommand(),
		tapeEraseCommand(),
		removeCommand("tape", "BARCODE"),
		tapeProtectCommand(true),
		tapeProtectCommand(false),
		poolCreateCommand(),
		poolListCommand(),
		copyCommand(),
		xcopyCommand(),
		copyResultsCommand(),
		verifyCommand(),
		iscsiURLCommand(),
		aclBootstrapCommand(),
		aclWhoAmICommand(),
		aclTokenCreateCommand(),
		aclTokenListCommand(),
		aclTokenRevokeCommand(),
		aclSecretSetCommand(),
		aclSecretListCommand(),
		auditListCommand(),
		keyringListCommand(),
		keyringInstallCommand(),
		keyringUseCommand(),
		keyringRemoveCommand(),
	}
}

func (c *clientCommand) synopsis() string {
	if c.args == "" {
		return c.name
	}
	return c.name + " " + c.args
}

// runClient finds the client command named by the leading words of args
// (the longest match, so "members remove" wins over "members") and runs it.
func runClient(ctx context.Context, args []string, env cliEnv) int {
	var found *clientCommand
	var words int
	groups := map[string]bool{}
	for _, c := range clientCommands() {
		w := strings.Fields(c.name)
		groups[w[0]] = true
		if len(w) > words && len(args) >= len(w) && equalWords(args[:len(w)], w) {
			found, words = c, len(w)
		}
	}
	if found == nil {
		if groups[args[0]] {
			if len(args) == 2 && isHelpFlag(args[1]) {
				printGroupUsage(env.stdout, args[0])
				return exitOK
			}
			fmt.Fprintf(env.stderr, "ferry: %s: missing or unknown subcommand\n", args[0])
			printGroupUsage(env.stderr, args[0])
			return exitUsage
		}
		fmt.Fprintf(env.stderr, "ferry: unknown command %q (see \"ferry help\")\n", args[0])
		return exitUsage
	}
	return found.run(ctx, args[words:], env)
}

func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// printGroupUsage lists the subcommands of a group such as "job".
func printGroupUsage(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: ferry %s <subcommand> [arguments] [flags]\n\nSubcommands:\n", group)
	for _, c := range clientCommands() {
		if strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(w, "  ferry %-22s %s\n", c.synopsis(), c.summary)
		}
	}
	fmt.Fprintf(w, "\nSee \"ferry %s <subcommand> -h\" for flags.\n", group)
}

func equalWords(a, b []string) bool {
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// commonFlags are the flags every client command takes.
type commonFlags struct {
	addr    string
	output  string
	timeout time.Duration
	config  string
	// The cluster CA, and this client's certificate and key, for a
	// cluster serving mutual TLS.
	ca, cert, key string
	// token is the ACL token sent with every call.
	token string
}

// isCommonEnv reports whether key is the environment variable of one of
// commonFlags, the only flags a client command takes from the environment.
func isCommonEnv(key string) bool {
	for _, n := range [...]string{"addr", "o", "timeout", "ca", "cert", "key", "token", flagenv.ConfigFlag} {
		if flagenv.EnvName(envPrefix, n) == key {
			return true
		}
	}
	return false
}

func (f *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:7101", "gRPC `address` of any node: HOST[:PORT], port 7101 if none")
	fs.StringVar(&f.output, "o", "table", "output `format`: table or json (protojson of the response)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "time limit per RPC, including retries while the cluster has no leader")
	fs.StringVar(&f.config, flagenv.ConfigFlag, "", "config `file` of \"name = value\" lines for these flags")
	fs.StringVar(&f.ca, "ca", "", "the cluster CA's certificate `file`, for a cluster serving TLS (also FERRY_CACERT)")
	fs.StringVar(&f.cert, "cert", "", "this client's certificate `file` (ferry tls cert create -client NAME)")
	fs.StringVar(&f.key, "key", "", "this client's private key `file`")
	fs.StringVar(&f.token, "token", "", "ACL `token` sent with every call (ferry acl bootstrap, ferry acl token create); better in FERRY_TOKEN, which ps does not show")
}

func (c *clientCommand) run(ctx context.Context, args []string, env cliEnv) int {
	fs := flag.NewFlagSet("ferry "+c.name, flag.ContinueOnError)
	// Parse errors are reported below, once, with a pointer to -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var common commonFlags
	common.register(fs)
	act := c.flags(fs)

	// Only the connection settings come from the environment: a stray
	// FERRY_PATH or FERRY_NAME must never fill in what a command acts on.
	lookup := func(key string) (string, bool) {
		if !isCommonEnv(key) {
			return "", false
		}
		return env.lookupEnv(key)
	}
	parser := flagenv.Parser{EnvPrefix: envPrefix, LookupEnv: lookup}
	pos, err := parser.Parse(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.printUsage(env.stdout, fs)
		return exitOK
	case err != nil:
		return c.usageFailure(env.stderr, err)
	case c.nargs >= 0 && len(pos) != c.nargs:
		return c.usageFailure(env.stderr, c.argCountError(pos))
	}
	format := common.output
	extra := slices.Contains(c.outputs, format)
	switch {
	case extra:
		common.output = "table" // newClient knows only the common formats
	case c.outputs != nil && format != "table" && format != "json":
		return c.usageFailure(env.stderr, usageError{fmt.Sprintf("-o %q: want table, json, %s", format, strings.Join(c.outputs, ", "))})
	}
	cl, err := newClient(common, env)
	if err != nil {
		return c.usageFailure(env.stderr, err)
	}
	defer cl.close()
	if extra {
		cl.format = format
	}
	if err := act(ctx, cl, pos); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return c.usageFailure(env.stderr, err)
		}
		reportError(env.stderr, err)
		return exitCode(err)
	}
	return exitOK
}

func (c *clientCommand) argCountError(pos []string) error {
	switch {
	case c.nargs == 0:
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	case len(pos) < c.nargs:
		return usageError{fmt.Sprintf("missing %s", strings.Fields(c.args)[len(pos)])}
	default:
		return usageError{fmt.Sprintf("unexpected argument %q after %s", pos[c.nargs], c.args)}
	}
}

func (c *clientCommand) usageFailure(w io.Writer, err error) int {
	fmt.Fprintf(w, "ferry: %s: %v\n", c.name, err)
	fmt.Fprintf(w, "usage: ferry %s [flags] (see \"ferry %s -h\")\n", c.synopsis(), c.name)
	return exitUsage
}

// printUsage writes the command's help: synopsis, description and every
// flag with its default and environment variable.
func (c *clientCommand) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: ferry %s [flags]\n\n%s.\n", c.synopsis(), capitalize(c.summary))
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", c.details)
	}
	fmt.Fprint(w, "\nFlags (precedence: flag > environment > config file > default):\n")
	flagenv.PrintDefaults(w, fs, func(name string) string {
		if key := flagenv.EnvName(envPrefix, name); isCommonEnv(key) {
			return key
		}
		return ""
	})
	fmt.Fprint(w, "\nClient connections use plaintext gRPC: only on loopback or a trusted network.\n")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
