// Package devicedirs is the rule of which paths a node opens as devices
// (its -device-dirs): a node that can be told to register or open any
// path could be made to turn /etc/shadow, or its own Raft log, into a LUN
// and copy over it. A Policy names the directories devices may lie under
// (none: any) and the ones they never may (the node's data directory).
// Paths are compared in their canonical form, every symlink resolved, so
// that no link leads out of an allowed directory or into a forbidden one.
//
// Two places apply the same Policy: the device service when a device is
// registered through this node (rpc/grpcapi, PERMISSION_DENIED naming the
// field), and the executor when it opens a registered device for a copy or
// an NDMP session (cluster/executor). The second matters because the
// registry is the cluster's: a disk registered through a node whose
// -device-dirs allow it is in every node's registry, and a node whose
// -device-dirs exclude it must still refuse to open it.
//
// The package is pure but for resolving symlinks (filepath.EvalSymlinks);
// its errors wrap ErrOutside or ErrOwnData.
package devicedirs
