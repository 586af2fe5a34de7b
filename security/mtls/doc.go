// Package mtls gives a Ferry node and its clients mutual TLS 1.3 with the
// cluster's own CA (security/pki), and tells a server who called it.
//
// A Store holds the CA certificate (or a bundle of the cluster's CAs, for a
// rollover: trust the old and the new CA, reissue every certificate, drop
// the old CA), this process's certificate and its key,
// read from files (Files), and re-reads them when asked (Reload), on
// SIGHUP, or when a file's modification time changes (Watch polls): a
// certificate is replaced without a restart, and connections made after
// the reload use the new one. A reload that fails (a half-written file, a
// key that does not match) keeps the material in use and logs why.
//
// Verification is the package's, not crypto/tls's, so that it always uses
// the CA of the moment and checks identities, not host names:
//
//   - a server (ServerTLS, ServerCredentials for gRPC) requires a client
//     certificate signed by the CA, valid now, for TLS client use, naming
//     a node or a client of this cluster (pki.Identify);
//   - a client (ClientTLS, NodeCredentials) requires the server's
//     certificate to be signed by the CA, for TLS server use, and to name
//     a node — when it dials a given node, that node: a certificate of n2
//     presented by the address the cluster knows as n3 is refused.
//
// Handlers read the caller's identity with PeerIdentity. The minimum
// version is TLS 1.3 on both sides; there is no fallback.
package mtls
