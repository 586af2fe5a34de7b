// Package sbc is the SCSI block-command device server behind Ferry's iSCSI
// target: it executes the SBC-3 and SPC-4 commands an initiator sends to a
// disk LUN (INQUIRY and its VPD pages, READ CAPACITY, READ, WRITE, WRITE
// SAME, VERIFY, PRE-FETCH, COMPARE AND WRITE, ORWRITE, SYNCHRONIZE CACHE,
// MODE SENSE, REPORT LUNS, REPORT SUPPORTED OPERATION CODES, READ DEFECT
// DATA, ...) and hands EXTENDED COPY and RECEIVE COPY RESULTS to a
// CopyManager, which the cluster turns into jobs.
//
// A LUN is a fixed disk (INQUIRY RMB zero) that is always ready: START
// STOP UNIT may start it but never stop it, since a stop would take a LUN
// shared across the SAN away from every initiator, and PREVENT ALLOW
// MEDIUM REMOVAL has no medium to hold. A read-only LUN reports WP in
// MODE SENSE and refuses every command that would change it with DATA
// PROTECT, WRITE PROTECTED.
//
// SCSI reservations (PERSISTENT RESERVE IN/OUT, RESERVE(6)/RELEASE(6))
// are decided by package pr and kept in a Reservations store: in memory
// for a lone server, in the cluster's log for a node's target, so that
// every node's portal enforces the same ones. Before a command to a LUN
// runs, a unit attention pending for its I_T nexus ends it (SAM-5 5.14;
// INQUIRY, REPORT LUNS and REQUEST SENSE excepted), then the reservations
// may refuse it with RESERVATION CONFLICT (pr.Conflicts), as may a LUN a
// cluster copy job is writing (Reservations.Busy) for writes. The effect
// of a reservation command (unit attentions, PREEMPT AND ABORT's aborts
// through the transport's TaskAborter) is carried out by the node that ran
// it and, through Deliver, by the others. Resets and the end of a session
// release RESERVE(6) reservations (ResetLUN, NexusLost). A logical unit
// reset goes through the store like a command (pr.ResetCDB), so that its
// unit attention reaches every I_T nexus that addressed the LUN through
// any node's port, and its abort every task of the LUN there
// (pr.EveryNexus: the TaskAborter is asked for the tasks of initiator "");
// a target reset, LUN by LUN, likewise (pr.TargetResetCDB), without the
// unit attention.
//
// A Server implements task.Server, so a transport hands it whole commands
// with their data-out and sends back whatever Result it returns; a bad CDB,
// an address past the end of a LUN or an unknown LUN become CHECK CONDITION
// with the sense data SPC-4 prescribes, never a panic.
//
// Writes to the medium take a shared range lock and the read-modify-write
// commands (COMPARE AND WRITE, ORWRITE) an exclusive one, through the
// LUN's RangeLocker: a *disk.LUN's holds across the processes sharing its
// backing file, so a COMPARE AND WRITE is atomic with respect to every
// write through any node's portal.
//
// Every command the server implements is described once, in the command
// table (opcodes.go): its handler and its CDB usage data. REPORT SUPPORTED
// OPERATION CODES reports that table, and the dispatcher refuses any CDB
// that sets a bit the usage data does not allow, with a field pointer to
// that bit, so what the server advertises and what it accepts cannot drift
// apart.
//
// A LUN whose Volume is a thin Provisioner (a *disk.LUN opened thin whose
// file system punches holes that read back as zeroes) is thin provisioned:
// READ CAPACITY(16) sets LBPME and LBPRZ, VPD B2h offers UNMAP and WRITE
// SAME with UNMAP, VPD B0h gives the UNMAP limits and granularity, GET LBA
// STATUS reports mapped and deallocated runs, and UNMAP and WRITE SAME with
// UNMAP punch holes. Any other LUN is fully provisioned and says so (LBPME
// zero); UNMAP and WRITE SAME's UNMAP bit are refused there. Anchored
// blocks are not supported (ANC_SUP zero, ANCHOR refused), as SBC-3
// allows. Unmapping is a write: it takes the shared range lock and goes
// through the task's gate like every write.
package sbc
