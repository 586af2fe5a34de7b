package main

import (
	"context"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/iscsi"
	"github.com/ferry-san/ferry/security/acl"
)

// The cluster's secrets (ferry acl secret set) replace the agent's flags
// for the iSCSI target's CHAP and the NDMP server's login: they are the
// same on every node, and a new value serves the next login.

// chapFrom is the CHAP credentials an iSCSI login must prove: the
// cluster's iscsi-chap secret when set, else the -iscsi-chap-* flags'
// (nil: none).
func chapFrom(state *fsm.FSM, flags *iscsi.CHAPConfig) func() *iscsi.CHAPConfig {
	return func() *iscsi.CHAPConfig {
		s, ok := state.Secret(acl.SecretISCSICHAP)
		if !ok {
			return flags
		}
		v := s.GetValues()
		return &iscsi.CHAPConfig{User: v["user"], Secret: v["secret"], MutualUser: v["mutual-user"], MutualSecret: v["mutual-secret"]}
	}
}

// ndmpCredentials is the user and password a DMA must log in with: the
// cluster's ndmp secret when set, else -ndmp-user and -ndmp-password.
func ndmpCredentials(state *fsm.FSM, user, password string) func() (string, string) {
	return func() (string, string) {
		if s, ok := state.Secret(acl.SecretNDMP); ok {
			return s.GetValues()["user"], s.GetValues()["password"]
		}
		return user, password
	}
}

// waitCredentials waits until creds gives a password, watching the
// applied log; false if ctx ends first.
func waitCredentials(ctx context.Context, node *cluster.Node, creds func() (string, string)) bool {
	for {
		applied := node.WatchApplied()
		if _, p := creds(); p != "" {
			return true
		}
		select {
		case <-applied:
		case <-ctx.Done():
			return false
		}
	}
}
