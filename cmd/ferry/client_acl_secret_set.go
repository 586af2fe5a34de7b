package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

func aclSecretSetCommand() *clientCommand {
	var known []string
	for _, s := range acl.SecretSchemas {
		keys := strings.Join(s.Required, "=... ") + "=..."
		for _, k := range s.Optional {
			keys += " [" + k + "=...]"
		}
		known = append(known, fmt.Sprintf("  %s %s\n      %s", s.Name, keys, s.Help))
	}
	return &clientCommand{
		name:    "acl secret set",
		args:    "NAME K=V...",
		nargs:   -1,
		summary: "set (or rotate) credentials every node serves with",
		details: "Secrets:\n" + strings.Join(known, "\n") + "\n" +
			"A secret set here replaces the agents' flags on every node; setting it again rotates it:\n" +
			"new logins use the new value, sessions already logged in go on. The values are kept in\n" +
			"the Raft log and its snapshots (the data dir's 0600/0700 modes protect them); a value\n" +
			"of - is read from the first line of standard input, so that it stays out of ps.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				if len(args) < 2 {
					return usageError{"want NAME and at least one KEY=VALUE"}
				}
				values := map[string]string{}
				fromStdin := ""
				for _, kv := range args[1:] {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return usageError{fmt.Sprintf("%q: want KEY=VALUE", kv)}
					}
					if _, dup := values[k]; dup {
						return usageError{fmt.Sprintf("%s is given twice", k)}
					}
					if v == "-" {
						if fromStdin != "" {
							return usageError{fmt.Sprintf("%s=- and %s=-: one value at most comes from standard input", fromStdin, k)}
						}
						fromStdin = k
						line, err := readLine(c.stdin)
						if err != nil {
							return usageError{fmt.Sprintf("%s=-: %v", k, err)}
						}
						v = line
					}
					values[k] = v
				}
				if err := acl.CheckSecret(args[0], values); err != nil {
					return usageError{err.Error()}
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).SetSecret(ctx, &ferryv1.SetSecretRequest{Name: args[0], Values: values})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				s := resp.GetSecret()
				fmt.Fprintf(c.stdout, "secret %s set (%s)\n", s.GetName(), strings.Join(s.GetKeys(), ", "))
				return nil
			}
		},
	}
}

// readLine reads the first line of r, without its line end.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
