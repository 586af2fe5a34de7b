package main

import (
	"context"
	"flag"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func aclWhoAmICommand() *clientCommand {
	return &clientCommand{
		name:    "acl whoami",
		summary: "show who the node takes this client for, and its role",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).WhoAmI(ctx, &ferryv1.WhoAmIRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "KIND", "NAME", "ROLE", "ACLS")
				acls := "not bootstrapped (everyone is admin)"
				if resp.GetBootstrapped() {
					acls = "bootstrapped"
				}
				row(tw, resp.GetKind(), orDash(resp.GetName()), resp.GetRole(), acls)
				return tw.Flush()
			}
		},
	}
}

// expiresText is when a token expires, "never" when it does not.
func expiresText(t *ferryv1.AclToken) string {
	if t.GetExpires() == nil {
		return "never"
	}
	return timeText(t.GetExpires())
}
