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
//
// # Reservations across nodes
//
// SCSI reservations (PERSISTENT RESERVE OUT, RESERVE(6), RELEASE(6)) are
// Raft state (reservations.go): each node's portal is one target port
// (its relative port identifier is derived from its Raft id, PortID), an
// initiator port is known by its name and ISID wherever it logs in, and a
// reservation command is a ReserveOp that every node's state machine
// decides alike with the package scsi/pr. The device server asks the store
// for a LUN's State on every command: a map look-up of a cache the apply
// loop keeps (cluster.Node.OnApply), never a read of the state machine.
//
// A PREEMPT (or PREEMPT AND ABORT, CLEAR, a RELEASE that ends a
// reservation) sent through one node fences the holder on every node:
//   - every node, on applying the entry, updates its cache at once (so
//     its portal refuses the preempted nexus's next command) and hands
//     the command's Effect to its device server (sbc.Server.Deliver):
//     unit attentions, and the aborts of the preempted nexus's tasks
//     there. On the node that took the command, the device server
//     delivers it once the command is decided.
//   - the initiator that sent the command is answered only once every
//     other node serving iSCSI that gossip does not hold dead has applied
//     the entry (asked through ClusterService.RaftStatus), or 3 s have
//     passed. So a lagging node no longer lets the preempted holder write
//     once the preemptor is told it won.
//   - a node that could not be asked is dead (its initiators' writes went
//     with it), slow, or cut off from the leader. A node cut off learns
//     it within an election timeout (1-2 s, when it loses its leader), and
//     from then on refuses with RESERVATION CONFLICT every write to a LUN
//     that has registrations or an SPC-2 reservation (Busy), until it
//     hears from a leader again, whose next messages bring it the entries
//     it missed. The 3 s bound is longer
//     than that, so the holder's writes through it have stopped before the
//     preemptor's answer. What is left is a node connected to the leader
//     that applies the entry more than 3 s late: it is logged.
//
// A proposal re-sent after a leader change (cluster.Node.Propose) may be
// applied twice. The initiator is answered with the first outcome, and a
// reservation command repeated at once by the same nexus changes nothing
// the second time (it is refused, or finds its work done), but for
// PRgeneration after REGISTER AND IGNORE EXISTING KEY.
//
// Persistent reservations outlive their nexuses, node restarts and
// kill -9 alike: they are in the log. An SPC-2 reservation (RESERVE(6)) is
// released when its I_T nexus is lost, so one held through a node that
// dies is released by Raft too: the node itself, when it starts again,
// proposes RELEASE(6) for the reservations held through its own port
// (after a linearizable read, before its portal serves), and the leader
// does it for those held through the port of a node gossip holds dead.
//
// While a copy job writes a disk, writes to it through iSCSI are refused
// with RESERVATION CONFLICT (Busy): an initiator waits and retries, as
// when another initiator holds the LUN, where DATA PROTECT would make it
// take the LUN for read-only. The reverse rule is the state machine's: a
// copy is not placed to write a disk an initiator has reserved
// (fsm.CopyExcluded); it waits queued, saying so in `ferry job get`.
package iscsitarget
