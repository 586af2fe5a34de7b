package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func aclTokenRevokeCommand() *clientCommand {
	return &clientCommand{
		name:    "acl token revoke",
		args:    "NAME",
		nargs:   1,
		summary: "revoke an ACL token: calls with it are refused from now on",
		details: "The last admin token that has not expired cannot be revoked: create another first.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).RevokeToken(ctx, &ferryv1.RevokeTokenRequest{Name: args[0]})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				fmt.Fprintf(c.stdout, "token %q (role %s) revoked\n", resp.GetToken().GetName(), resp.GetToken().GetRole())
				return nil
			}
		},
	}
}
