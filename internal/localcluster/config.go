// Package localcluster starts and stops real `ferry agent` processes on the
// loopback interface (or each in a network namespace of its own, reached
// from inside it) so that integration tests, the demo and the benchmark can
// exercise a whole cluster: crashes (SIGKILL), graceful stops, restarts with
// the same data dir and ports, readiness and leader discovery.
package localcluster

import (
	"errors"
	"io"
	"log/slog"
)

// Config describes a local cluster. Binary and Dir are required.
type Config struct {
	// Binary is the path of the ferry binary to run as `ferry agent`.
	Binary string
	// Dir holds one data dir and one log file per node. The caller owns it
	// (a test's t.TempDir, or a temporary directory it removes).
	Dir string
	// ClusterName is passed as -cluster-name. Default "ferry".
	ClusterName string
	// Site is passed as -site. Default "local".
	Site string
	// Voters is passed as -voters when non-zero; zero keeps the agent default.
	Voters int
	// SnapshotEntries is passed as -snapshot-entries when non-zero; zero
	// keeps the agent default.
	SnapshotEntries int
	// LogLevel is passed as -log-level. Default "info".
	LogLevel string
	// ExtraArgs are appended to every agent's command line.
	ExtraArgs []string
	// Insecure runs the nodes -insecure: plaintext gRPC and Raft, gossip
	// unencrypted. By default (false) a cluster is secure, as a real one
	// is: a CA made in Dir/pki, a node certificate each (-tls-ca,
	// -tls-cert, -tls-key), one gossip key (-gossip-key), and a client
	// certificate for the harness's own connections (ClientEnv gives the
	// ferry CLI the same; TLSFiles gives tests certificates of their own).
	// A node given -tls-ca or -insecure in its extra arguments keeps them.
	Insecure bool
	// ACL bootstraps the cluster's ACLs in the first WaitReady that
	// succeeds; ACLToken then gives the management token, which the
	// harness's own connections send. Default: off (every caller admin).
	ACL bool
	// Logger narrates what the harness does (starts, kills, restarts).
	// Default: discard.
	Logger *slog.Logger
}

// errInvalidConfig is wrapped by New when the Config cannot work.
var errInvalidConfig = errors.New("localcluster: invalid config")

func (c Config) withDefaults() (Config, error) {
	if c.Binary == "" {
		return c, errors.Join(errInvalidConfig, errors.New("Binary is required"))
	}
	if c.Dir == "" {
		return c, errors.Join(errInvalidConfig, errors.New("Dir is required"))
	}
	if c.ClusterName == "" {
		c.ClusterName = "ferry"
	}
	if c.Site == "" {
		c.Site = "local"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}
