package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func aclBootstrapCommand() *clientCommand {
	return &clientCommand{
		name:    "acl bootstrap",
		summary: "turn ACLs on and print the management token, once per cluster",
		details: "Until ACLs are bootstrapped every caller that reaches the API (past mutual TLS, if the\n" +
			"cluster has it) may do everything: bootstrap right after the cluster starts. From then on\n" +
			"every call needs a token (-token or FERRY_TOKEN). The management token has role admin and\n" +
			"is shown only now: keep it safe, and create tokens of narrower roles for everyday use\n" +
			"(ferry acl token create). A second bootstrap is refused.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).Bootstrap(ctx, &ferryv1.AclBootstrapRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				fmt.Fprintf(c.stdout, "ACLs bootstrapped. Management token %q (role %s), shown only now:\n%s\n",
					resp.GetToken().GetName(), resp.GetToken().GetRole(), resp.GetSecret())
				return nil
			}
		},
	}
}
