// Package iscsitarget serves the cluster's disk LUNs over iSCSI. Every node
// runs the same target (one per cluster, iqn.2026-11.io.ferry:<cluster>),
// whose logical units are the registered disks under the LUN numbers the
// state machine gave them, so an initiator sees the same LUNs through any
// node's portal, and SendTargets lists every node's portal for multipath.
// EXTENDED COPY and RECEIVE COPY RESULTS go to the cluster's copy manager
// (rpc/copymanager): a copy is a replicated job and survives the node that
// took the command.
package iscsitarget
