// Package disk provides disk LUNs: a regular file or a Linux block device
// presented as a fixed number of logical blocks of 512 or 4096 bytes.
//
// Every read and write is checked against the LUN's end before it reaches
// the file, so a copy can never grow an image file or run off a device; a
// violation is an *RangeError that matches ErrOutOfRange. Offsets are in
// bytes so that callers with byte-granular segments (SPC-4 descriptor 0x0A)
// need no conversion; the error still names the logical blocks touched.
//
// LockRange locks byte ranges of a LUN against the other processes sharing
// its file (open file description locks on Linux) as well as within this
// one, for the SCSI device server's atomic commands.
//
// A LUN opened with Options.Thin is thin provisioned if its store allows:
// Open probes, on a scratch file beside the LUN's (never in the LUN's own
// data, which initiators and other nodes may be writing), whether the file
// system punches holes that read back as zeroes and whether SEEK_HOLE
// reports them; a block device must support WRITE ZEROES, which the kernel
// uses to unmap it with zeroes guaranteed. Unmap then deallocates ranges
// (FALLOC_FL_PUNCH_HOLE), ExtentAt tells mapped blocks from unmapped ones,
// and Allocated gives the bytes the file occupies; WriteStream, a copy's
// write, unmaps a buffer of zeroes instead of writing it, so that a copy
// into a thin LUN keeps its source's holes. A store that fails the probe
// leaves the LUN fully provisioned and Provisioning says why.
package disk
