package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/rpc/grpcapi"
	"github.com/ferry-san/ferry/rpc/ndmpserver"
)

// validate checks what parsing the flags cannot: that durations and sizes
// are positive and that the lease settings keep a mover from writing after
// the leader may have given its job away (README "Settings that trade
// takeover time against false takeovers"). It returns warnings for settings
// that work but trade away robustness.
func (f *agentFlags) validate() (warnings []string, err error) {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"lease", f.lease},
		{"renew-interval", f.renewInterval},
		{"renew-deadline", f.renewDeadline},
		{"tick", f.tick},
		{"checkpoint-every", f.checkpointEvery},
		{"dead-node-timeout", f.deadNodeTimeout},
		{"reconnect-interval", f.reconnectInterval},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("-%s %s: must be positive", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"election-ticks", int64(f.electionTicks)},
		{"voters", int64(f.voters)},
		{"checkpoint-bytes", f.checkpointBytes},
		{"max-jobs-per-node", int64(f.maxJobsPerNode)},
	} {
		if n.v <= 0 {
			errs = append(errs, fmt.Errorf("-%s %d: must be positive", n.name, n.v))
		}
	}
	if f.auditRetention < time.Minute {
		errs = append(errs, fmt.Errorf("-audit-retention %s: must be at least 1m (default %s: 90 days)", f.auditRetention, grpcapi.DefaultAuditRetention))
	}
	if f.maxJobsPerLibrary < 0 {
		errs = append(errs, fmt.Errorf("-max-jobs-per-library %d: must be 0 (as many as drives) or more", f.maxJobsPerLibrary))
	}
	for _, p := range []struct {
		name string
		v    int
	}{
		{"grpc-port", f.grpcPort}, {"gossip-port", f.gossipPort}, {"http-port", f.httpPort}, {"iscsi-port", f.iscsiPort}, {"ndmp-port", f.ndmpPort},
		{"advertise-grpc-port", f.advertiseGRPCPort}, {"advertise-gossip-port", f.advertiseGossipPort},
	} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("-%s %d: not a port (0 to 65535)", p.name, p.v))
		}
	}
	methods := f.ndmpMethods()
	for _, m := range methods {
		if m != ndmpserver.AuthMD5 && m != ndmpserver.AuthText && m != ndmpserver.AuthNone {
			errs = append(errs, fmt.Errorf("-ndmp-auth %q: %q is not md5, text or none", f.ndmpAuth, m))
		}
	}
	if len(methods) == 0 {
		errs = append(errs, fmt.Errorf("-ndmp-auth is empty: want md5, text or none"))
	} else if slices.Contains(methods, ndmpserver.AuthNone) && len(methods) > 1 {
		errs = append(errs, fmt.Errorf("-ndmp-auth %q: none goes alone (it accepts every DMA, so the other methods would check nothing)", f.ndmpAuth))
	}
	for _, root := range splitList(f.ndmpDataRoots) {
		if !filepath.IsAbs(root) {
			errs = append(errs, fmt.Errorf("-ndmp-data-root %q: not an absolute path", root))
		}
	}
	switch tls := [3]bool{f.tlsCA != "", f.tlsCert != "", f.tlsKey != ""}; {
	case tls != [3]bool{} && tls != [3]bool{true, true, true}:
		errs = append(errs, errors.New("-tls-ca, -tls-cert and -tls-key go together"))
	case tls[0] && f.insecure:
		errs = append(errs, errors.New("-insecure and the -tls flags contradict each other"))
	case !tls[0] && !f.insecure && !f.dev:
		errs = append(errs, errors.New("no TLS: give -tls-ca, -tls-cert and -tls-key (make them with \"ferry tls ca create\" and \"ferry tls cert create -node NAME\"), or -insecure to serve in plaintext on a trusted network"))
	case tls[0] && f.gossipKey == "":
		errs = append(errs, errors.New("-gossip-key is needed with TLS (make one with \"ferry keygen\", the same on every node): without it anyone who reaches the gossip port joins the membership"))
	}
	if f.gossipKey != "" {
		if _, err := decodeGossipKey(f.gossipKey); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The rules between the lease settings, once each is sane on its own.
	if limit := f.lease * 2 / 3; f.renewDeadline > limit {
		errs = append(errs, fmt.Errorf("-renew-deadline %s: must be at most 2/3 of -lease %s (%s), so that a mover stops writing well before the leader may give its jobs to another node", f.renewDeadline, f.lease, limit))
	}
	if f.renewInterval >= f.renewDeadline {
		errs = append(errs, fmt.Errorf("-renew-interval %s: must be shorter than -renew-deadline %s (a quarter of it or less), or the lease lapses between two renewals and every copy stops", f.renewInterval, f.renewDeadline))
	} else if f.renewInterval > f.renewDeadline/4 {
		warnings = append(warnings, fmt.Sprintf("-renew-interval %s is more than a quarter of -renew-deadline %s: one lost renewal may stop this node's copies", f.renewInterval, f.renewDeadline))
	}
	return warnings, errors.Join(errs...)
}

// decodeGossipKey reads -gossip-key: base64 of an AES key.
func decodeGossipKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("-gossip-key: not base64 (make one with \"ferry keygen\"): %v", err)
	}
	if err := fsm.CheckGossipKey(k); err != nil {
		return nil, fmt.Errorf("-gossip-key: %w", err)
	}
	return k, nil
}

// gossipKeys are the keys gossip is encrypted with; validate checked them.
func (f *agentFlags) gossipKeys() [][]byte {
	if f.gossipKey == "" {
		return nil
	}
	k, _ := decodeGossipKey(f.gossipKey)
	return [][]byte{k}
}
