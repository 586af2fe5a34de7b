// Package memlun is a minimal in-memory block device server for testing
// the iSCSI target: one LUN answering the handful of SBC-3 and SPC-4
// commands that initiators send at login and for reads and writes. It is
// a test double, not the product's block server (scsi/sbc).
package memlun

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// BlockSize is the LUN's logical block size.
const BlockSize = 512

// Server is one LUN (number 0) of Blocks blocks.
type Server struct {
	mu   sync.Mutex
	data []byte
	// Hook, when set, runs before each command; tests use it to hold a
	// command while they abort it.
	Hook func(ctx context.Context, t *task.Task)
	// ReadHook, when set, runs before each piece of a streamed READ's
	// data-in is read, with the piece's offset; an error it returns is
	// the piece's (and so ends the command).
	ReadHook func(ctx context.Context, off uint64) error
}

// New returns a zero-filled LUN of blocks blocks.
func New(blocks int) *Server { return &Server{data: make([]byte, blocks*BlockSize)} }

// Bytes returns a copy of the LUN's contents.
func (s *Server) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.data...)
}

// rw decodes the LBA and block count of the READ/WRITE CDBs.
func rw(cdb []byte) (lba uint64, blocks uint32, ok bool) {
	switch {
	case len(cdb) >= 10 && (cdb[0] == 0x28 || cdb[0] == 0x2a || cdb[0] == 0x2e):
		return uint64(binary.BigEndian.Uint32(cdb[2:])), uint32(binary.BigEndian.Uint16(cdb[7:])), true
	case len(cdb) >= 12 && (cdb[0] == 0xa8 || cdb[0] == 0xaa || cdb[0] == 0xae):
		return uint64(binary.BigEndian.Uint32(cdb[2:])), binary.BigEndian.Uint32(cdb[6:]), true
	case len(cdb) >= 16 && (cdb[0] == 0x88 || cdb[0] == 0x8a || cdb[0] == 0x8e):
		return binary.BigEndian.Uint64(cdb[2:]), binary.BigEndian.Uint32(cdb[10:]), true
	}
	return 0, 0, false
}

func isWrite(op byte) bool {
	return op == 0x2a || op == 0xaa || op == 0x8a || op == 0x2e || op == 0xae || op == 0x8e
}

// DataOutLength tells the target how many bytes a write transfers.
func (s *Server) DataOutLength(lun uint64, cdb []byte) (uint32, bool) {
	if len(cdb) == 0 || !isWrite(cdb[0]) {
		return 0, false
	}
	_, n, ok := rw(cdb)
	return n * BlockSize, ok
}

// Execute implements task.Server.
func (s *Server) Execute(ctx context.Context, t *task.Task) task.Result {
	if s.Hook != nil {
		s.Hook(ctx, t)
	}
	if err := ctx.Err(); err != nil {
		return task.Result{Status: task.TaskAborted}
	}
	if t.LUN != 0 && (len(t.CDB) == 0 || t.CDB[0] != 0x12 && t.CDB[0] != 0xa0) {
		return task.Fail(sense.New(sense.IllegalRequest, sense.LUNotSupported))
	}
	if len(t.CDB) == 0 {
		return task.Fail(sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	blocks := uint64(len(s.data) / BlockSize)
	switch op := t.CDB[0]; op {
	case 0x00, 0x35, 0x91: // TEST UNIT READY, SYNCHRONIZE CACHE(10/16)
		return task.Result{}
	case 0x12:
		return inquiry(t)
	case 0x25:
		b := make([]byte, 8)
		binary.BigEndian.PutUint32(b, uint32(blocks-1))
		binary.BigEndian.PutUint32(b[4:], BlockSize)
		return task.Result{DataIn: b}
	case 0x9e:
		b := make([]byte, 32)
		binary.BigEndian.PutUint64(b, blocks-1)
		binary.BigEndian.PutUint32(b[8:], BlockSize)
		return task.Result{DataIn: b[:min(32, int(binary.BigEndian.Uint32(t.CDB[10:])))]}
	case 0xa0:
		b := make([]byte, 16)
		binary.BigEndian.PutUint32(b, 8)
		return task.Result{DataIn: b}
	case 0x1a:
		return task.Result{DataIn: []byte{3, 0, 0, 0}}
	}
	lba, n, ok := rw(t.CDB)
	if !ok {
		return task.Fail(sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode))
	}
	if lba > blocks || uint64(n) > blocks-lba {
		return task.Fail(sense.New(sense.IllegalRequest, sense.LBAOutOfRange))
	}
	area := s.data[lba*BlockSize : (lba+uint64(n))*BlockSize]
	if !isWrite(t.CDB[0]) {
		if t.StreamDataIn {
			return task.Result{Stream: &stream{s: s, start: lba * BlockSize, n: uint64(len(area))}}
		}
		return task.Result{DataIn: append([]byte(nil), area...)}
	}
	// A short data-out (the initiator's expected length was smaller than
	// the CDB's) writes what arrived, as FCP-4 allows; an aborted task
	// writes nothing.
	if err := t.Commit(func() error { copy(area, t.DataOut); return nil }); err != nil {
		return task.Result{Status: task.TaskAborted}
	}
	return task.Result{}
}

func inquiry(t *task.Task) task.Result {
	if t.CDB[1]&1 != 0 {
		if t.CDB[2] == 0 {
			return task.Result{DataIn: []byte{0, 0, 0, 1, 0}}
		}
		return task.Fail(sense.InvalidCDB(2, -1))
	}
	b := make([]byte, 36)
	if t.LUN != 0 {
		b[0] = 0x7f
	}
	b[2], b[3], b[4] = 6, 2, 31
	copy(b[8:], "FERRY   ")
	copy(b[16:], "MEMLUN          ")
	copy(b[32:], "0001")
	return task.Result{DataIn: b}
}

// stream is a READ's data-in, read from the LUN a piece at a time as the
// transport asks for it, as scsi/sbc does.
type stream struct {
	s        *Server
	start, n uint64
}

func (r *stream) Len() uint64 { return r.n }

func (r *stream) ReadAt(ctx context.Context, p []byte, off uint64) error {
	if h := r.s.ReadHook; h != nil {
		if err := h(ctx, off); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	copy(p, r.s.data[r.start+off:r.start+off+uint64(len(p))])
	return nil
}
