// Package pr is the decision code of SCSI reservations: SPC-4 persistent
// reservations (PERSISTENT RESERVE IN and OUT) and the SPC-2 reservations
// of RESERVE(6) and RELEASE(6), as pure functions of a LUN's State.
//
// The package does no IO and keeps no state of its own, so that the same
// code decides a reservation command in a lone target (the device server
// keeps the State in memory) and in the cluster (the Raft state machine
// stores it with the disk, and every node applies the command committed to
// the log, reaching the same State and the same outcome). Apply changes a
// State, Read answers PERSISTENT RESERVE IN, and Conflicts tells the device
// server whether a command from an I_T nexus must be refused with
// RESERVATION CONFLICT. None of them modifies the State it is given.
//
// What is supported:
//   - PERSISTENT RESERVE OUT: REGISTER, REGISTER AND IGNORE EXISTING KEY,
//     RESERVE, RELEASE, CLEAR, PREEMPT and PREEMPT AND ABORT, the six
//     reservation types, LU_SCOPE, ALL_TG_PT and APTPL. The parameter list
//     must be the 24 bytes of the basic list (PARAMETER LIST LENGTH ERROR
//     otherwise). REGISTER AND MOVE and REPLACE LOST RESERVATION are
//     answered ILLEGAL REQUEST, INVALID FIELD IN CDB; SPEC_I_PT, which
//     registers other initiator ports named by TransportIDs, ILLEGAL
//     REQUEST, INVALID FIELD IN PARAMETER LIST.
//   - PERSISTENT RESERVE IN: READ KEYS, READ RESERVATION, REPORT
//     CAPABILITIES (ATP_C and PTPL_C set, SIP_C and CRH clear, every type,
//     ALLOW COMMANDS 001b) and READ FULL STATUS, whose TransportIDs are
//     iSCSI initiator port TransportIDs (format 01b: name, ",i,0x", ISID).
//     Read returns the whole parameter data; the caller cuts it to the
//     ALLOCATION LENGTH (ADDITIONAL LENGTH always counts everything).
//   - RESERVE(6) and RELEASE(6) as SPC-2 reservations of the whole logical
//     unit, kept in State.Legacy. The device server does not claim
//     Compatible Reservation Handling, so while any I_T nexus is
//     registered every RESERVE(6) and RELEASE(6) conflicts, and while a
//     RESERVE(6) reservation is held every PERSISTENT RESERVE command
//     conflicts, whoever sends it (SPC-2 5.5.1, SPC-4 5.13.3).
//
// A registration made with ALL_TG_PT is one Registration that holds for
// its initiator port through every target port (every node's portal of
// the cluster); READ KEYS lists its key once. An Attention or Abort whose
// TargetPort is 0 is for that initiator port through every target port;
// an Attention to EveryNexus is for every I_T nexus of the logical unit.
// A logical unit reset is applied like a command (ResetCDB), so that a
// store that replicates commands replicates resets: it releases an SPC-2
// reservation and establishes a unit attention for every nexus.
// The reservation itself is held by one I_T nexus, as SPC-4 has it.
// Persist Through Power Loss is reported capable because the cluster keeps
// the State in its Raft log, which no node's power loss erases; the State
// survives whatever APTPL says, and APTPL is only reported back.
package pr
