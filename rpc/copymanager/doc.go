// Package copymanager is the cluster's SPC-4 copy manager as SCSI front ends
// see it. An EXTENDED COPY (LID1) becomes a replicated copy job, keyed by the
// initiator port (the I_T nexus's initiator side, name and ISID) and the
// parameter list's list identifier; RECEIVE COPY RESULTS is answered from the
// replicated job state. So any node answers for any copy, and an initiator
// that reinstates its session (same ISID) on another node after the one that
// took its command failed still learns the true outcome. The encodings of the
// results live here too (results.go): the gRPC API's CopyResults serves the
// same bytes. A copy into a LUN an initiator has reserved is refused with
// RESERVATION CONFLICT (the state machine would not place it until the
// reservation is released: fsm.CopyExcluded).
package copymanager
