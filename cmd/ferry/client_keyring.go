package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"google.golang.org/grpc"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// The keyring commands change the cluster's gossip keyring (KeyringService):
// install, use, remove, each naming the key with -gossip-key (-key is the
// client's TLS key file), and list, which shows fingerprints, never keys.

// keyringChange is one of KeyringService's Install, Use or Remove.
type keyringChange func(c ferryv1.KeyringServiceClient, ctx context.Context, req *ferryv1.KeyringKeyRequest, opts ...grpc.CallOption) (*ferryv1.KeyringListResponse, error)

// keyringChangeCommand is "ferry keyring install|use|remove -gossip-key KEY".
func keyringChangeCommand(verb, summary, details string, change keyringChange) *clientCommand {
	return &clientCommand{
		name:    "keyring " + verb,
		summary: summary,
		details: details + "\nThe key is base64 (ferry keygen); -gossip-key - reads it from the first line of standard input,\nso that it stays out of ps.",
		flags: func(fs *flag.FlagSet) action {
			keyText := fs.String("gossip-key", "", "the gossip `key`, base64 (16, 24 or 32 bytes); - reads it from standard input")
			return func(ctx context.Context, c *client, _ []string) error {
				text := *keyText
				if text == "" {
					return usageError{"-gossip-key is required"}
				}
				if text == "-" {
					line, err := readLine(c.stdin)
					if err != nil {
						return usageError{"-gossip-key -: " + err.Error()}
					}
					text = line
				}
				key, err := decodeGossipKey(text)
				if err != nil {
					return usageError{err.Error()}
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := change(ferryv1.NewKeyringServiceClient(c.conn), ctx, &ferryv1.KeyringKeyRequest{Key: key})
				if err != nil {
					return err
				}
				return printKeyring(c, resp)
			}
		},
	}
}

// printKeyring shows the keys: fingerprint, whether primary, and which
// live members hold it and encrypt with it.
func printKeyring(c *client, resp *ferryv1.KeyringListResponse) error {
	if c.format == "json" {
		return writeJSON(c.stdout, resp, "  ")
	}
	tw := newTable(c.stdout)
	row(tw, "FINGERPRINT", "PRIMARY", "INSTALLED", "ENCRYPTING", "NODES")
	members := len(resp.GetMembers())
	for _, k := range resp.GetKeys() {
		primary := "no"
		switch {
		case !k.GetInKeyring():
			primary = "not in the cluster's keyring"
		case k.GetPrimary():
			primary = "yes"
		}
		row(tw, k.GetFingerprint(), primary,
			fmt.Sprintf("%d/%d", len(k.GetInstalledOn()), members),
			fmt.Sprintf("%d/%d", len(k.GetPrimaryOn()), members),
			orDash(strings.Join(k.GetInstalledOn(), ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !resp.GetReplicated() {
		fmt.Fprintln(c.stdout, "(the keyring has not changed since the cluster started: these are the answering node's -gossip-key)")
	}
	return nil
}
