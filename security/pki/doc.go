// Package pki makes the certificates of a Ferry cluster and reads the
// identity out of them.
//
// A cluster has its own certificate authority, used for nothing else, as
// Consul, Nomad and etcd recommend: trusting a public or company-wide CA
// would let any certificate it ever signed reach the cluster. NewCA makes
// one (ECDSA P-256, self-signed, valid for a number of days, allowed to
// sign leaf certificates only: path length 0). The CA signs two kinds of
// leaf certificate, both ECDSA P-256:
//
//   - a node certificate (IssueNode), for a Ferry agent: usable as a TLS
//     server and as a TLS client, because nodes dial each other (Raft,
//     relay streams) as well as answer clients;
//   - a client certificate (IssueClient), for the CLI or a backup
//     application: TLS client only.
//
// Identity is carried as a SPIFFE ID in the certificate's URI SAN:
// spiffe://CLUSTER/node/NAME or spiffe://CLUSTER/client/NAME, where
// CLUSTER is the trust domain given to the CA (the agents' -cluster-name,
// "ferry" by default). Identify reads it back from a verified certificate,
// so that a node can check that the peer calling itself n2 holds n2's
// certificate, and not merely one the CA signed. A node certificate also
// carries the DNS names and IP addresses it is reached at (always
// localhost and 127.0.0.1, so that a single-machine cluster works), for
// clients that verify host names.
//
// Keys and certificates are PEM. WriteNew writes a file with mode 0600 and
// refuses to replace one that exists: a CA key overwritten by mistake
// strands every certificate it signed.
//
// Keys and serial numbers come from crypto/rand; the start of validity is
// the caller's (Config.Now), so tests can make expired certificates.
package pki
