package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// gossipKeySize is the key -gossip-key takes: 32 bytes select AES-256 in
// memberlist's encryption.
const gossipKeySize = 32

// runKeygen is "ferry keygen": a new random gossip encryption key, base64,
// for -gossip-key and "ferry keyring install".
func runKeygen(args []string, stdout, stderr io.Writer) int {
	if code, done := noArgs("keygen", "Prints a new random 32-byte gossip encryption key, base64-encoded, for the agents' -gossip-key.", args, stdout, stderr); done {
		return code
	}
	key := make([]byte, gossipKeySize)
	if _, err := rand.Read(key); err != nil {
		fmt.Fprintf(stderr, "ferry keygen: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(key))
	return exitOK
}
