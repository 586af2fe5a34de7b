package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/drivemodel"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// An NDMP tape session runs on this node like a copy job does, with the
// same rules: its job (kind ndmp) is RUNNING under the epoch of the entry
// that opened it, this node's lease renewals carry it (the leader says
// when it is lost), every write passes the write guard (the lease, and the
// cartridge's fence claimed at the session's epoch), and its end records
// the files it wrote in the cartridge's catalog. Unlike a copy it is not
// started by the executor: the NDMP server opens it (OpenSession) when a
// DMA opens a drive, and a session of an earlier incarnation of this node
// is ended, not resumed (endOrphans): NDMP has no reconnect.
//
// The DMA sees the cartridge from its first data file on: Ferry's VOL1
// label (file 0) stays out of its reach, so that the cartridge stays the
// registry's. The DMA's file 0 is the cartridge's file 1, its logical
// object 0 the first object after the label.

// Session is a cartridge an NDMP session holds in its drive. Its methods
// are those of tape.Drive, in the DMA's terms; it is not safe for use by
// several goroutines at once beyond what tape.Cartridge allows.
type Session struct {
	e    *Executor
	log  *slog.Logger
	job  *ferryv1.Job
	cart *ferryv1.Cartridge
	t    *tape.Cartridge
	// w is t behind the write guard; nil for a read-only session.
	w     *guardedTape
	g     *writeGuard
	f     *fence.Fence
	run   *runningJob
	base  uint64 // the cartridge's object id of the DMA's object 0
	mu    sync.Mutex
	track fileTracker
	moved int64 // bytes written and read
	ended bool
	// drive paces the session as its library's drive model says; nil
	// when the library has none.
	drive *drivemodel.Drive

	// A session writes records of a few KiB, one at a time: checking the
	// fence for each (six system calls) would cost more than the write.
	// So its writes run under a hold of the fence (fence.Hold), checked
	// once and released after holdWrites writes or holdFor, when the
	// session stops writing for idleRelease, and before any motion: a
	// new owner's Claim waits at most that long, and no write of this
	// session lands after it.
	hmu       sync.Mutex
	release   func() error // the hold, nil when none
	held      int          // writes under it
	heldAt    time.Time
	lastWrite time.Time
	idle      *time.Timer
}

// The bounds of a fence hold.
const (
	holdWrites  = 64
	holdFor     = 10 * time.Millisecond
	idleRelease = 2 * time.Millisecond
)

// OpenSession opens the cartridge of an NDMP session's job (just opened
// with an OpenNdmpSessionOp, owned by this node) and joins the job to
// this node's lease renewals. A read-write session claims the cartridge's
// fence at the session's epoch before it opens it, and cuts the
// unterminated tail an interrupted writer left (end of data at the last
// filemark): the next file starts clean, as a copy's takeover makes sure.
func (e *Executor) OpenSession(ctx context.Context, job *ferryv1.Job) (_ *Session, err error) {
	sess := job.GetSpec().GetNdmp()
	if sess == nil || job.GetOwner() != e.node.Name() || job.GetEpoch() == 0 {
		return nil, fmt.Errorf("%w: job %s is not an NDMP session of this node", fsm.ErrInvalid, job.GetId())
	}
	c, ok := e.node.FSM().Cartridge(sess.GetBarcode())
	if !ok {
		return nil, fmt.Errorf("cartridge %q: %w", sess.GetBarcode(), fsm.ErrNotFound)
	}
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	s := &Session{
		e: e, log: e.log.With("job", job.GetId(), "epoch", job.GetEpoch(), "cartridge", c.GetBarcode()),
		job: job, cart: c,
		g:   &writeGuard{ctx: sctx, cluster: e.node.ClusterID(), epoch: job.GetEpoch(), lease: e.lease, metrics: e.metrics},
		run: &runningJob{epoch: job.GetEpoch(), cancel: cancel, done: make(chan struct{})},
	}
	defer func() {
		if err != nil {
			cancel(err)
			err = errors.Join(err, s.g.close())
		}
	}()
	if err = e.checkPath("tape:"+c.GetBarcode(), c.GetPath()); err != nil {
		return nil, err
	}
	if sess.GetReadWrite() {
		if s.f, err = s.g.claim(c.GetPath()); err != nil {
			return nil, err
		}
	}
	if s.t, err = OpenCartridge(c, !sess.GetReadWrite()); err != nil {
		return nil, err
	}
	if s.drive, err = loadDrive(sctx, e.node.FSM(), e.drives, job.GetTapes(), c.GetBarcode()); err != nil {
		return nil, errors.Join(err, s.t.Close())
	}
	if sess.GetReadWrite() {
		s.w = &guardedTape{TapeDrive: s.t, g: s.g, f: s.f, labelled: true}
	}
	if err := PositionAtFile(s.t, 1, true); err != nil {
		return nil, errors.Join(fmt.Errorf("cartridge %s: past its label: %w", c.GetBarcode(), err), s.t.Close())
	}
	p, err := s.t.ReadPosition()
	if err != nil {
		return nil, errors.Join(err, s.t.Close())
	}
	s.base = p.ObjectID
	if s.w != nil {
		if err := s.cutUnterminated(); err != nil {
			return nil, errors.Join(fmt.Errorf("cartridge %s: cut the unterminated tail: %w", c.GetBarcode(), err), s.g.closeTape(s.t, s.f))
		}
	}
	if err := s.t.Locate(s.base); err != nil {
		return nil, errors.Join(err, s.t.Close())
	}
	e.mu.Lock()
	e.running[job.GetId()] = s.run
	e.mu.Unlock()
	s.log.Info("NDMP session holds the cartridge", "dma", sess.GetDmaAddress(), "read_write", sess.GetReadWrite())
	return s, nil
}

// cutUnterminated ends the tape at its last filemark when records follow
// it: the file an interrupted writer (a session whose node died, a copy
// cancelled mid-file) never closed. Its tail is gone, and the catalog
// hears of it at the end of the session.
func (s *Session) cutUnterminated() error {
	if err := s.t.Space(tape.SpaceEndOfData, 0); err != nil {
		return err
	}
	end, err := s.t.ReadPosition()
	if err != nil {
		return err
	}
	if end.ObjectID <= s.base {
		return nil
	}
	err = s.t.Space(tape.SpaceFilemarks, -1)
	if err != nil && !errors.Is(err, tape.ErrBeginningOfMedium) {
		return err
	}
	p, err := s.t.ReadPosition()
	if err != nil {
		return err
	}
	last := max(p.ObjectID+1, s.base) // after the last filemark
	if last >= end.ObjectID {
		return nil
	}
	if err := s.t.Locate(last); err != nil {
		return err
	}
	at, err := s.t.ReadPosition()
	if err != nil {
		return err
	}
	if err := s.g.pass(s.f, s.t.Erase); err != nil {
		return err
	}
	s.log.Warn("cut the unterminated file an interrupted writer left", "file", at.File, "objects", end.ObjectID-last)
	s.track.wrote(at, true)
	return nil
}

// Barcode is the cartridge's.
func (s *Session) Barcode() string { return s.cart.GetBarcode() }

// Job is the session's job as it was opened.
func (s *Session) Job() *ferryv1.Job { return s.job }

// WriteProtected reports the cartridge's write-protect tab (a read-only
// session refuses writes all the same).
func (s *Session) WriteProtected() bool { return s.cart.GetWriteProtected() }

// Capacity is the cartridge's, in bytes.
func (s *Session) Capacity() int64 { return s.t.Capacity() }

// Used is the cartridge's bytes up to end of data.
func (s *Session) Used() int64 { return s.t.Used() }

// Lost is closed once the session may no longer write: the leader gave
// its job away, it was cancelled, or this node is stopping.
func (s *Session) Lost() <-chan struct{} { return s.g.ctx.Done() }

func (s *Session) addMoved(n int) {
	s.mu.Lock()
	s.moved += int64(n)
	s.run.bytes.Store(s.moved)
	s.mu.Unlock()
}

// ReadRecord reads the next record. A writer's read passes the fence like
// a write: the cartridge writes what it buffered before it reads.
func (s *Session) ReadRecord(p []byte) (n int, err error) {
	if s.w == nil {
		n, err = s.t.ReadRecord(p)
	} else {
		werr := s.heldWrite(func() error { n, err = s.t.ReadRecord(p); return nil })
		if werr != nil {
			return 0, werr
		}
	}
	s.addMoved(n)
	if s.drive != nil && n > 0 {
		if perr := s.drive.Read(s.g.ctx, n); perr != nil {
			return n, errors.Join(err, perr)
		}
	}
	return n, err
}

// paceWrite waits, outside the fence hold, for room in the drive's buffer.
func (s *Session) paceWrite(n int) error {
	if s.drive == nil {
		return nil
	}
	return s.drive.Write(s.g.ctx, n)
}

// paceSync waits for the drive to write out its buffer.
func (s *Session) paceSync() error {
	if s.drive == nil {
		return nil
	}
	return s.drive.Sync(s.g.ctx)
}

// heldWrite runs one write of the session under its fence hold, taking a
// new one (the epoch checked afresh) when there is none or the last one
// is used up, and under the lease.
func (s *Session) heldWrite(write func() error) error {
	if err := s.writable(); err != nil {
		return err
	}
	if s.f == nil {
		// No fence (a device that cannot carry one): the lease alone.
		return s.g.do(nil, write)
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if !s.e.lease.valid() {
		// A lapsed lease may be the leader giving the cartridge away: the
		// new owner's claim must not wait for this session.
		s.dropHold()
		if err := s.g.waitLease(); err != nil {
			return err
		}
	}
	if s.release != nil && (s.held >= holdWrites || time.Since(s.heldAt) > holdFor) {
		s.dropHold()
	}
	if s.release == nil {
		release, err := s.f.Hold(s.g.epoch)
		if err != nil {
			s.g.countRefusal(err)
			return err
		}
		s.release, s.held, s.heldAt = release, 0, time.Now()
	}
	err := write()
	s.held++
	s.lastWrite = time.Now()
	if s.idle == nil {
		s.idle = time.AfterFunc(idleRelease, s.releaseIdle)
	} else {
		s.idle.Reset(idleRelease)
	}
	return err
}

// releaseIdle drops the hold of a session that stopped writing.
func (s *Session) releaseIdle() {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.release != nil && time.Since(s.lastWrite) >= idleRelease {
		s.dropHold()
	} else if s.release != nil {
		s.idle.Reset(idleRelease)
	}
}

// dropHold releases the fence hold, if any; hmu is held.
func (s *Session) dropHold() {
	if s.release == nil {
		return
	}
	if err := s.release(); err != nil {
		s.log.Warn("releasing the fence", "err", err)
	}
	s.release = nil
}

// WriteRecord writes a record at the position, through the guard.
func (s *Session) WriteRecord(p []byte) (bool, error) {
	if err := s.writable(); err != nil {
		return false, err
	}
	at, err := s.t.ReadPosition()
	if err != nil {
		return false, err
	}
	if at.File == 0 {
		return false, s.w.pastLabel() // refuses: the label is not the DMA's
	}
	if err := s.paceWrite(len(p)); err != nil {
		return false, err
	}
	var ew bool
	err = s.heldWrite(func() (err error) { ew, err = s.t.WriteRecord(p); return err })
	if err == nil {
		s.mu.Lock()
		s.track.wrote(at, false)
		s.track.record(p)
		s.mu.Unlock()
		s.addMoved(len(p))
	}
	return ew, err
}

// WriteRecords writes recs as consecutive records through the guard once:
// one lease and fence check for the batch, where a mover's stream of small
// records (ndmjob's are 10 KiB) would pay the fence's lock and read for
// each. It stops after the first record that ends in the early-warning
// zone (earlyWarning true) or at the first error, and returns how many
// records were written.
func (s *Session) WriteRecords(recs [][]byte) (int, bool, error) {
	if err := s.writable(); err != nil {
		return 0, false, err
	}
	at, err := s.t.ReadPosition()
	if err != nil {
		return 0, false, err
	}
	if at.File == 0 {
		return 0, false, s.w.pastLabel()
	}
	total := 0
	for _, p := range recs {
		total += len(p)
	}
	if err := s.paceWrite(total); err != nil {
		return 0, false, err
	}
	// One write of the fence hold (see heldWrite), however many records.
	var n int
	var ew bool
	err = s.heldWrite(func() error {
		for n < len(recs) && !ew {
			var err error
			if ew, err = s.t.WriteRecord(recs[n]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if n > 0 {
		bytes := 0
		s.mu.Lock()
		s.track.wrote(at, false)
		for _, p := range recs[:n] {
			s.track.record(p)
			bytes += len(p)
		}
		s.mu.Unlock()
		s.addMoved(bytes)
	}
	return n, ew, err
}

// WriteFilemarks writes n filemarks (0 flushes), through the guard.
func (s *Session) WriteFilemarks(n int) (_ bool, err error) {
	if n == 0 {
		defer func() {
			if perr := s.paceSync(); err == nil {
				err = perr
			}
		}()
	}
	if s.w == nil && n == 0 {
		return false, s.t.Flush()
	}
	if err := s.writable(); err != nil {
		return false, err
	}
	at, err := s.t.ReadPosition()
	if err != nil {
		return false, err
	}
	if at.File == 0 {
		return false, s.w.pastLabel()
	}
	var ew bool
	err = s.heldWrite(func() (err error) { ew, err = s.t.WriteFilemarks(n); return err })
	if err == nil && n > 0 {
		s.mu.Lock()
		s.track.wrote(at, false)
		s.track.marks(n)
		s.mu.Unlock()
	}
	return ew, err
}

// writable refuses a write of a read-only session, or of one whose job
// is no longer this node's under its epoch: the cluster may have given
// the cartridge to someone else.
func (s *Session) writable() error {
	if s.w == nil {
		return fmt.Errorf("%w: the session opened the tape read-only", tape.ErrWriteProtected)
	}
	if err := s.g.ctx.Err(); err != nil {
		return fmt.Errorf("NDMP session %s may no longer write: %w", s.job.GetId(), context.Cause(s.g.ctx))
	}
	return nil
}

// ReadPosition is the position in the DMA's terms.
func (s *Session) ReadPosition() (tape.Position, error) {
	p, err := s.t.ReadPosition()
	if err != nil {
		return p, err
	}
	p.ObjectID -= min(p.ObjectID, s.base)
	p.File -= min(p.File, 1)
	p.BOP = p.ObjectID == 0
	return p, nil
}

// Locate moves to the DMA's object id.
func (s *Session) Locate(id uint64) error {
	err := s.motion(func() error { return s.t.Locate(id + s.base) })
	if errors.Is(err, tape.ErrEndOfData) {
		end, _ := s.ReadPosition()
		return fmt.Errorf("tape: locate to object %d: %w at object %d", id, tape.ErrEndOfData, end.ObjectID)
	}
	return err
}

// Rewind moves to the DMA's beginning of tape: the first data file.
func (s *Session) Rewind() error { return s.motion(func() error { return s.t.Locate(s.base) }) }

// Space moves as tape.Drive's Space does; backwards it stops at the DMA's
// beginning of tape as at the beginning of medium.
func (s *Session) Space(u tape.SpaceUnit, count int64) error {
	if count >= 0 || u == tape.SpaceEndOfData {
		return s.motion(func() error { return s.t.Space(u, count) })
	}
	p, err := s.t.ReadPosition()
	if err != nil {
		return err
	}
	if u == tape.SpaceFilemarks {
		// The label's filemark is not the DMA's.
		if marks := int64(p.File) - 1; -count > marks {
			if err := s.motion(func() error { return s.t.Locate(s.base) }); err != nil {
				return err
			}
			return &tape.ResidueError{Residue: -count - marks, Err: tape.ErrBeginningOfMedium}
		}
		return s.motion(func() error { return s.t.Space(u, count) })
	}
	err = s.motion(func() error { return s.t.Space(u, count) })
	q, perr := s.t.ReadPosition()
	if perr != nil {
		return errors.Join(err, perr)
	}
	if q.ObjectID < s.base {
		// Stopped at the label's filemark: for the DMA that is the
		// beginning of the tape.
		if err := s.motion(func() error { return s.t.Locate(s.base) }); err != nil {
			return err
		}
		return &tape.ResidueError{Residue: -count - int64(p.ObjectID-s.base), Err: tape.ErrBeginningOfMedium}
	}
	return err
}

// motion moves the tape, and then waits for the drive to have moved as
// far (outside the fence: see motionNow).
func (s *Session) motion(move func() error) error {
	if s.drive == nil {
		return s.motionNow(move)
	}
	return s.drive.Move(s.g.ctx, s.t.Offset, func() error { return s.motionNow(move) })
}

// motionNow moves the tape; a cartridge writes what it buffered before it
// leaves the position, so a writer's motion passes the guard.
func (s *Session) motionNow(move func() error) error {
	if s.w == nil {
		return move()
	}
	if err := s.g.ctx.Err(); err != nil {
		return fmt.Errorf("NDMP session %s may no longer write: %w", s.job.GetId(), context.Cause(s.g.ctx))
	}
	// The motion passes the fence on its own: the hold goes first (see
	// fence.Hold).
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.dropHold()
	return s.g.pass(s.f, move)
}

// SetBlockSize selects fixed (n) or variable (0) mode.
func (s *Session) SetBlockSize(n uint32) error { return s.t.SetBlockSize(n) }

// BlockSize is the fixed record size, 0 in variable mode.
func (s *Session) BlockSize() uint32 { return s.t.BlockSize() }

// Flush makes what was written durable, through the guard.
func (s *Session) Flush() error {
	if s.w == nil {
		return errors.Join(s.t.Flush(), s.paceSync())
	}
	s.hmu.Lock()
	s.dropHold()
	err := s.w.Flush()
	s.hmu.Unlock()
	if err != nil {
		return err
	}
	return s.paceSync()
}

// Close is End with a background context.
func (s *Session) Close() error { return s.End(context.Background()) }

// End closes the session: it records the bytes moved and the files
// written (one FinishJobOp, so that the cartridge's catalog lists them),
// closes the cartridge and leaves this node's lease renewals. The
// cartridge stays in the drive: a DMA unloads it. A session whose job was
// ended elsewhere (its node's lease lapsed, a cancel) records nothing:
// its job's fate is recorded already. Calling End again does nothing.
func (s *Session) End(ctx context.Context) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	s.ended = true
	s.mu.Unlock()
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.dropHold()
	if s.idle != nil {
		s.idle.Stop()
	}
	defer func() {
		s.e.mu.Lock()
		if s.e.running[s.job.GetId()] == s.run {
			delete(s.e.running, s.job.GetId())
		}
		s.e.mu.Unlock()
		s.run.cancel(errSessionEnded)
		close(s.run.done)
	}()
	lost := s.g.ctx.Err() != nil
	var flushErr error
	if s.w != nil && !lost {
		// What the cartridge buffers lands under the guard, before the
		// catalog's positioning would write it unguarded.
		flushErr = s.w.Flush() // not s.Flush: hmu is held
		lost = s.g.ctx.Err() != nil
	}
	var writes []*ferryv1.TapeWrite
	if s.w != nil && !lost && flushErr == nil {
		tw, err := s.track.tapeWrite(ctx, s.job.GetId(), s.t)
		if err != nil {
			s.log.Warn("the catalog of the cartridge may miss files", "err", err)
		}
		if tw != nil {
			tw.Barcode = s.cart.GetBarcode()
			writes = append(writes, tw)
		}
	}
	var closeErr error
	if s.w != nil {
		closeErr = s.g.closeTape(s.t, s.f)
	} else {
		closeErr = s.t.Close()
	}
	closeErr = errors.Join(flushErr, closeErr, s.g.close())
	if lost {
		s.log.Info("NDMP session closed after its job ended elsewhere", "why", context.Cause(s.g.ctx))
		return closeErr
	}
	s.mu.Lock()
	moved := s.moved
	s.mu.Unlock()
	finish := &ferryv1.FinishJobOp{JobId: s.job.GetId(), Epoch: s.job.GetEpoch(), State: ferryv1.JobState_JOB_STATE_SUCCEEDED,
		Result: &ferryv1.JobResult{Bytes: uint64(moved), TapeWrites: writes}}
	if closeErr != nil {
		finish.State, finish.Result = ferryv1.JobState_JOB_STATE_FAILED, nil
		finish.Error = &ferryv1.JobError{Message: "closing the cartridge: " + closeErr.Error(), TapeWrites: writes}
	}
	_, err := s.e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_FinishJob{FinishJob: finish}})
	if err != nil && !errors.Is(err, fsm.ErrFenced) {
		return errors.Join(closeErr, fmt.Errorf("record the end of NDMP session %s: %w", s.job.GetId(), err))
	}
	s.log.Info("NDMP session ended", "bytes", moved, "files", len(writes))
	return closeErr
}

// errSessionEnded is the cause a session's context ends with when its
// DMA closed it.
var errSessionEnded = errors.New("the NDMP session ended")

// fileTracker follows what a session writes, for the catalog: where its
// lowest write was, and while it writes file after file from there (as a
// backup does) each file's records, bytes and hash, so that no byte is
// read back. Any other pattern (a write behind the last one, a first
// write inside a file) is read back from the tape at the end instead.
type fileTracker struct {
	from    *mover.TapePos // the lowest write, in the cartridge's terms
	next    uint64         // the object id the next sequential write is at
	file    uint64         // the file it is in
	seq     bool           // every write so far followed the one before
	files   []*ferryv1.TapeFile
	cur     *ferryv1.TapeFile
	h       hash.Hash
	cutOnly bool // the only "write" is the cut of an unterminated tail
}

// wrote notes a write (or, cut, the erase of a tail) at position at.
func (t *fileTracker) wrote(at tape.Position, cut bool) {
	switch {
	case t.from == nil:
		t.from = &mover.TapePos{ObjectID: at.ObjectID, File: at.File}
		t.next, t.file, t.seq, t.cutOnly = at.ObjectID, at.File, true, cut
		return
	case at.ObjectID < t.from.ObjectID:
		t.from = &mover.TapePos{ObjectID: at.ObjectID, File: at.File}
	}
	if t.cutOnly {
		// The cut ended the tape there: a write at end of data starts
		// the sequence.
		t.cutOnly, t.next, t.file = false, at.ObjectID, at.File
	}
	if at.ObjectID != t.next {
		t.seq = false
	}
}

func (t *fileTracker) record(p []byte) {
	if !t.seq {
		return
	}
	if t.cur == nil {
		t.cur = &ferryv1.TapeFile{Number: uint32(t.file)}
		t.h = sha256.New()
	}
	t.h.Write(p)
	t.cur.Bytes += uint64(len(p))
	t.cur.Records++
	t.next++
}

func (t *fileTracker) marks(n int) {
	if !t.seq {
		return
	}
	for range n {
		if t.cur == nil {
			t.cur = &ferryv1.TapeFile{Number: uint32(t.file)}
			t.h = sha256.New()
		}
		t.cur.Sha256 = hex.EncodeToString(t.h.Sum(nil))
		t.files = append(t.files, t.cur)
		t.cur, t.h = nil, nil
		t.file++
		t.next++
	}
}

// tapeWrite is what the session left on the cartridge, nil when it wrote
// nothing.
func (t *fileTracker) tapeWrite(ctx context.Context, jobID string, c *tape.Cartridge) (*ferryv1.TapeWrite, error) {
	if t.from == nil {
		return nil, nil
	}
	// A write in a file (not at its start) changed a file it did not
	// write whole: readBack says so. So does a write that did not follow
	// the one before.
	if !t.seq || !t.atFileStart(c) {
		return readBack(ctx, jobID, c, *t.from, false, nil)
	}
	first := uint32(max(t.from.File, 1))
	tw := &ferryv1.TapeWrite{FromFile: first, UsedBytes: uint64(c.Used())}
	files := t.files
	if t.cur != nil {
		cur := proto.Clone(t.cur).(*ferryv1.TapeFile)
		cur.Sha256 = hex.EncodeToString(t.h.Sum(nil))
		files = append(slices.Clone(files), cur)
	}
	for _, f := range files {
		if f.GetNumber() < 1 || f.GetNumber() > fsm.MaxTapeFiles {
			continue
		}
		f.JobId = jobID
		tw.Files = append(tw.Files, f)
	}
	return tw, nil
}

// atFileStart reports whether the lowest write began a file: a filemark
// (the label's, at least) is the object before it.
func (t *fileTracker) atFileStart(c *tape.Cartridge) bool {
	if t.from.ObjectID == 0 {
		return true
	}
	if err := c.Locate(t.from.ObjectID - 1); err != nil {
		return false
	}
	return errors.Is(c.Space(tape.SpaceRecords, 1), tape.ErrFilemark)
}

// endOrphan ends an NDMP session an earlier incarnation of this node
// opened: its DMA's connection died with that process, and NDMP has no
// reconnect. Its cartridge goes home, as when the leader ends the session
// of a node that died.
func (e *Executor) endOrphan(ctx context.Context, j *ferryv1.Job) {
	defer func() {
		e.mu.Lock()
		delete(e.ending, j.GetId())
		e.mu.Unlock()
	}()
	reason := fmt.Sprintf("node %s restarted; NDMP has no reconnect", e.node.Name())
	_, err := e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_EndNdmpSession{EndNdmpSession: &ferryv1.EndNdmpSessionOp{
		JobId: j.GetId(), Epoch: j.GetEpoch(), Reason: reason}}})
	if err != nil && !errors.Is(err, fsm.ErrFenced) {
		e.log.Warn("could not end an NDMP session of this node's earlier run", "job", j.GetId(), "err", err)
		return
	}
	e.log.Warn("ended an NDMP session of this node's earlier run", "job", j.GetId())
}
