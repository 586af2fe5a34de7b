package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

func aclTokenCreateCommand() *clientCommand {
	return &clientCommand{
		name:    "acl token create",
		summary: "create an ACL token and print its secret, shown only now",
		details: "Roles: read (list, get, watch), operator (also copies, cancels, tape labels, erases and\n" +
			"unloads), admin (also devices, libraries, pools, members, tokens and secrets). The node\n" +
			"keeps only the SHA-256 of the token: print it into your secret store at once.",
		flags: func(fs *flag.FlagSet) action {
			name := fs.String("name", "", "the token's `name`, e.g. backup-app; required")
			role := fs.String("role", "", "`role`: read, operator or admin; required")
			ttl := fs.Duration("ttl", 0, "how long the token is good for, e.g. 720h; 0 means it never expires")
			return func(ctx context.Context, c *client, _ []string) error {
				if err := requireFlags(map[string]bool{"-name": *name != "", "-role": *role != ""}); err != nil {
					return err
				}
				if _, err := acl.ParseRole(*role); err != nil {
					return usageError{fmt.Sprintf("-role: %v", err)}
				}
				if *ttl < 0 {
					return usageError{fmt.Sprintf("-ttl %s: must be positive, or 0 for never", *ttl)}
				}
				req := &ferryv1.CreateTokenRequest{Name: *name, Role: *role}
				if *ttl > 0 {
					req.Ttl = durationpb.New(*ttl)
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAclServiceClient(c.conn).CreateToken(ctx, req)
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				t := resp.GetToken()
				fmt.Fprintf(c.stdout, "token %q (role %s, expires %s), shown only now:\n%s\n", t.GetName(), t.GetRole(), expiresText(t), resp.GetSecret())
				return nil
			}
		},
	}
}
