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
// RESERVATION CONFLICT.
package pr
