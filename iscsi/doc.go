// Package iscsi is an RFC 7143 iSCSI target: it accepts initiator
// connections, logs them in (operational negotiation, optional CHAP),
// answers discovery sessions with SendTargets, and in normal sessions
// collects SCSI commands with their data-out and hands them to a
// task.Server, returning data-in, status and sense. One Target serves one
// target name; its logical units are whatever the task.Server executes.
//
// The target runs at ErrorRecoveryLevel 0 with one connection per session:
// a protocol error closes the connection and the initiator logs in again
// (an out-of-sequence Data-Out only costs its command, which is rejected).
//
// Typical use:
//
//	cfg := iscsi.DefaultConfig()
//	cfg.TargetName = "iqn.2026-11.io.ferry:" + cluster
//	cfg.Server = blockServer // a task.Server
//	cfg.Portals = clusterPortals // every node's "host:port,1"
//	t, err := iscsi.NewTarget(cfg)
//	...
//	go t.Serve(ctx, ln)
//	...
//	t.Shutdown(drainCtx) // initiators log out and move to another portal
//
// Aborts: once task management has answered ABORT TASK, ABORT TASK SET,
// CLEAR TASK SET or a LUN or target reset (from this session or another),
// no task it aborted touches the medium. Running tasks are waited for
// before the answer, and their task.Gate is closed first, so a device
// server that writes through Task.Commit begins no write after it; tasks
// still collecting data-out never run: another session's initiator gets
// no further R2T, the data it still sends is dropped, and the task ends
// with TASK ABORTED. A command is marked answered, under the lock task
// management takes, before its response goes out; from then on it has
// completed, so ABORT TASK of it is TASK DOES NOT EXIST and resets leave
// it alone: an initiator never hears both GOOD and FUNCTION COMPLETE.
//
// Commands run on goroutines of their own, at most QueueDepth per
// connection, except that a lone READ or WRITE of at most 64 KiB (one the
// task.Server calls Quick) runs on the goroutine that reads the
// connection when no further PDU has arrived: with one command in flight
// the hand-off to another thread cost a third of the commands per second.
//
// Data-out is tracked by the ranges of the buffer it filled, not by a
// byte count: data overlapping what already arrived (immediate data sent
// again in the first Data-Out) is merged when it agrees and is a protocol
// error when it does not, R2Ts solicit exactly the holes the unsolicited
// data left, and a command runs only once its whole buffer is filled.
//
// Memory: Config.DataBudget bounds the data buffers of all commands at
// once (a write's data-out from its command PDU, a read's data-in piece
// from the moment it runs, each until its response is sent or its
// connection drops); a command past it ends with BUSY. A READ's data-in
// comes from the task.Server as a task.Stream, read a piece (256 KiB) at a
// time into one recycled buffer and sent as Data-In before the next piece
// is read: an initiator that stops reading its socket holds a piece per
// command and blocks only its own connection. Config.MaxSessions bounds
// the sessions; a login past it fails with OUT OF RESOURCES.
//
// A task.Server may also implement DataOutLength(lun, cdb) (uint32, bool),
// so that write residuals are reported and the data-out it gets is cut to
// what the CDB transfers; ResetLUN(initiator, lun), to hear of logical unit and
// target resets (lun is all ones for a target reset); and
// NexusLost(initiator), to hear that a normal session ended. Target's
// AbortTasks lets a device server abort an initiator port's tasks
// (PREEMPT AND ABORT).
package iscsi
