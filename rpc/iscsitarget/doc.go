// Package iscsitarget serves the cluster's disk LUNs over iSCSI. Every node
// runs the same target (one per cluster, iqn.2026-11.io.ferry:<cluster>),
// whose logical units are the registered disks under the LUN numbers the
// state machine gave them, so an initiator sees the same LUNs through any
// node's portal, and SendTargets lists every node's portal for multipath.
// A disk is a LUN from the moment this node applies its registration, and
// stops being one the moment it applies its removal (the target follows
// the node's applied index, not a timer).
// EXTENDED COPY and RECEIVE COPY RESULTS go to the cluster's copy manager
// (rpc/copymanager): a copy is a replicated job and survives the node that
// took the command.
package iscsitarget
