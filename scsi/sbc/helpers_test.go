package sbc

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-san/ferry/internal/goldenhex"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex golden files")

// checkGolden compares got with testdata/name.hex.
func checkGolden(t *testing.T, name, title string, got []byte) {
	t.Helper()
	goldenhex.Check(t, filepath.Join("testdata", name+".hex"), title, got, *update)
}

// memLUN is an in-memory Volume.
type memLUN struct {
	mu       sync.Mutex
	bs       uint32
	data     []byte
	readOnly bool
	flushes  int
	fail     error // returned by every ReadAt, WriteAt and Flush when set
}

func newMemLUN(blocks uint64, bs uint32) *memLUN {
	return &memLUN{bs: bs, data: make([]byte, blocks*uint64(bs))}
}

var errOutside = errors.New("memLUN: access outside the LUN")

func (m *memLUN) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	if off < 0 || off+int64(len(p)) > int64(len(m.data)) {
		return 0, errOutside
	}
	return copy(p, m.data[off:]), nil
}

func (m *memLUN) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	if off < 0 || off+int64(len(p)) > int64(len(m.data)) {
		return 0, errOutside
	}
	return copy(m.data[off:], p), nil
}

func (m *memLUN) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushes++
	return m.fail
}

func (m *memLUN) BlockSize() uint32 { return m.bs }
func (m *memLUN) Blocks() uint64    { return uint64(len(m.data)) / uint64(m.bs) }
func (m *memLUN) ReadOnly() bool    { return m.readOnly }

// testNAA is an NAA 6h designator (IEEE registered extended).
var testNAA = []byte{0x60, 0x01, 0x40, 0x5f, 0xe0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}

// testBlocks is the size of the test LUN: small, but more than the 256
// blocks libiscsi's loops walk from each end.
const testBlocks = 1024

// fakeCopier records the calls of a CopyManager.
type fakeCopier struct {
	mu        sync.Mutex
	lists     [][]byte
	initiator string
	cdb       []byte
	alloc     uint32
}

func (f *fakeCopier) ExtendedCopy(_ context.Context, initiator string, pl []byte) task.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initiator = initiator
	f.lists = append(f.lists, pl)
	return task.Result{Status: task.Good}
}

func (f *fakeCopier) ReceiveCopyResults(_ context.Context, initiator string, cdb []byte, alloc uint32) task.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initiator, f.cdb, f.alloc = initiator, append([]byte(nil), cdb...), alloc
	data, _ := xcopy.DefaultLimits().OperatingParameters().Encode()
	return task.Result{Status: task.Good, DataIn: data}
}

func (f *fakeCopier) Limits() xcopy.Limits { return xcopy.DefaultLimits() }

// fixture is a server with LUN 1 (testBlocks of 512 bytes) and a copy
// manager.
type fixture struct {
	srv    *Server
	disk   *memLUN
	copier *fakeCopier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{disk: newMemLUN(testBlocks, 512), copier: &fakeCopier{}}
	f.srv = New(Config{
		RelativePortID: 2,
		TargetName:     "iqn.2026-11.io.ferry:test",
		PortName:       "iqn.2026-11.io.ferry:test,t,0x0002",
		Logger:         slog.New(slog.DiscardHandler),
	}, f.copier)
	if err := f.srv.Add(1, NewLUN(f.disk, Identity{NAA: testNAA, Serial: "ferry-disk-1"})); err != nil {
		t.Fatal(err)
	}
	return f
}

// run executes cdb on LUN 1 with data-out data.
func (f *fixture) run(cdb []byte, data []byte) task.Result {
	return f.runLUN(1, cdb, data)
}

func (f *fixture) runLUN(lun uint64, cdb []byte, data []byte) task.Result {
	return f.srv.Execute(context.Background(), &task.Task{
		LUN: lun, CDB: cdb, DataOut: data, AllocationLength: 1 << 20, Initiator: "iqn.test,isid1",
	})
}

// want is an expected outcome: GOOD, or CHECK CONDITION with a key and
// code (and, when fp is set, that field pointer).
type want struct {
	key  sense.Key
	code sense.Code
	fp   *sense.FieldPointer
}

var good = want{}

func illegal(code sense.Code) want { return want{key: sense.IllegalRequest, code: code} }

var (
	lbaOOB       = illegal(sense.LBAOutOfRange)
	invalidCDB   = illegal(sense.InvalidFieldInCDB)
	invalidOp    = illegal(sense.InvalidCommandOperationCode)
	lunMissing   = illegal(sense.LUNotSupported)
	writeProtect = want{key: sense.DataProtect, code: sense.WriteProtected}
	miscompare   = want{key: sense.Miscompare, code: sense.MiscompareDuringVerify}
)

// invalidAt is INVALID FIELD IN CDB pointing at byte b, bit bit.
func invalidAt(b uint16, bit uint8) want {
	w := invalidCDB
	w.fp = &sense.FieldPointer{CDB: true, BitValid: true, Bit: bit, Byte: b}
	return w
}

func check(t *testing.T, res task.Result, w want) {
	t.Helper()
	if w == good {
		if res.Status != task.Good {
			t.Fatalf("status %#x, sense %v; want GOOD", res.Status, res.Sense)
		}
		return
	}
	if res.Status != task.CheckCondition || res.Sense == nil {
		t.Fatalf("status %#x; want CHECK CONDITION %v %v", res.Status, w.key, w.code)
	}
	if res.Sense.Key != w.key || res.Sense.Code() != w.code {
		t.Fatalf("sense %v; want %v %v", res.Sense, w.key, w.code)
	}
	if w.fp != nil && (res.Sense.FieldPointer == nil || *res.Sense.FieldPointer != *w.fp) {
		t.Fatalf("sense %v; want field pointer %+v", res.Sense, *w.fp)
	}
}

// CDB builders, named after libiscsi's helpers, with its argument order
// where it has one.

func inquiryCDB(evpd bool, page byte, alloc uint16) []byte {
	c := []byte{opInquiry, 0, page, 0, 0, 0}
	if evpd {
		c[1] = 1
	}
	binary.BigEndian.PutUint16(c[3:5], alloc)
	return c
}

// rw10 builds READ(10), WRITE(10), VERIFY(10) or WRITE SAME(10): byte 1 is
// protect<<5 | flags.
func rw10(op byte, lba uint32, blocks uint16, protect, flags byte) []byte {
	c := make([]byte, 10)
	c[0], c[1] = op, protect<<5|flags
	binary.BigEndian.PutUint32(c[2:6], lba)
	binary.BigEndian.PutUint16(c[7:9], blocks)
	return c
}

func rw12(op byte, lba, blocks uint32, protect, flags byte) []byte {
	c := make([]byte, 12)
	c[0], c[1] = op, protect<<5|flags
	binary.BigEndian.PutUint32(c[2:6], lba)
	binary.BigEndian.PutUint32(c[6:10], blocks)
	return c
}

func rw16(op byte, lba uint64, blocks uint32, protect, flags byte) []byte {
	c := make([]byte, 16)
	c[0], c[1] = op, protect<<5|flags
	binary.BigEndian.PutUint64(c[2:10], lba)
	binary.BigEndian.PutUint32(c[10:14], blocks)
	return c
}

func rsocCDB(rctd bool, opts, op byte, sa uint16, alloc uint32) []byte {
	c := make([]byte, 12)
	c[0], c[1], c[2], c[3] = opMaintenanceIn, saReportSupportedOpcodes, opts, op
	if rctd {
		c[2] |= 0x80
	}
	binary.BigEndian.PutUint16(c[4:6], sa)
	binary.BigEndian.PutUint32(c[6:10], alloc)
	return c
}

func modeSense6CDB(dbd bool, pc, page, sub, alloc byte) []byte {
	c := []byte{opModeSense6, 0, pc<<6 | page, sub, alloc, 0}
	if dbd {
		c[1] = dbdBit
	}
	return c
}

func fill(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}
