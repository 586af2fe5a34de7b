package fsm

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
)

// NDMP in the state machine. A DMA (backup application) drives a library
// through a node's NDMP server: its MOVE MEDIUM is a MoveMediumOp, its
// TAPE_OPEN an OpenNdmpSessionOp that creates a job of kind ndmp. Both
// obey the rules copy jobs obey, so that the two never fight over a
// cartridge or a drive:
//   - a running job (copy or session) holds its cartridges: no DMA may move
//     them, and no session may open their drives (ErrHeld);
//   - a cartridge a DMA loaded stays in its drive with no job (an
//     NdmpLoad on its record) until a DMA moves it out; copy jobs that need
//     it wait (the scheduler names the DMA), and a session may open it;
//   - a session's end leaves its cartridge where the DMA put it, except
//     when its node is gone (EndNdmpSessionOp): then it goes home, so that
//     the library is whole again within one lease.

// Sentinels of the NDMP commands, beside the package's others.
var (
	// ErrHeld: a running job (a copy, or an NDMP session) holds the
	// cartridge or drive a DMA's move or session wants. It also wraps
	// ErrBusy: the command may succeed once the job ends.
	ErrHeld = errors.New("held by a running job")
	// ErrNoTape: an NDMP session was opened on an empty drive.
	ErrNoTape = errors.New("no tape loaded")
	// ErrWriteProtected: an NDMP session asked to write a write-protected
	// cartridge.
	ErrWriteProtected = errors.New("cartridge is write-protected")
)

// heldError is ErrHeld (and ErrBusy) with the reason alone.
type heldError struct{ reason string }

func held(format string, args ...any) error {
	return &heldError{reason: fmt.Sprintf(format, args...)}
}

func (e *heldError) Error() string   { return ErrHeld.Error() + ": " + e.reason }
func (e *heldError) Unwrap() []error { return []error{ErrHeld, ErrBusy} }

// maxDMAAddressLen bounds the DMA address a command records.
const maxDMAAddressLen = 256

// IsNDMP reports whether the job is an NDMP tape session, not a copy.
func IsNDMP(j *ferryv1.Job) bool { return j.GetSpec().GetNdmp() != nil }

// DescribeHolder says who a job is, for messages about what it holds:
// "NDMP session <id> from <DMA> on <node>" or "job <id>".
func DescribeHolder(j *ferryv1.Job) string {
	if s := j.GetSpec().GetNdmp(); s != nil {
		return fmt.Sprintf("NDMP session %s from %s on %s", j.GetId(), s.GetDmaAddress(), s.GetNode())
	}
	return "job " + j.GetId()
}

// DescribeNdmpLoad says how a cartridge a DMA loaded came to be in its
// drive: "cartridge B is in drive LIB/N, loaded through NDMP by DMA (via
// node)". Empty when the cartridge was not loaded so.
func DescribeNdmpLoad(c *ferryv1.Cartridge) string {
	l := c.GetNdmpLoad()
	if l == nil || c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		return ""
	}
	return fmt.Sprintf("cartridge %s is in drive %s/%d, loaded through NDMP by %s (via %s)",
		c.GetBarcode(), c.GetLibrary(), c.GetLocation().GetIndex(), l.GetDmaAddress(), l.GetNode())
}

// holderOf describes the running job holding a cartridge, "" for none.
func (s *state) holderOf(barcode string) string {
	id, ok := s.holders[barcode]
	if !ok {
		return ""
	}
	if j, ok := s.jobs[id]; ok {
		return DescribeHolder(j)
	}
	return "job " + id
}

// moveMedium carries out a DMA's MOVE MEDIUM.
func (s *state) moveMedium(cmd *ferryv1.Command, op *ferryv1.MoveMediumOp) (*ferryv1.Cartridge, error) {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.dmaAddress("dma_address", op.GetDmaAddress())
	if op.GetLibrary() == "" {
		v.add("library", "required")
	}
	from, fromOK := toLocation(op.GetFrom())
	to, toOK := toLocation(op.GetTo())
	if !fromOK {
		v.add("from", "required: a slot, drive or import/export slot")
	}
	if !toOK {
		v.add("to", "required: a slot, drive or import/export slot")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	name := op.GetLibrary()
	lib, ok := s.libraries[name]
	if !ok {
		return nil, fmt.Errorf("move medium: library %q: %w", name, ErrNotFound)
	}
	for _, l := range []library.Location{from, to} {
		if !lib.place.Exists(l) {
			return nil, fmt.Errorf("move medium: %w: library %s has no %v", errors.Join(ErrInvalid, library.ErrNoSuchElement), name, l)
		}
	}
	b, ok := lib.place.At(from)
	if !ok {
		return nil, fmt.Errorf("move medium: %w: %v of library %s is empty", errors.Join(ErrInvalid, library.ErrEmpty), from, name)
	}
	if h := s.holderOf(b); h != "" {
		return nil, fmt.Errorf("move medium: %w", held("cartridge %s in %v of library %s is held by %s", b, from, name, h))
	}
	if to.Kind == library.Drive {
		if other, ok := lib.place.At(to); ok {
			if h := s.holderOf(other); h != "" {
				return nil, fmt.Errorf("move medium: %w", held("drive %d of library %s is held by %s", to.Index, name, h))
			}
		}
	}
	if from == to {
		return s.cartridgeCopy(s.cartridges[b]), nil
	}
	c := s.cartridges[b]
	moves := s.newMoves()
	w, err := moves.lib(name)
	if err != nil {
		return nil, err
	}
	if to.Kind == library.Drive && from.Kind != library.Drive {
		if !w.Free(to) {
			occupant, _ := w.At(to)
			return nil, fmt.Errorf("move medium: %w: drive %d of library %s holds %s", errors.Join(ErrBusy, library.ErrOccupied), to.Index, name, occupant)
		}
		// An import/export slot is no home: the cartridge enters a storage
		// slot first, as a copy job's load does.
		if _, err := moves.loadAt(w, c, to.Index); err != nil {
			return nil, fmt.Errorf("move medium: %w", err)
		}
	} else {
		if err := w.Move(b, to); err != nil {
			return nil, fmt.Errorf("move medium: %w", moveError(err))
		}
		moves.touched = append(moves.touched, b)
	}
	moves.commit()
	if to.Kind == library.Drive {
		c.NdmpLoad = &ferryv1.NdmpLoad{DmaAddress: op.GetDmaAddress(), Node: cmd.GetNode()}
	} else {
		c.NdmpLoad = nil
	}
	return s.cartridgeCopy(c), nil
}

// moveError maps a changer rule a DMA broke onto the package's sentinels,
// keeping the library's own sentinel for the SCSI sense.
func moveError(err error) error {
	if errors.Is(err, library.ErrOccupied) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// openNdmpSession creates the job of an NDMP tape session on a drive and
// makes it hold the drive's cartridge. A retry of the same proposal (same
// job id) returns the job it created.
func (s *state) openNdmpSession(index uint64, cmd *ferryv1.Command, op *ferryv1.OpenNdmpSessionOp) (*ferryv1.Job, bool, error) {
	var v violations
	v.commandTime(cmd)
	v.owner(cmd)
	v.jobID(op.GetJobId())
	sess := op.GetSession()
	v.dmaAddress("session.dma_address", sess.GetDmaAddress())
	if sess.GetLibrary() == "" {
		v.add("session.library", "required")
	}
	if n := sess.GetNode(); n != "" && n != cmd.GetNode() {
		v.add("session.node", fmt.Sprintf("must be the proposing node %s", cmd.GetNode()))
	}
	if err := v.err(); err != nil {
		return nil, false, err
	}
	if j, ok := s.jobs[op.GetJobId()]; ok {
		if IsNDMP(j) && j.GetOwner() == cmd.GetNode() {
			return j, true, nil
		}
		return nil, false, fmt.Errorf("open NDMP session %q: %w: the job id is taken", op.GetJobId(), ErrAlreadyExists)
	}
	name, drive := sess.GetLibrary(), int(sess.GetDrive())
	lib, ok := s.libraries[name]
	if !ok {
		return nil, false, fmt.Errorf("open NDMP session: library %q: %w", name, ErrNotFound)
	}
	if !lib.place.Exists(library.AtDrive(drive)) {
		return nil, false, fmt.Errorf("open NDMP session: %w: library %s has no drive %d", ErrInvalid, name, drive)
	}
	b, ok := lib.place.At(library.AtDrive(drive))
	if !ok {
		return nil, false, fmt.Errorf("open NDMP session: %w: drive %d of library %s is empty", ErrNoTape, drive, name)
	}
	if h := s.holderOf(b); h != "" {
		return nil, false, fmt.Errorf("open NDMP session: %w", held("drive %d of library %s (cartridge %s) is held by %s", drive, name, b, h))
	}
	c := s.cartridges[b]
	if sess.GetReadWrite() && c.GetWriteProtected() {
		return nil, false, fmt.Errorf("open NDMP session: %w: %s in drive %d of library %s", ErrWriteProtected, b, drive, name)
	}
	spec := &ferryv1.JobSpec{
		Name: fmt.Sprintf("NDMP session from %s", sess.GetDmaAddress()),
		Ndmp: proto.Clone(sess).(*ferryv1.NdmpSession),
	}
	spec.Ndmp.Node = cmd.GetNode()
	spec.Ndmp.Barcode = b
	mode := "read-only"
	if sess.GetReadWrite() {
		mode = "read-write"
	}
	now := proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j := &ferryv1.Job{
		Id:           op.GetJobId(),
		Spec:         spec,
		State:        ferryv1.JobState_JOB_STATE_RUNNING,
		StateReason:  fmt.Sprintf("NDMP session from %s on %s", sess.GetDmaAddress(), cmd.GetNode()),
		Owner:        cmd.GetNode(),
		Epoch:        index,
		Progress:     &ferryv1.JobProgress{},
		CreatedAt:    now,
		UpdatedAt:    now,
		CreatedIndex: index,
		SubmittedVia: cmd.GetNode(),
		Tapes:        []*ferryv1.TapeAssignment{{Barcode: b, Library: name, Drive: uint32(drive)}},
	}
	j.History = append(j.History, event(index, cmd, ferryv1.JobState_JOB_STATE_RUNNING,
		fmt.Sprintf("NDMP tape open of %s/%d (%s, %s) by %s on %s (epoch %d)", name, drive, b, mode, sess.GetDmaAddress(), cmd.GetNode(), index)))
	s.insertJob(j)
	s.holders[b] = j.GetId()
	return j, false, nil
}

// endNdmpSession fails a session whose node is gone and sends its
// cartridge home: no DMA is left to unload it.
func (s *state) endNdmpSession(index uint64, cmd *ferryv1.Command, op *ferryv1.EndNdmpSessionOp) (*ferryv1.Job, error) {
	var v violations
	v.commandTime(cmd)
	v.jobID(op.GetJobId())
	v.epoch(op.GetEpoch())
	v.reason(op.GetReason())
	if err := v.err(); err != nil {
		return nil, err
	}
	id := op.GetJobId()
	j, ok := s.jobs[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("end NDMP session %q: %w", id, ErrNotFound)
	case !IsNDMP(j):
		return nil, fmt.Errorf("end NDMP session %q: %w: a copy job is taken over, not ended", id, ErrInvalid)
	case j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING:
		return nil, fmt.Errorf("end NDMP session %q: %w: %w (%s)", id, ErrFenced, ErrJobEnded, j.GetState())
	case j.GetEpoch() != op.GetEpoch():
		return nil, fmt.Errorf("end NDMP session %q: %w: epoch %d is stale, the session's is %d", id, ErrFenced, op.GetEpoch(), j.GetEpoch())
	}
	for _, t := range s.heldTapes(j) {
		if c, ok := s.cartridges[t.GetBarcode()]; ok {
			c.NdmpLoad = nil
		}
	}
	if err := s.releaseTapes(j); err != nil {
		return nil, fmt.Errorf("end NDMP session %q: %w", id, err)
	}
	homes := ""
	for _, t := range j.GetTapes() {
		homes += fmt.Sprintf("; %s back in slot %d of %s", t.GetBarcode(), s.cartridges[t.GetBarcode()].GetHomeSlot(), t.GetLibrary())
	}
	j.State = ferryv1.JobState_JOB_STATE_FAILED
	j.StateReason = op.GetReason()
	j.Error = &ferryv1.JobError{Message: op.GetReason()}
	j.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	j.History = append(j.History, event(index, cmd, ferryv1.JobState_JOB_STATE_FAILED, "failed: "+op.GetReason()+homes))
	return j, nil
}

// finishNdmp ends a session at its owner's word: the cartridge stays in
// the drive, loaded through NDMP, for the DMA to unload.
func (s *state) finishNdmp(j *ferryv1.Job) {
	for _, t := range s.heldTapes(j) {
		delete(s.holders, t.GetBarcode())
		if c, ok := s.cartridges[t.GetBarcode()]; ok && c.GetNdmpLoad() == nil {
			// Opened on a cartridge no DMA move put there (a state from
			// before NdmpLoad was recorded): it is the session's DMA's now.
			sess := j.GetSpec().GetNdmp()
			c.NdmpLoad = &ferryv1.NdmpLoad{DmaAddress: sess.GetDmaAddress(), Node: sess.GetNode()}
		}
	}
}

func cloneNdmpLoad(l *ferryv1.NdmpLoad) *ferryv1.NdmpLoad {
	if l == nil {
		return nil
	}
	return proto.Clone(l).(*ferryv1.NdmpLoad)
}

func (v *violations) dmaAddress(field, addr string) {
	switch {
	case addr == "":
		v.add(field, "required: the DMA's address")
	case len(addr) > maxDMAAddressLen:
		v.add(field, fmt.Sprintf("longer than %d bytes", maxDMAAddressLen))
	}
}

// LibraryPlacement returns the library with its inventory and a copy of
// its placement under the changer rules (where each cartridge is, and each
// loaded one's home), as one consistent read: what a media changer shows.
func (f *FSM) LibraryPlacement(name string) (*ferryv1.Library, *library.State, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	lib, ok := f.st.libraries[name]
	if !ok {
		return nil, nil, false
	}
	return f.st.libraryWithInventory(name), lib.place.Clone(), true
}

// ElementOf is the API's form of a library element.
func ElementOf(l library.Location) *ferryv1.Element { return toElement(l) }
