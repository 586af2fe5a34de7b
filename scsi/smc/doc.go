// Package smc is the device server of a SCSI media changer (SMC-3) whose
// elements are a cluster tape library (storage/library). NDMP's SCSI
// service hands it the CDBs a DMA sends to a library's robot; it answers
// them from the cluster's replicated library state and carries out MOVE
// MEDIUM through the cluster, so that every node's robot shows the same
// inventory and every move is one Raft entry.
//
// # Element addresses
//
// A library of S slots, I import/export slots and D drives is, as SMC-3
// sees it, one medium transport element and S+I+D elements that hold
// cartridges. Their addresses depend only on S, I and D (see Map), so they
// are the same on every node and never change:
//
//	medium transport   0
//	storage            1 .. S          slot n is @n
//	import/export      S+1 .. S+I      ie n is @S+n
//	data transfer      S+I+1 .. S+I+D  drive n is @S+I+1+n
//
// MODE SENSE page 1Dh (element address assignment) reports this map.
//
// # Commands
//
// TEST UNIT READY, REQUEST SENSE, INQUIRY (device type 08h; VPD 00h, 80h,
// 83h), MODE SENSE(6)/(10) (pages 1Dh, 1Eh, 1Fh, 3Fh), READ ELEMENT STATUS
// (VOLTAG: barcodes as primary volume tags; DVCID: each drive's serial
// number), MOVE MEDIUM, INITIALIZE ELEMENT STATUS (with and without
// range), PREVENT ALLOW MEDIUM REMOVAL and REPORT LUNS. Anything else is
// ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20/00).
//
// # Who does what
//
// Device.Execute takes one CDB and returns the status, the data-in and,
// for CHECK CONDITION, fixed-format sense data (scsi/sense). The package
// does no I/O: the caller's Library reads the cluster's state (a
// linearizable read, Snapshot) and moves a cartridge (Move). What a
// snapshot says about holders (a drive a copy job or an NDMP session
// holds, a cartridge a job needs) shows in READ ELEMENT STATUS as a clear
// ACCESS bit, and makes MOVE MEDIUM fail with MEDIUM REMOVAL PREVENTED BY
// DATA TRANSFER ELEMENT (53/03) or MEDIUM REMOVAL PREVENTED (53/02); an
// empty source is 3B/0E, a full destination 3B/0D, an address no element
// has 21/01, all under ILLEGAL REQUEST.
//
// The package was written against what two DMAs send and parse: Amanda's
// ndmjob (its smc_* library: INQUIRY with 128 bytes, MODE SENSE(6) page
// 1Dh with DBD, READ ELEMENT STATUS of 80 elements from address 0 with
// VOLTAG, MOVE MEDIUM with the transport from page 1Dh, INITIALIZE ELEMENT
// STATUS) and Amanda's chg-ndmp changer (TEST UNIT READY, INQUIRY of 96
// bytes, READ ELEMENT STATUS first with an allocation length of 8 to learn
// the size, MOVE MEDIUM).
package smc
