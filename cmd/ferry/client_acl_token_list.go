package main

import (
	"context"
	"flag"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func aclTokenListCommand() *clientCommand {
	return &clientCommand{
		name:    "acl token list",
		summary: "list the ACL tokens: names, roles, expiry (never their secrets)",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).ListTokens(ctx, &ferryv1.ListTokensRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "NAME", "ROLE", "CREATED", "EXPIRES", "CREATED BY")
				for _, t := range resp.GetTokens() {
					row(tw, t.GetName(), t.GetRole(), timeText(t.GetCreated()), expiresText(t), orDash(t.GetCreatedBy()))
				}
				return tw.Flush()
			}
		},
	}
}
