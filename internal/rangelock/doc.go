// Package rangelock is a table of shared and exclusive byte-range locks
// on one file, honouring context. Within the process it orders holders
// itself; a Backend (storage/disk's Linux open file description locks)
// extends each grant to other processes sharing the file. The two are
// needed together: an open file description lock does not exclude two
// goroutines using the same descriptor, and the in-process table does not
// see other processes.
//
// A backend lock costs two system calls, as much as the 4 KiB write it
// guards, so shared ranges stay locked in the backend after their holders
// leave, a chunk at a time, and a stream of writes pays nothing. A process
// that needs an exclusive range another holds shared announces its intent
// (a shared lock on a byte far past the data); every table with a cache
// looks for intent each millisecond, and then gives back what no holder
// needs and caches nothing until the intent is gone.
//
// The SCSI device server takes a shared lock for every ordinary write and
// an exclusive one for COMPARE AND WRITE and ORWRITE, so that their
// read-modify-write is atomic with respect to every other write to the
// same blocks through any node sharing the backing file.
package rangelock
