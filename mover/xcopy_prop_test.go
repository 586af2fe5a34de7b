package mover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-san/ferry/scsi/xcopy"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// The property test runs random EXTENDED COPY lists, built with the
// project's encoder, against two disks (512- and 4096-byte blocks) and two
// cartridges (variable mode, and fixed mode with 512-byte blocks), through Decode, FromXCopy (handles opened afresh by every
// resolve call, as the executor does) and Run, and against a model of disks
// and tapes that executes the segments one after the other. Every list is
// refused up front, or runs and leaves every device as the model says; a
// list that fails while running (a tape shorter than a segment asks) fails
// at the segment the model names, and changes no byte outside that
// segment's destination range.

// propDevices: disk 0 (512 × 64), disk 1 (4096 × 16), tapes 2 and 3.
var propDisks = []struct{ bs, blocks uint32 }{{512, 64}, {4096, 16}}

const propTapes = 2

func propNAA(i int) []byte { return []byte{0x50, 0, 0, 0, 0, 0, 0x11, byte(i + 1)} }

// modelTape is a cartridge as objects (nil is a filemark) and a position;
// bs is its fixed block size, 0 in variable mode.
type modelTape struct {
	objs [][]byte
	pos  int
	bs   int
}

// propFixed is the block size of the second cartridge, in fixed mode.
const propFixed = 512

var errModel = errors.New("model: the segment fails")

// write appends objects at the position; in fixed mode a record that is
// not one block fails, after the objects before it.
func (m *modelTape) write(objs [][]byte) error {
	for _, o := range objs {
		if o != nil && m.bs > 0 && len(o) != m.bs {
			return errModel
		}
		m.objs = append(m.objs[:m.pos:m.pos], o)
		m.pos = len(m.objs)
	}
	return nil
}

// recordSize is what a segment writes records of: the block in fixed
// mode, the transfer length in variable mode.
func (m *modelTape) recordSize(n uint32) int {
	if m.bs > 0 {
		return m.bs
	}
	return int(n)
}

// read delivers limit bytes of records, cutting the last one.
func (m *modelTape) read(limit int) ([]byte, error) {
	var data []byte
	for len(data) < limit {
		if m.pos >= len(m.objs) {
			return nil, errModel
		}
		o := m.objs[m.pos]
		m.pos++
		if o == nil || (m.bs > 0 && len(o) != m.bs) {
			return nil, errModel
		}
		data = append(data, o[:min(len(o), limit-len(data))]...)
	}
	return data, nil
}

func (m *modelTape) marks() []int {
	var out []int
	for i, o := range m.objs {
		if o == nil {
			out = append(out, i)
		}
	}
	return out
}

// space follows tape.Cartridge.Space.
func (m *modelTape) space(code xcopy.SpaceCode, count int) error {
	marks := m.marks()
	switch code {
	case xcopy.SpaceEndOfData:
		m.pos = len(m.objs)
	case xcopy.SpaceBlocks:
		if count >= 0 {
			for _, mk := range marks {
				if mk >= m.pos {
					if mk-m.pos < count {
						m.pos = mk + 1
						return errModel
					}
					break
				}
			}
			if len(m.objs)-m.pos < count {
				m.pos = len(m.objs)
				return errModel
			}
			m.pos += count
			return nil
		}
		k := -count
		for i := len(marks) - 1; i >= 0; i-- {
			if marks[i] < m.pos {
				if m.pos-marks[i] <= k {
					m.pos = marks[i]
					return errModel
				}
				break
			}
		}
		if m.pos < k {
			m.pos = 0
			return errModel
		}
		m.pos -= k
	case xcopy.SpaceFilemarks:
		before := 0
		for _, mk := range marks {
			if mk < m.pos {
				before++
			}
		}
		switch {
		case count > 0:
			if len(marks)-before < count {
				m.pos = len(m.objs)
				return errModel
			}
			m.pos = marks[before+count-1] + 1
		case count < 0:
			if before < -count {
				m.pos = 0
				return errModel
			}
			m.pos = marks[before+count]
		}
	}
	return nil
}

func records(data []byte, size int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, bytes.Clone(data[:n]))
		data = data[n:]
	}
	return out
}

// propModel is every device's expected contents.
type propModel struct {
	disks [][]byte
	tapes []*modelTape
}

// dev maps a CSCD to a device index of the model (0-1 disks, 2-3 tapes).
func (m *propModel) dev(pl *xcopy.ParameterList, idx uint16) int {
	return int(pl.Targets[idx].NAA[7]) - 1
}

func (m *propModel) tape(d int) *modelTape { return m.tapes[d-len(propDisks)] }

// run executes an accepted list; it returns the index of the segment that
// fails, or -1, and that segment's destination (disk byte range, or tape
// and the position it started writing at).
func (m *propModel) run(pl *xcopy.ParameterList) (failed int, dst propRange) {
	for _, t := range m.tapes {
		t.pos = 0 // every list loads the cartridges afresh
	}
	for i, s := range pl.Segments {
		if err := m.segment(pl, i, s, &dst); err != nil {
			return i, dst
		}
	}
	return -1, dst
}

// propRange is where a segment writes: a disk's bytes [off, end), or a
// tape from object pos on.
type propRange struct {
	dev      int
	off, end int64
	pos      int
}

func (m *propModel) segment(pl *xcopy.ParameterList, i int, s xcopy.Segment, dst *propRange) error {
	src, d := -1, -1
	*dst = propRange{dev: -1} // a failed space or locate writes nothing
	if s.Type.Writes() || s.Type == xcopy.Space || s.Type == xcopy.Locate {
		d = m.dev(pl, s.Dst)
	}
	if s.Type.Writes() {
		*dst = propRange{dev: d}
		if d >= len(propDisks) {
			dst.pos = m.tape(d).pos
		}
	}
	if s.Type != xcopy.InlineToStream && s.Type != xcopy.WriteFilemarks && s.Type != xcopy.Space && s.Type != xcopy.Locate {
		src = m.dev(pl, s.Src)
	}
	se, de, err := pl.Extents(i, math.MaxInt64, math.MaxInt64)
	if err != nil {
		panic(err) // Decode accepted the list
	}
	if de != nil {
		dst.off, dst.end = de.Offset, de.End()
	}
	if (se != nil && se.Length == 0) || (de != nil && de.Length == 0) {
		return nil // moves nothing: valid and inert, wherever it points
	}
	switch s.Type {
	case xcopy.BlockToStream:
		return m.tape(d).write(records(m.disks[src][se.Offset:se.End()], m.tape(d).recordSize(s.StreamLength)))
	case xcopy.StreamToBlock:
		data, err := m.tape(src).read(int(de.Length))
		if err != nil {
			return err
		}
		copy(m.disks[d][de.Offset:], data)
	case xcopy.BlockToBlock, xcopy.BlockToBlockOffsets:
		copy(m.disks[d][de.Offset:de.End()], m.disks[src][se.Offset:se.End()])
	case xcopy.StreamToStream:
		if s.ByteCount == 0 {
			return nil
		}
		data, err := m.tape(src).read(int(s.ByteCount))
		if err != nil {
			return err
		}
		return m.tape(d).write(records(data, m.tape(d).recordSize(s.DstStreamLength)))
	case xcopy.InlineToStream:
		return m.tape(d).write(records(pl.InlineData[s.InlineOffset:s.InlineOffset+s.ByteCount], m.tape(d).recordSize(s.StreamLength)))
	case xcopy.StreamToDiscard:
		if s.ByteCount > 0 {
			_, err := m.tape(src).read(int(s.ByteCount))
			return err
		}
	case xcopy.WriteFilemarks:
		return m.tape(d).write(make([][]byte, s.Filemarks))
	case xcopy.Space:
		return m.tape(d).space(s.SpaceCode, int(s.SpaceCount))
	case xcopy.Locate:
		t := m.tape(d)
		if int(s.LocateBlock) > len(t.objs) {
			t.pos = len(t.objs)
			return errModel
		}
		t.pos = int(s.LocateBlock)
	case xcopy.TapeImageCopy:
		st := m.tape(src)
		var out [][]byte
		for files := 0; (s.ImageCount == 0 || files < int(s.ImageCount)) && st.pos < len(st.objs); st.pos++ {
			o := st.objs[st.pos]
			if o == nil {
				files++
			}
			out = append(out, o)
		}
		return m.tape(d).write(out)
	}
	return nil
}

// propEnv holds the device files and their model.
type propEnv struct {
	t     testing.TB
	dir   string
	model propModel
}

func (e *propEnv) diskPath(i int) string { return filepath.Join(e.dir, fmt.Sprintf("d%d.img", i)) }
func (e *propEnv) tapePath(i int) string { return filepath.Join(e.dir, fmt.Sprintf("t%d.tap", i)) }

// reset creates the devices afresh: random disks, tapes of a label and a
// file or two.
func (e *propEnv) reset(r *rand.Rand) {
	e.t.Helper()
	e.model = propModel{}
	for i, d := range propDisks {
		os.Remove(e.diskPath(i))
		size := int64(d.bs) * int64(d.blocks)
		if err := disk.Create(e.diskPath(i), size, d.bs); err != nil {
			e.t.Fatal(err)
		}
		b := randomBytes(r.Uint64(), int(size))
		if err := os.WriteFile(e.diskPath(i), b, 0o644); err != nil {
			e.t.Fatal(err)
		}
		e.model.disks = append(e.model.disks, b)
	}
	for i := range propTapes {
		os.Remove(e.tapePath(i))
		mt := &modelTape{bs: propTapeBlock(i)}
		c, err := tape.Create(e.tapePath(i), tape.Options{BlockSize: uint32(mt.bs)})
		if err != nil {
			e.t.Fatal(err)
		}
		label := []byte("VOL1")
		if mt.bs > 0 {
			label = append(label, make([]byte, mt.bs-len(label))...)
		}
		mt.objs = append(mt.objs, label, nil)
		for range 1 + r.IntN(2) {
			for range 1 + r.IntN(6) {
				n := 1 + r.IntN(3000)
				if mt.bs > 0 {
					n = mt.bs
				}
				mt.objs = append(mt.objs, randomBytes(r.Uint64(), n))
			}
			mt.objs = append(mt.objs, nil)
		}
		for _, o := range mt.objs {
			if o == nil {
				_, err = c.WriteFilemarks(1)
			} else {
				_, err = c.WriteRecord(o)
			}
			if err != nil {
				e.t.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			e.t.Fatal(err)
		}
		e.model.tapes = append(e.model.tapes, mt)
	}
}

// propTapeBlock is the block size of cartridge i: the second is in fixed
// mode.
func propTapeBlock(i int) int {
	if i == 1 {
		return propFixed
	}
	return 0
}

// actual reads every device back.
func (e *propEnv) actual() propModel {
	e.t.Helper()
	var m propModel
	for i := range propDisks {
		b, err := os.ReadFile(e.diskPath(i))
		if err != nil {
			e.t.Fatal(err)
		}
		m.disks = append(m.disks, b)
	}
	for i := range propTapes {
		c, err := tape.Open(e.tapePath(i), tape.Options{ReadOnly: true})
		if err != nil {
			e.t.Fatalf("tape %d: %v", i, err)
		}
		mt := &modelTape{bs: propTapeBlock(i)}
		buf := make([]byte, 64<<10) // records are a few KiB at most
		for {
			n, err := c.ReadRecord(buf)
			if errors.Is(err, tape.ErrEndOfData) {
				break
			}
			if errors.Is(err, tape.ErrFilemark) {
				mt.objs = append(mt.objs, nil)
				continue
			}
			if err != nil {
				e.t.Fatal(err)
			}
			mt.objs = append(mt.objs, bytes.Clone(buf[:n]))
		}
		c.Close()
		m.tapes = append(m.tapes, mt)
	}
	return m
}

// open resolves a designator the way the executor does: a fresh handle,
// writable only when asked.
func (e *propEnv) open(closers *[]func() error) func(naa []byte, write bool) (Device, error) {
	return func(naa []byte, write bool) (Device, error) {
		i := int(naa[7]) - 1
		if len(naa) != 8 || naa[6] != 0x11 || i < 0 || i >= len(propDisks)+propTapes {
			return Device{}, errors.New("no such device")
		}
		if i < len(propDisks) {
			l, err := disk.Open(e.diskPath(i), disk.Options{BlockSize: propDisks[i].bs, ReadOnly: !write})
			if err != nil {
				return Device{}, err
			}
			*closers = append(*closers, l.Close)
			return Device{Name: fmt.Sprintf("disk%d", i), Block: l}, nil
		}
		c, err := tape.Open(e.tapePath(i-len(propDisks)), tape.Options{ReadOnly: !write, Recover: true, BlockSize: uint32(propTapeBlock(i - len(propDisks)))})
		if err != nil {
			return Device{}, err
		}
		*closers = append(*closers, c.Close)
		return Device{Name: fmt.Sprintf("tape%d", i), Tape: c}, nil
	}
}

// outcome of one list.
type outcome int

const (
	refused outcome = iota
	ran
	failedAsModelled
)

// runList runs one list against the devices and the model, and checks the
// property.
func (e *propEnv) runList(pl *xcopy.ParameterList) outcome {
	e.t.Helper()
	b, err := pl.Encode()
	if err != nil {
		return refused // a value the wire cannot carry
	}
	before := e.actual()
	defer func() {
		if e.t.Failed() {
			e.t.Logf("list: %+v", pl)
		}
	}()
	dec, err := xcopy.Decode(b, xcopy.DefaultLimits())
	if err != nil {
		return e.unchanged(before, refused)
	}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			if err := c(); err != nil {
				e.t.Fatalf("close: %v", err)
			}
		}
	}
	plan, devs, err := FromXCopy(dec, e.open(&closers))
	if err != nil {
		closeAll()
		return e.unchanged(before, refused)
	}
	if err := plan.validate(devs); err != nil {
		closeAll()
		return e.unchanged(before, refused)
	}
	cfg := smallConfig()
	cfg.BufferSize = 8 << 10
	_, runErr := Run(context.Background(), cfg, plan, devs, nil)
	closeAll()
	failed, dst := e.model.run(dec)
	got := e.actual()
	if runErr == nil {
		if failed >= 0 {
			e.t.Fatalf("the list ran, the model says segment %d fails", failed)
		}
		e.compare(got, -1, propRange{})
		return ran
	}
	var se *SegmentError
	if !errors.As(runErr, &se) || se.Segment != failed {
		e.t.Fatalf("run failed with %v; the model says segment %d fails", runErr, failed)
	}
	e.compare(got, failed, dst)
	e.model = got // the failed segment's range is what the devices say
	return failedAsModelled
}

func (e *propEnv) unchanged(before propModel, o outcome) outcome {
	e.t.Helper()
	e.model = before
	e.compare(e.actual(), -1, propRange{})
	return o
}

// compare checks the devices against the model; with failed >= 0 the
// bytes in dst, that segment's destination, may differ.
func (e *propEnv) compare(got propModel, failed int, dst propRange) {
	e.t.Helper()
	for i, want := range e.model.disks {
		g := got.disks[i]
		for off := range want {
			if g[off] != want[off] && (failed < 0 || dst.dev != i || int64(off) < dst.off || int64(off) >= dst.end) {
				e.t.Fatalf("disk %d byte %d is %#x, the model says %#x (failed segment %d, range %+v)", i, off, g[off], want[off], failed, dst)
			}
		}
	}
	for i, want := range e.model.tapes {
		g := got.tapes[i]
		n := len(want.objs)
		if failed >= 0 && dst.dev == len(propDisks)+i {
			n = min(dst.pos, n)
			if len(g.objs) < n {
				e.t.Fatalf("tape %d holds %d objects, the model %d before object %d", i, len(g.objs), len(want.objs), dst.pos)
			}
			g = &modelTape{objs: g.objs[:n]}
			want = &modelTape{objs: want.objs[:n]}
		}
		if len(g.objs) != len(want.objs) {
			e.t.Fatalf("tape %d holds %d objects, the model %d", i, len(g.objs), len(want.objs))
		}
		for j := range want.objs {
			if (want.objs[j] == nil) != (g.objs[j] == nil) || !bytes.Equal(want.objs[j], g.objs[j]) {
				e.t.Fatalf("tape %d object %d differs from the model", i, j)
			}
		}
	}
}

// propGen draws random lists, mostly valid ones.
type propGen struct {
	r     *rand.Rand
	model *propModel
}

func (g *propGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *propGen) list() *xcopy.ParameterList {
	r := g.r
	pl := &xcopy.ParameterList{ListID: byte(r.IntN(256))}
	for i := range 3 + r.IntN(3) {
		d := r.IntN(len(propDisks) + propTapes)
		if i < 3 && g.chance(0.9) {
			// Mostly a disk and both tapes.
			d = []int{r.IntN(len(propDisks)), len(propDisks), len(propDisks) + 1}[i]
		}
		t := xcopy.TargetDescriptor{NAA: propNAA(d)}
		if g.chance(0.03) {
			t.NAA = propNAA(9) // no such device
		}
		isDisk := d < len(propDisks)
		if g.chance(0.05) {
			isDisk = !isDisk
		}
		switch {
		case isDisk:
			t.DeviceType, t.BlockLength = xcopy.DeviceBlock, 512
			if d < len(propDisks) {
				t.BlockLength = propDisks[d].bs
			}
			if g.chance(0.05) {
				t.BlockLength ^= 512 ^ 4096
			}
		default:
			t.DeviceType = xcopy.DeviceStream
			fixed := d >= len(propDisks) && propTapeBlock(d-len(propDisks)) > 0
			if g.chance(0.03) {
				fixed = !fixed
			}
			if fixed {
				t.Fixed, t.BlockLength = true, propFixed
			}
		}
		pl.Targets = append(pl.Targets, t)
	}
	if g.chance(0.7) {
		pl.InlineData = randomBytes(r.Uint64(), 1+r.IntN(300))
	}
	types := xcopy.SegmentTypes()
	for range 1 + r.IntN(5) {
		s := g.segment(pl, types[r.IntN(len(types))])
		switch s.Type {
		case xcopy.StreamToBlock, xcopy.StreamToStream, xcopy.StreamToDiscard:
			if g.chance(0.6) {
				// Past the label, to where the data is.
				pl.Segments = append(pl.Segments, xcopy.Segment{Type: xcopy.Space, Dst: s.Src, SpaceCode: xcopy.SpaceFilemarks, SpaceCount: 1})
			}
		}
		pl.Segments = append(pl.Segments, s)
	}
	return pl
}

// index picks a CSCD of the device type, or now and then any index.
func (g *propGen) index(pl *xcopy.ParameterList, dt xcopy.DeviceType) uint16 {
	return g.other(pl, dt, -1)
}

// other is index, mostly avoiding the device of CSCD not.
func (g *propGen) other(pl *xcopy.ParameterList, dt xcopy.DeviceType, not int) uint16 {
	var fit, apart []int
	for i, t := range pl.Targets {
		if t.DeviceType == dt {
			fit = append(fit, i)
			if not < 0 || not >= len(pl.Targets) || !bytes.Equal(t.NAA, pl.Targets[not].NAA) {
				apart = append(apart, i)
			}
		}
	}
	if len(apart) > 0 && g.chance(0.95) {
		fit = apart
	}
	if len(fit) == 0 || g.chance(0.01) {
		return uint16(g.r.IntN(len(pl.Targets) + 1))
	}
	return uint16(fit[g.r.IntN(len(fit))])
}

// lba draws an address: mostly inside a disk, sometimes at or past its end,
// sometimes one whose byte offset overflows.
func (g *propGen) lba(pl *xcopy.ParameterList, idx uint16, blocks int) uint64 {
	size := 64
	if int(idx) < len(pl.Targets) && pl.Targets[idx].BlockLength == 4096 {
		size = 16
	}
	switch x := g.r.Float64(); {
	case x < 0.95:
		return uint64(g.r.IntN(max(size-blocks, 0) + 1))
	case x < 0.97:
		return uint64(size - blocks + g.r.IntN(3))
	case x < 0.98:
		return 1<<55 + uint64(g.r.IntN(200))
	case x < 0.99:
		return math.MaxUint64 - uint64(g.r.IntN(20))
	default:
		return g.r.Uint64()
	}
}

func (g *propGen) tapeLen(pl *xcopy.ParameterList, idx uint16) int {
	if int(idx) < len(pl.Targets) {
		if d := int(pl.Targets[idx].NAA[7]) - 1; d >= len(propDisks) && d < len(propDisks)+propTapes {
			return len(g.model.tape(d).objs)
		}
	}
	return 4
}

func (g *propGen) segment(pl *xcopy.ParameterList, t xcopy.SegmentType) xcopy.Segment {
	r := g.r
	s := xcopy.Segment{Type: t, CAT: g.chance(0.005)}
	streamLen := func() uint32 {
		if g.chance(0.01) {
			return 0
		}
		return uint32(1 + r.IntN(5000))
	}
	blocks := r.IntN(9)
	if g.chance(0.1) {
		blocks = r.IntN(80)
	}
	s.Blocks = uint32(blocks)
	bytesCount := uint32(r.IntN(6000))
	switch x := r.Float64(); {
	case x < 0.1:
		bytesCount = 0
	case x < 0.4:
		bytesCount = bytesCount / propFixed * propFixed // whole blocks of the fixed-mode tape
	}
	switch t {
	case xcopy.BlockToStream:
		s.Src, s.Dst = g.index(pl, xcopy.DeviceBlock), g.index(pl, xcopy.DeviceStream)
		s.SrcLBA, s.StreamLength = g.lba(pl, s.Src, blocks), streamLen()
	case xcopy.StreamToBlock:
		s.Src, s.Dst = g.index(pl, xcopy.DeviceStream), g.index(pl, xcopy.DeviceBlock)
		s.DstLBA, s.StreamLength = g.lba(pl, s.Dst, blocks), streamLen()
	case xcopy.BlockToBlock:
		s.Src, s.DC = g.index(pl, xcopy.DeviceBlock), g.chance(0.3)
		s.Dst = g.index(pl, xcopy.DeviceBlock)
		if g.chance(0.6) {
			s.Dst = g.other(pl, xcopy.DeviceBlock, int(s.Src))
		}
		s.SrcLBA, s.DstLBA = g.lba(pl, s.Src, blocks), g.lba(pl, s.Dst, blocks)
	case xcopy.BlockToBlockOffsets:
		s.Src, s.Dst, s.ByteCount = g.index(pl, xcopy.DeviceBlock), g.index(pl, xcopy.DeviceBlock), bytesCount
		s.SrcLBA, s.DstLBA = g.lba(pl, s.Src, int(bytesCount)/512+2), g.lba(pl, s.Dst, int(bytesCount)/512+2)
		s.SrcOffset, s.DstOffset = uint16(r.IntN(512)), uint16(r.IntN(512))
		if g.chance(0.02) {
			s.SrcOffset = 4096
		}
	case xcopy.StreamToStream:
		s.Src, s.ByteCount = g.index(pl, xcopy.DeviceStream), bytesCount
		s.Dst = g.other(pl, xcopy.DeviceStream, int(s.Src))
		s.StreamLength, s.DstStreamLength = streamLen(), streamLen()
	case xcopy.InlineToStream:
		s.Dst, s.StreamLength = g.index(pl, xcopy.DeviceStream), streamLen()
		n := len(pl.InlineData)
		s.InlineOffset = uint32(r.IntN(n + 1))
		s.ByteCount = uint32(r.IntN(n - int(s.InlineOffset) + 1))
		if g.chance(0.02) {
			s.ByteCount += 2
		}
	case xcopy.StreamToDiscard:
		s.Src, s.ByteCount, s.StreamLength = g.index(pl, xcopy.DeviceStream), bytesCount, streamLen()
	case xcopy.VerifyCSCD:
		s.Src = uint16(r.IntN(len(pl.Targets) + 1))
	case xcopy.WriteFilemarks:
		s.Dst, s.Filemarks = g.index(pl, xcopy.DeviceStream), uint32(r.IntN(3))
	case xcopy.Space:
		s.Dst = g.index(pl, xcopy.DeviceStream)
		s.SpaceCode = []xcopy.SpaceCode{xcopy.SpaceBlocks, xcopy.SpaceFilemarks, xcopy.SpaceEndOfData}[r.IntN(3)]
		s.SpaceCount = int32(r.IntN(9) - 3)
	case xcopy.Locate:
		s.Dst = g.index(pl, xcopy.DeviceStream)
		s.LocateBlock = uint32(r.IntN(g.tapeLen(pl, s.Dst) + 2))
	case xcopy.TapeImageCopy:
		s.Src, s.ImageCount = g.index(pl, xcopy.DeviceStream), uint32(r.IntN(3))
		s.Dst = g.other(pl, xcopy.DeviceStream, int(s.Src))
	}
	return s
}

// propDir is a directory for the devices, in memory where the system has
// a tmpfs: the mover flushes every device at the end of every list.
func propDir(t testing.TB) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "ferry-prop-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// runLists runs n random lists from seed and reports how they ended.
func runLists(t testing.TB, seed uint64, n int) map[outcome]int {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	e := &propEnv{t: t, dir: propDir(t)}
	g := &propGen{r: r, model: &e.model}
	counts := map[outcome]int{}
	for i := range n {
		if i%40 == 0 {
			e.reset(r)
		}
		counts[e.runList(g.list())]++
	}
	return counts
}

// TestXCopyLists is the property test: a few hundred random lists.
func TestXCopyLists(t *testing.T) {
	n := 700
	if testing.Short() {
		n = 200
	}
	counts := runLists(t, 9, n)
	t.Logf("%d lists: %d refused, %d ran, %d failed as the model said", n, counts[refused], counts[ran], counts[failedAsModelled])
	if counts[ran] < n/6 || counts[failedAsModelled] < n/20 {
		t.Fatalf("only %d of %d lists ran: the generator makes too few valid lists", counts[ran], n)
	}
}

// FuzzRunList runs the lists a seed generates against the model.
func FuzzRunList(f *testing.F) {
	f.Add(uint64(1), uint8(3))
	f.Add(uint64(0xfeed), uint8(8))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		runLists(t, seed, int(n%16)+1)
	})
}
