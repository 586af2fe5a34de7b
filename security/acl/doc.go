// Package acl decides who may call what on a Ferry cluster's client API.
//
// Every gRPC method of the client API needs one of three roles, ordered so
// that a higher role may do everything a lower one may:
//
//   - Read: list, get and watch — jobs, devices, members, metrics;
//   - Operator: run the backups — submit and cancel copies, label, protect,
//     erase and unload tapes;
//   - Admin: change what the cluster is — register and remove devices and
//     libraries, create pools, remove members, manage tokens, secrets, the
//     gossip keyring, and read the audit trail.
//
// MethodRole is the one table of which role each method needs; a method
// it does not know is refused (default deny), so a new RPC must be added
// here before anyone can call it. Mutating says which calls change state:
// the audit trail records exactly those.
//
// A server resolves the caller of each call (from its token, or its
// certificate) and passes it down the call's context with WithCaller;
// handlers and the audit trail read it with CallerFrom.
//
// Node-to-node services (Raft's transport, leases) are not in the table:
// they admit node certificates only (cluster.PeerAuth), never tokens.
package acl
