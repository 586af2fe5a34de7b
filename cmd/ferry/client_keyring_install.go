package main

import "github.com/ferry-san/ferry/proto/ferryv1"

func keyringInstallCommand() *clientCommand {
	return keyringChangeCommand("install", "add a gossip key every node decrypts with (rotation step 1)",
		"Every node adds the key to its keyring and keeps it in DATA_DIR/gossip.keyring; the command waits\n"+
			"up to 10 s for the live members to report it. Next: ferry keyring use.",
		ferryv1.KeyringServiceClient.Install)
}
