//go:build linux && (386 || amd64 || arm || arm64 || loong64 || riscv64 || s390x)

// The architectures above share the generic Linux ioctl encoding the
// request numbers below are built with; mips, powerpc and sparc encode them
// differently.

package tape

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Structures and request numbers of <linux/mtio.h>. C long is Go int on
// Linux, and __kernel_daddr_t is a C int.
type (
	mtop struct {
		op    int16
		count int32
	}
	mtget struct {
		typ, resid, dsreg, gstat, erreg int
		fileno, blkno                   int32
	}
	mtpos struct {
		blkno int
	}
)

const (
	iocWrite = 1
	iocRead  = 2

	mtiocTop = iocWrite<<30 | unsafe.Sizeof(mtop{})<<16 | 'm'<<8 | 1
	mtiocGet = iocRead<<30 | unsafe.Sizeof(mtget{})<<16 | 'm'<<8 | 2
	mtiocPos = iocRead<<30 | unsafe.Sizeof(mtpos{})<<16 | 'm'<<8 | 3
)

// MTIOCTOP operations.
const (
	mtFSF     = 1
	mtBSF     = 2
	mtFSR     = 3
	mtBSR     = 4
	mtWEOF    = 5
	mtREW     = 6
	mtEOM     = 12
	mtSETBLK  = 20
	mtSEEK    = 22
	mtBlkMask = 0xffffff // block size bits of mt_dsreg
)

// mt_gstat bits, compared as uint32 because C long is 32 bits on 386/arm.
const (
	gmtEOF    uint32 = 0x80000000
	gmtBOT           = 0x40000000
	gmtEOT           = 0x20000000
	gmtEOD           = 0x08000000
	gmtWrProt        = 0x04000000
	gmtOnline        = 0x01000000
)

// ST is a Linux SCSI tape drive opened through the st driver, implementing
// Drive with the MTIOCTOP, MTIOCGET and MTIOCPOS ioctls. Use the
// non-rewinding device (/dev/nst0): the rewinding one (/dev/st0) rewinds on
// every close.
//
// How the st driver's behaviour maps onto Drive:
//   - ReadRecord reads one record (one block in fixed mode). A read of 0
//     bytes is a filemark, or end of data when the status says so. A record
//     longer than p makes the driver fail with ENOMEM: ErrIncorrectLength,
//     the record's data lost, positioned after it.
//   - Past the early-warning point the driver fails one write with ENOSPC
//     and accepts the next; WriteRecord retries once and reports
//     earlyWarning, and a second ENOSPC is ErrEndOfMedium.
//   - Writes are buffered by the drive; Flush is WRITE FILEMARKS 0.
//   - Closing a device that was written last makes the driver write a
//     filemark (two on some drives) — the tape file is closed the way
//     tools like tar expect.
//   - ReadPosition's ObjectID is the drive's logical block id (READ
//     POSITION); the driver loses the file number after a Locate, and
//     ReadPosition then fails rather than guess.
type ST struct {
	mu        sync.Mutex
	path      string
	f         *os.File // nil once closed
	rc        syscall.RawConn
	readOnly  bool
	blockSize uint32
	pastEW    bool // a write has hit the early-warning point since the last rewind
}

var _ Drive = (*ST)(nil)

// OpenST opens a tape device such as /dev/nst0. A write-protected cartridge
// opens read-only; a drive without a cartridge fails with ErrNotLoaded.
func OpenST(path string) (*ST, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	readOnly := false
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) {
		f, err = os.OpenFile(path, os.O_RDONLY, 0)
		readOnly = true
	}
	if err != nil {
		return nil, fmt.Errorf("tape: open %s: %w", path, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tape: open %s: %w", path, err)
	}
	s := &ST{path: path, f: f, rc: rc, readOnly: readOnly}
	g, err := s.status()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tape: %s is not a tape drive: %w", path, err)
	}
	if gstat(g)&gmtOnline == 0 {
		f.Close()
		return nil, fmt.Errorf("tape: %s: %w", path, ErrNotLoaded)
	}
	s.readOnly = s.readOnly || gstat(g)&gmtWrProt != 0
	s.blockSize = uint32(g.dsreg & mtBlkMask)
	return s, nil
}

func (s *ST) ioctl(req uintptr, arg unsafe.Pointer) error {
	var errno syscall.Errno
	err := s.rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg))
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func (s *ST) op(op int16, count int32) error {
	m := mtop{op: op, count: count}
	return s.ioctl(mtiocTop, unsafe.Pointer(&m))
}

func gstat(g mtget) uint32 { return uint32(g.gstat) }

func (s *ST) status() (mtget, error) {
	var g mtget
	err := s.ioctl(mtiocGet, unsafe.Pointer(&g))
	return g, err
}

// condition turns a failed operation into the Drive sentinel the drive
// status explains, keeping the driver error when it explains nothing.
func (s *ST) condition(what string, err error) error {
	g, serr := s.status()
	var cond error
	switch {
	case serr != nil:
	case gstat(g)&gmtEOD != 0:
		cond = ErrEndOfData
	case gstat(g)&gmtEOF != 0:
		cond = ErrFilemark
	case gstat(g)&gmtBOT != 0:
		cond = ErrBeginningOfMedium
	case gstat(g)&gmtEOT != 0:
		cond = ErrEndOfMedium
	}
	if cond == nil {
		return fmt.Errorf("tape: %s %s: %w", what, s.path, err)
	}
	if g.resid != 0 {
		return fmt.Errorf("tape: %s %s: %w", what, s.path, &ResidueError{Residue: int64(g.resid), Err: cond})
	}
	return fmt.Errorf("tape: %s %s: %w", what, s.path, cond)
}

func (s *ST) ready() error {
	if s.f == nil {
		return fmt.Errorf("tape: %s: %w", s.path, ErrNotLoaded)
	}
	return nil
}

// ReadRecord reads one record; see ST for the driver's conditions.
func (s *ST) ReadRecord(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return 0, err
	}
	if s.blockSize != 0 {
		if len(p) < int(s.blockSize) {
			return 0, fmt.Errorf("%w: a %d-byte buffer for %d-byte blocks", ErrInvalidArgument, len(p), s.blockSize)
		}
		// In fixed mode the driver fills the whole buffer with as many
		// blocks as fit; one record is one block.
		p = p[:s.blockSize]
	}
	var n int
	var errno error
	if err := s.rc.Read(func(fd uintptr) bool {
		n, errno = unix.Read(int(fd), p)
		return true
	}); err != nil {
		return 0, err
	}
	switch {
	case errno == nil && n == 0:
		g, err := s.status()
		if err == nil && gstat(g)&gmtEOD != 0 {
			return 0, ErrEndOfData
		}
		return 0, ErrFilemark
	case errno == nil && s.blockSize != 0 && n != int(s.blockSize):
		return n, &IncorrectLengthError{Requested: int(s.blockSize), RecordLength: n}
	case errno == nil:
		return n, nil
	case errors.Is(errno, unix.ENOMEM):
		return 0, fmt.Errorf("tape: read %s: %w: the record is longer than %d bytes", s.path, ErrIncorrectLength, len(p))
	}
	return 0, s.condition("read", errno)
}

// WriteRecord writes p as one record; see ST for early warning.
func (s *ST) WriteRecord(p []byte) (earlyWarning bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return false, err
	}
	switch {
	case len(p) == 0 || len(p) > MaxRecordSize:
		return false, fmt.Errorf("%w: %d bytes (a record holds 1 to %d)", ErrInvalidLength, len(p), MaxRecordSize)
	case s.blockSize != 0 && len(p) != int(s.blockSize):
		return false, fmt.Errorf("%w: %d bytes in fixed mode with %d-byte blocks", ErrInvalidLength, len(p), s.blockSize)
	}
	write := func() (int, error) {
		var n int
		var errno error
		if err := s.rc.Write(func(fd uintptr) bool {
			n, errno = unix.Write(int(fd), p)
			return true
		}); err != nil {
			return 0, err
		}
		return n, errno
	}
	n, err := write()
	if errors.Is(err, unix.ENOSPC) && !s.pastEW {
		s.pastEW = true
		n, err = write()
	}
	switch {
	case err == nil && n == len(p):
		return s.pastEW, nil
	case err == nil:
		return s.pastEW, fmt.Errorf("tape: write %s: %d of %d bytes: %w", s.path, n, len(p), ErrEndOfMedium)
	case errors.Is(err, unix.ENOSPC):
		return true, fmt.Errorf("tape: write %s: %w", s.path, ErrEndOfMedium)
	case errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES):
		return false, fmt.Errorf("tape: write %s: %w", s.path, ErrWriteProtected)
	}
	return s.pastEW, s.condition("write", err)
}

// WriteFilemarks writes n filemarks; n = 0 flushes the drive's buffer.
func (s *ST) WriteFilemarks(n int) (earlyWarning bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return false, err
	}
	if n < 0 || n > maxFilemarkCount {
		return false, fmt.Errorf("%w: filemark count %d (0 to %d)", ErrInvalidArgument, n, maxFilemarkCount)
	}
	if s.readOnly {
		if n == 0 {
			return s.pastEW, nil
		}
		return false, fmt.Errorf("tape: %s: %w", s.path, ErrWriteProtected)
	}
	if err := s.op(mtWEOF, int32(n)); err != nil {
		if errors.Is(err, unix.ENOSPC) {
			s.pastEW = true
			if err = s.op(mtWEOF, int32(n)); err == nil {
				return true, nil
			}
			return true, fmt.Errorf("tape: write filemarks %s: %w", s.path, ErrEndOfMedium)
		}
		return s.pastEW, s.condition("write filemarks", err)
	}
	return s.pastEW, nil
}

// ReadPosition reports the drive's position: MTIOCPOS for the logical block
// id, MTIOCGET for the file number and the BOP/EOD/early-warning status.
func (s *ST) ReadPosition() (Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return Position{}, err
	}
	var mp mtpos
	if err := s.ioctl(mtiocPos, unsafe.Pointer(&mp)); err != nil {
		return Position{}, fmt.Errorf("tape: read position %s: %w", s.path, err)
	}
	g, err := s.status()
	if err != nil {
		return Position{}, fmt.Errorf("tape: status %s: %w", s.path, err)
	}
	if g.fileno < 0 {
		return Position{}, fmt.Errorf("tape: read position %s: the st driver does not know the file number here (after a locate)", s.path)
	}
	return Position{
		ObjectID:     uint64(mp.blkno),
		File:         uint64(g.fileno),
		BOP:          gstat(g)&gmtBOT != 0,
		EOD:          gstat(g)&gmtEOD != 0,
		EarlyWarning: gstat(g)&gmtEOT != 0 || s.pastEW,
	}, nil
}

// Locate moves to logical block id (SCSI LOCATE through MTSEEK).
func (s *ST) Locate(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if id > math.MaxInt32 {
		return fmt.Errorf("%w: the st driver locates to block ids below 2^31, not %d", ErrInvalidArgument, id)
	}
	if err := s.op(mtSEEK, int32(id)); err != nil {
		return s.condition(fmt.Sprintf("locate to %d on", id), err)
	}
	return nil
}

// Space spaces records (MTFSR/MTBSR), filemarks (MTFSF/MTBSF) or to end of
// data (MTEOM).
func (s *ST) Space(u SpaceUnit, count int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	var fwd, back int16
	switch u {
	case SpaceRecords:
		fwd, back = mtFSR, mtBSR
	case SpaceFilemarks:
		fwd, back = mtFSF, mtBSF
	case SpaceEndOfData:
		if err := s.op(mtEOM, 1); err != nil {
			return s.condition("space to end of data on", err)
		}
		return nil
	default:
		return fmt.Errorf("%w: space unit %v", ErrInvalidArgument, u)
	}
	op := fwd
	if count < 0 {
		op, count = back, -count
	}
	for count > 0 {
		step := min(count, math.MaxInt32)
		if err := s.op(op, int32(step)); err != nil {
			return s.condition(fmt.Sprintf("space %d %v on", count, u), err)
		}
		count -= step
	}
	return nil
}

// Rewind rewinds the tape.
func (s *ST) Rewind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if err := s.op(mtREW, 1); err != nil {
		return fmt.Errorf("tape: rewind %s: %w", s.path, err)
	}
	s.pastEW = false
	return nil
}

// SetBlockSize sets fixed mode with n-byte blocks, or variable mode (0).
func (s *ST) SetBlockSize(n uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if n > MaxRecordSize {
		return fmt.Errorf("%w: block size %d is above the maximum record size %d", ErrInvalidArgument, n, MaxRecordSize)
	}
	if err := s.op(mtSETBLK, int32(n)); err != nil {
		return fmt.Errorf("tape: set block size %d on %s: %w", n, s.path, err)
	}
	s.blockSize = n
	return nil
}

// BlockSize is the fixed block size, 0 in variable mode.
func (s *ST) BlockSize() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blockSize
}

// Flush writes the drive's buffer to the medium (WRITE FILEMARKS 0).
func (s *ST) Flush() error {
	_, err := s.WriteFilemarks(0)
	return err
}

// Close releases the device; see ST for the filemark the driver adds.
func (s *ST) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func (s *ST) writable() error {
	if err := s.ready(); err != nil {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("tape: %s: %w", s.path, ErrWriteProtected)
	}
	return nil
}
