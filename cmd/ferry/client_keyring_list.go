package main

import (
	"context"
	"flag"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func keyringListCommand() *clientCommand {
	return &clientCommand{
		name:    "keyring list",
		summary: "list the gossip keys (fingerprints) and the members holding each",
		details: "A fingerprint is the first 8 bytes of the key's SHA-256, base64: the keys themselves are never shown.\n" +
			"INSTALLED and ENCRYPTING count the live members that decrypt and encrypt with the key.",
		flags: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewKeyringServiceClient(c.conn).List(ctx, &ferryv1.KeyringListRequest{})
				if err != nil {
					return err
				}
				return printKeyring(c, resp)
			}
		},
	}
}
