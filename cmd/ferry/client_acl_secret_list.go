package main

import (
	"context"
	"flag"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func aclSecretListCommand() *clientCommand {
	return &clientCommand{
		name:    "acl secret list",
		summary: "list the secrets' names and keys, never their values",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).ListSecrets(ctx, &ferryv1.ListSecretsRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "NAME", "KEYS", "UPDATED", "UPDATED BY")
				for _, s := range resp.GetSecrets() {
					row(tw, s.GetName(), strings.Join(s.GetKeys(), ","), timeText(s.GetUpdated()), orDash(s.GetUpdatedBy()))
				}
				return tw.Flush()
			}
		},
	}
}
