package main

import "github.com/ferry-san/ferry/proto/ferryv1"

func keyringRemoveCommand() *clientCommand {
	return keyringChangeCommand("remove", "drop an old gossip key from every node (rotation step 3)",
		"Refused for the primary key, and while a live member still encrypts with the key.",
		ferryv1.KeyringServiceClient.Remove)
}
