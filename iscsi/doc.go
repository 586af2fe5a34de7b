// Package iscsi is an RFC 7143 iSCSI target: it accepts initiator
// connections, logs them in (operational negotiation, optional CHAP),
// answers discovery sessions with SendTargets, and in normal sessions
// collects SCSI commands with their data-out and hands them to a
// task.Server, returning data-in, status and sense. One Target serves one
// target name; its logical units are whatever the task.Server executes.
//
// The target runs at ErrorRecoveryLevel 0 with one connection per session:
// any protocol error closes the connection and the initiator logs in again.
package iscsi
