// Package rangelock is a table of shared and exclusive byte-range locks
// on one file, honouring context. Within the process it orders holders
// itself; a Backend (storage/disk's Linux open file description locks)
// extends each grant to other processes sharing the file. The two are
// needed together: an open file description lock does not exclude two
// goroutines using the same descriptor, and the in-process table does not
// see other processes.
//
// The SCSI device server takes a shared lock for every ordinary write and
// an exclusive one for COMPARE AND WRITE and ORWRITE, so that their
// read-modify-write is atomic with respect to every other write to the
// same blocks through any node sharing the backing file.
package rangelock
