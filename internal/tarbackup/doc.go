// Package tarbackup writes a directory tree as a POSIX tar stream and
// restores one, the format behind NDMP's butype "tar". It knows nothing of
// NDMP: the DATA service hands it a stream (a socket or an in-process pipe to
// a mover) and turns its callbacks into NDMP messages.
//
// # Backup
//
// Backup walks a tree depth first in name order, a directory before its
// contents, never following a symbolic link, and writes each entry through
// the standard library's archive/tar: regular files, directories, symbolic
// links, hard links (the second and later names of an inode become tar hard
// links to the first), FIFOs and devices. Modes (with setuid, setgid and
// sticky), numeric uid and gid, and modification times to the nanosecond are
// kept; names longer than ustar allows and sub-second times go into pax
// extended headers. A sparse file is found by its data extents (SEEK_DATA,
// SEEK_HOLE) and written in the GNU PAX sparse format 1.0, its map then its
// data extents only, which archive/tar and GNU tar read back; archive/tar
// cannot write that format, so those two header blocks are encoded here
// (sparse.go). Recover makes the file sparse again.
//
// For every entry Backup calls BackupOptions.FileHistory with the entry's
// stat and the byte offset in the stream of its first header block: that
// offset is NDMP's fh_info, the address a DMA keeps in its index to recover
// the file later by direct access. The stream is written through a large
// buffer; the caller cuts it into tape records.
//
// # Recover
//
// Recover reads a stream and restores all of it, or only the entries a
// Selection names (a name restores the entry and, for a directory,
// everything below it, optionally under another destination name, as NDMP's
// original_path/destination_path pairs do). Everything is created through an
// os.Root opened on the destination, so no entry can write outside it:
// absolute names and ".." are refused, and a symbolic link in the tree (one
// the archive itself created, or one already there) is never followed out of
// the destination. An existing non-directory is replaced, never written
// through. Directories get their modes and times last, deepest first, so that
// restoring their contents does not disturb them. Ownership is restored when
// running as root.
//
// RecoverDirect restores single entries by direct access: given each entry's
// offset (its fh_info) and a RangeSource able to deliver any byte range of
// the stream (the DATA service asks the mover for it with NOTIFY_DATA_READ),
// it reads the entry's headers and data and nothing else.
//
// Progress counts the bytes of the stream processed and, for a backup, an
// estimate of those remaining, for NDMP's DATA_GET_STATE. The hot path is one
// goroutine with large reads and writes; the estimate comes from one extra
// goroutine that walks the tree with stat only.
package tarbackup
