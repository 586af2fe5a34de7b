package main

import "github.com/ferry-san/ferry/proto/ferryv1"

func keyringUseCommand() *clientCommand {
	return keyringChangeCommand("use", "make an installed gossip key the one nodes encrypt with (step 2)",
		"Refused while a live member does not hold the key (it could not read the others): install it first.\n"+
			"Next: ferry keyring remove the old key.",
		ferryv1.KeyringServiceClient.Use)
}
