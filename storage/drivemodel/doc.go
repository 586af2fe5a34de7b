// Package drivemodel makes a virtual tape drive take the time a real one
// does: it streams at the drive's rate, loads a cartridge in the drive's
// load time and locates at the drive's locate rate, and it counts the
// stalls of a drive its host cannot keep streaming. It does no I/O of its
// own: a Drive is the timing of one drive (pure arithmetic on a Clock, so
// tests run it on a fake one), and Tape puts a Drive in front of a
// cartridge so that a copy moves at the drive's speed.
//
// A library's Model is set when the library is created (ferry library
// create --drive-rate 400MB/s --load-time 15s --locate-rate 10GB/s); every
// field is off at zero, and the zero Model is a drive as fast as the
// machine. The rate is the drive's, not a job's: every job that uses the
// drive goes through the same Drive, one after another (a job's own
// --bwlimit is a separate limit on the job).
//
// # The buffer, and what a stall is
//
// A drive has a buffer of BufferTime at its rate (at least MinBuffer). It
// streams while the buffer holds data:
//
//   - Writing, the host may be ahead of the tape by at most the buffer: a
//     write waits while the buffer is full. When the host is slower than
//     the drive the buffer runs empty, and a real drive must stop, wind
//     back and start again once enough data has arrived (shoe-shining).
//     That is a stall: counted when the host writes again after the
//     buffer ran empty mid-stream. The stopped drive starts again when
//     the buffer holds half of its size (or the host syncs).
//   - Reading, the drive reads ahead at most a buffer: when the host
//     consumes slower than the drive reads, the buffer fills, the drive
//     stops (a stall, counted when the host reads again after it filled)
//     and starts again when the host has drained it to half.
//
// A stop the host asks for is not a stall: a sync (Flush, WriteFilemarks
// of 0), a locate or space, a load, or a change of direction each write
// out the buffer (the host waits for it) and leave the drive stopped until
// the next transfer starts it. A stall costs no extra time here: the model
// counts it (ferry_drive_stalls_total) rather than adding a reposition.
//
// A locate takes the distance moved (bytes of tape between the two
// positions) divided by the locate rate; a load takes the load time, on
// the node that opens the cartridge in the drive, each time it does.
package drivemodel
