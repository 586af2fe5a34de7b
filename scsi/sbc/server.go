package sbc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// MaxLUN is the largest LUN number REPORT LUNS can express with the
// single-level peripheral and flat addressing methods.
const MaxLUN = 0x3FFF

// ErrLUN is wrapped by Add's errors.
var ErrLUN = errors.New("sbc: invalid LUN")

// Server is the device server for the LUNs of one target. It is safe for
// concurrent use: a transport may execute many tasks at once.
type Server struct {
	cfg          Config
	copier       CopyManager
	commands     []command
	reservations Reservations
	// attn holds the unit attentions pending per I_T nexus and LUN.
	attn attentions

	nexusMu sync.Mutex
	aborter TaskAborter

	mu   sync.RWMutex
	luns map[uint64]LUN
	// lockers holds each LUN's range locker.
	lockers map[uint64]RangeLocker
}

// New returns a server with no LUNs. copier runs EXTENDED COPY and RECEIVE
// COPY RESULTS; with a nil copier both are unsupported operation codes and
// the third-party copy VPD page is absent.
func New(cfg Config, copier CopyManager) *Server {
	s := &Server{cfg: cfg.withDefaults(), copier: copier, luns: make(map[uint64]LUN), lockers: make(map[uint64]RangeLocker),
		reservations: cfg.Reservations}
	if s.reservations == nil {
		s.reservations = newLocalReservations()
	}
	s.commands = s.commandTable()
	return s
}

// Add presents l as LUN n.
func (s *Server) Add(n uint64, l LUN) error {
	if n > MaxLUN {
		return fmt.Errorf("%w: LUN %d above %d", ErrLUN, n, MaxLUN)
	}
	if l == nil {
		return fmt.Errorf("%w: LUN %d is nil", ErrLUN, n)
	}
	if bs := l.BlockSize(); bs == 0 || bs&(bs-1) != 0 {
		return fmt.Errorf("%w: LUN %d block size %d", ErrLUN, n, bs)
	}
	if l.Blocks() == 0 {
		return fmt.Errorf("%w: LUN %d has no blocks", ErrLUN, n)
	}
	if naa := l.Identity().NAA; len(naa) != 8 && len(naa) != 16 {
		return fmt.Errorf("%w: LUN %d NAA designator of %d bytes, want 8 or 16", ErrLUN, n, len(naa))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.luns[n]; dup {
		return fmt.Errorf("%w: LUN %d already present", ErrLUN, n)
	}
	s.luns[n] = l
	s.lockers[n] = newLocker(l)
	return nil
}

// Remove stops presenting LUN n; commands already running finish.
func (s *Server) Remove(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.luns, n)
	delete(s.lockers, n)
}

// lun returns LUN n, or nil.
func (s *Server) lun(n uint64) LUN {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.luns[n]
}

// lunLocker returns LUN n and its range locker, or nils.
func (s *Server) lunLocker(n uint64) (LUN, RangeLocker) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.luns[n], s.lockers[n]
}

// lunNumbers returns the LUN numbers in ascending order.
func (s *Server) lunNumbers() []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ns := make([]uint64, 0, len(s.luns))
	for n := range s.luns {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// request is one command being executed.
type request struct {
	task *task.Task
	// cdb is the CDB cut to the command's length.
	cdb []byte
	// lun is nil when the task addresses a LUN the server does not have
	// (only commands marked anyLUN run then).
	lun LUN
	// locker locks ranges of lun (see lockRange).
	locker RangeLocker
}

// Execute runs one command.
func (s *Server) Execute(ctx context.Context, t *task.Task) task.Result {
	cmd, err := s.lookup(t.CDB)
	if err != nil {
		return s.reply(nil, err)
	}
	cdb := t.CDB[:len(cmd.usage)]
	if err := checkUsage(cdb, cmd.usage); err != nil {
		return s.reply(nil, err)
	}
	r := &request{task: t, cdb: cdb}
	r.lun, r.locker = s.lunLocker(t.LUN)
	if r.lun == nil && !cmd.anyLUN {
		return task.Fail(sense.New(sense.IllegalRequest, sense.LUNotSupported))
	}
	if r.lun != nil {
		if res, stop := s.admit(r); stop {
			return res
		}
	}
	return cmd.run(ctx, r)
}

// byte1Field is bits 7-5 of CDB byte 1, one 3-bit field in every command
// the server has: RDPROTECT, WRPROTECT or VRPROTECT of the block commands,
// the obsolete LUN field of the others, reserved above a service action.
const byte1Field = 0xE0

// checkUsage refuses a CDB bit that the usage data does not allow. The
// field pointer names the first such byte and its highest bad bit, which
// is the leftmost bit of the offending field as SPC-4 asks, since apart
// from byte1Field the refused fields are single bits or whole bytes.
func checkUsage(cdb, usage []byte) error {
	for i := 1; i < len(usage); i++ {
		bad := cdb[i] &^ usage[i]
		if bad == 0 {
			continue
		}
		if i == 1 && bad&byte1Field != 0 {
			return sense.InvalidCDB(1, 7)
		}
		return sense.InvalidCDB(uint16(i), highBit(bad))
	}
	return nil
}

// highBit is the index of the most significant set bit of v (v != 0).
func highBit(v byte) int {
	for b := 7; b > 0; b-- {
		if v&(1<<b) != 0 {
			return b
		}
	}
	return 0
}

// reply turns a handler's outcome into a result: data-in on success, the
// sense data of a *sense.Sense, RESERVATION CONFLICT for pr.ErrConflict,
// TASK ABORTED when the command's context ended, and HARDWARE ERROR,
// INTERNAL TARGET FAILURE for anything else.
func (s *Server) reply(data []byte, err error) task.Result {
	if err == nil {
		return task.Result{Status: task.Good, DataIn: data}
	}
	var sn *sense.Sense
	switch {
	case errors.As(err, &sn), task.Aborted(err):
	case errors.Is(err, pr.ErrConflict):
		return task.Result{Status: task.ReservationConflict}
	default:
		s.cfg.Logger.Warn("scsi command failed", "err", err)
	}
	return task.ErrorResult(err)
}

// truncate cuts data to an allocation length.
func truncate(data []byte, alloc uint32) []byte {
	if uint64(len(data)) > uint64(alloc) {
		return data[:alloc]
	}
	return data
}
