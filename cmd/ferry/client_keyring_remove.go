package main

import "github.com/ferry-san/ferry/proto/ferryv1"

func keyringRemoveCommand() *clientCommand {
	return keyringChangeCommand("remove", "drop a gossip key from every node's keyring (the last step of a rotation)",
		"Refused for the primary key, and while a live member still encrypts with the key.",
		ferryv1.KeyringServiceClient.Remove)
}
