// Package tape implements tape drives for the Ferry data mover: virtual tape
// cartridges stored as SIMH .tap images, and a Linux SCSI tape (st) backend,
// both behind the Drive interface with SCSI stream (SSC) semantics.
//
// A virtual cartridge behaves like a real tape: variable or fixed-length
// records, filemarks, an end of data after which nothing can be read, a write
// anywhere that discards everything after it, READ POSITION / LOCATE by
// logical object identifier (records and filemarks counted from the beginning
// of medium), SPACE over records and filemarks in both directions, a capacity
// with an early-warning zone before it, and write protection.
//
// The image format is the one SIMH documents, so existing tools (SIMH
// simulators, mtdump, tapeutils) read what Ferry writes:
//
//	record:    4-byte little-endian length n, n data bytes, one zero pad byte
//	           when n is odd, the same 4-byte length again
//	tape mark: 4 zero bytes
//	end of medium marker: 0xFFFFFFFF (data after it is ignored)
//	erase gap: 0xFFFFFFFE (skipped)
//	end of data: end of file
//
// The top bit of a record length marks a record that was read with an error
// on the original medium; the next seven bits are zero, so a record holds at
// most MaxRecordSize (16 MiB − 1) bytes.
//
// Open scans the record headers once and keeps an index of object offsets,
// so positioning never rescans the file. Close leaves that index in a file
// beside the image (IndexPath), which the next Open reads instead of
// scanning when it still describes the image exactly (indexfile.go): a
// cache, deleted before anything may modify the image. Writes are buffered in memory and
// reach the file on any other operation; Flush makes them durable (fsync).
package tape
