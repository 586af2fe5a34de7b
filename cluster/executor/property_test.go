package executor

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// TestRandomCopiesAreRefusedOrRight is the property of issue 9: every
// source → destination spec is either refused at submit, or runs and
// leaves the destination as a simple model says and every other device as
// it was. The model decides on its own which specs can be right; a spec it
// calls right must not be refused, one it calls wrong must not run. Specs
// are random (a fixed seed: a failure is reproducible) over small disks of
// 512- and 4096-byte blocks, a read-only one, and cartridges, one of them
// write-protected; copies run for real through the fake cluster.
func TestRandomCopiesAreRefusedOrRight(t *testing.T) {
	iterations := 300
	if testing.Short() {
		iterations = 60
	}
	p := newPropertyFixture(t)
	run(t, p.node("n1"), Config{})
	rng := rand.New(rand.NewSource(9))
	var accepted, refused int
	kinds := map[string]int{} // copies run, by source → destination kind
	for i := range iterations {
		spec := p.randomSpec(rng)
		want, why := p.model(spec)
		before := p.fileSums(t)
		id := fmt.Sprintf("p%03d", i)
		res, err := p.propose(leaderName, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: id, Spec: spec}}})
		if err == nil {
			err = res.Err
		}
		text := prototext.Format(spec)
		switch {
		case err != nil && !errors.Is(err, fsm.ErrInvalid):
			t.Fatalf("%s: submit failed otherwise than as invalid: %v\n%s", id, err, text)
		case err != nil && want != nil:
			t.Fatalf("%s: refused (%v), but the model copies it\n%s", id, err, text)
		case err != nil:
			refused++
			if after := p.fileSums(t); !equalSums(before, after) {
				t.Fatalf("%s: refused, yet a device changed\n%s", id, text)
			}
			continue
		case want == nil:
			t.Fatalf("%s: accepted, but the model says it cannot be right (%s)\n%s", id, why, text)
		}
		accepted++
		kinds[kindText(spec.GetSource())+"→"+kindText(spec.GetDestination())]++
		j := p.waitEnded(t, id)
		if j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("%s: accepted, then %v: %s\n%s", id, j.GetState(), j.GetError().GetMessage(), text)
		}
		p.apply(want)
		p.check(t, id, text)
	}
	t.Logf("%d specs: %d refused at submit, %d copied as the model says %v", iterations, refused, accepted, kinds)
	if accepted < iterations/10 || refused < iterations/10 || len(kinds) < 4 {
		t.Errorf("the generator is lopsided: %d accepted, %d refused, copies %v", accepted, refused, kinds)
	}
}

func kindText(e *ferryv1.Endpoint) string {
	if e.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE {
		return "tape"
	}
	return "disk"
}

// propertyFixture is a fake cluster with small devices and a model of what
// each holds.
type propertyFixture struct {
	*fixture
	disks map[string]*modelDisk
	tapes map[string]*modelTape
	// order lists the devices, for reproducible iteration.
	diskNames, tapeNames []string
}

type modelDisk struct {
	bs       uint64
	readOnly bool
	data     []byte
	path     string
}

type modelTape struct {
	files     [][]byte
	protected bool
	path      string
}

func newPropertyFixture(t *testing.T) *propertyFixture {
	t.Helper()
	f := setup(t, clusterOptions{})
	p := &propertyFixture{fixture: f, disks: map[string]*modelDisk{}, tapes: map[string]*modelTape{}}
	rng := rand.New(rand.NewSource(1))
	for i, d := range []struct {
		name string
		bs   uint32
		ro   bool
	}{{"a512", 512, false}, {"b512", 512, false}, {"c4k", 4096, false}, {"r512", 512, true}} {
		path := filepath.Join(f.dir, d.name+".img")
		data := make([]byte, 64<<10)
		rng.Read(data)
		if err := disk.Create(path, int64(len(data)), d.bs); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: d.name, Naa: fmt.Sprintf("50000000000001%02x", i), Path: path, SizeBytes: uint64(len(data)), BlockSize: d.bs, ReadOnly: d.ro, Site: "east"}}}})
		p.disks[d.name] = &modelDisk{bs: uint64(d.bs), readOnly: d.ro, data: data, path: path}
		p.diskNames = append(p.diskNames, d.name)
	}
	p.tapes[barcode] = &modelTape{path: f.tape}
	p.tapeNames = append(p.tapeNames, barcode)
	// Two more cartridges in a library of their own (libA has two slots),
	// one write-protected: copies may read it, never write it.
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "libP", Dir: filepath.Join(f.dir, "libP"), Slots: 4, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 1 << 30}}}})
	for i, c := range []struct {
		barcode   string
		protected bool
	}{{"B00001L9", false}, {"W00001L9", true}} {
		path := filepath.Join(f.dir, c.barcode+".tap")
		img, err := tape.Create(path, tape.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := tape.WriteLabel(img, c.barcode); err != nil {
			t.Fatal(err)
		}
		if err := img.Close(); err != nil {
			t.Fatal(err)
		}
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
			Barcode: c.barcode, Library: "libP", Naa: fmt.Sprintf("30000000000001%02x", i), Path: path, CapacityBytes: 1 << 30, WriteProtected: c.protected,
			Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: uint32(i + 1)}}}}})
		p.tapes[c.barcode] = &modelTape{path: path, protected: c.protected}
		p.tapeNames = append(p.tapeNames, c.barcode)
	}
	return p
}

// randomSpec draws a source → destination copy, now and then with explicit
// segments or the overwrite option. Numbers stray past the devices' ends
// on purpose.
func (p *propertyFixture) randomSpec(rng *rand.Rand) *ferryv1.JobSpec {
	ep := func(write bool) *ferryv1.Endpoint {
		if rng.Intn(2) == 0 {
			name := p.diskNames[rng.Intn(len(p.diskNames))]
			blocks := uint64(len(p.disks[name].data)) / p.disks[name].bs
			e := diskEP(name)
			if rng.Intn(3) > 0 {
				e.Lba = uint64(rng.Int63n(int64(blocks + 2)))
			}
			switch rng.Intn(5) {
			case 0, 1:
			case 2:
				e.Blocks = 1 << 62
			default:
				e.Blocks = uint64(1 + rng.Int63n(int64(blocks/2+1)))
			}
			return e
		}
		name := p.tapeNames[rng.Intn(len(p.tapeNames))]
		e := endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, name)
		if (write && rng.Intn(3) == 0) || (!write && rng.Intn(3) > 0) {
			n := uint32(rng.Intn(len(p.tapes[name].files) + 3))
			e.TapeFile = &n
		}
		return e
	}
	spec := &ferryv1.JobSpec{Source: ep(false), Destination: ep(true), Options: &ferryv1.JobOptions{Overwrite: rng.Intn(3) == 0}}
	if spec.Source.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK && rng.Intn(4) == 0 {
		unit := func() uint64 {
			if rng.Intn(4) == 0 {
				return uint64(1 + rng.Intn(1000))
			}
			return 512 * uint64(rng.Intn(9))
		}
		for range 1 + rng.Intn(3) {
			s := &ferryv1.Segment{SourceOffset: unit() * uint64(rng.Intn(4)), Length: max(unit(), 1)}
			if spec.Destination.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK || rng.Intn(4) == 0 {
				s.DestinationOffset = unit() * uint64(rng.Intn(4))
			}
			spec.Segments = append(spec.Segments, s)
		}
	}
	return spec
}

// copyOutcome is what a copy the model accepts does: bytes written at an
// offset of a disk, or tape files replacing those from a file number on.
type copyOutcome struct {
	disk  string
	at    []uint64
	bytes [][]byte
	tape  string
	from  int // first file replaced, from 1
	files [][]byte
}

// model decides, on its own terms, whether a spec can be right, and what
// it then does; why says what is wrong with it otherwise.
func (p *propertyFixture) model(spec *ferryv1.JobSpec) (*copyOutcome, string) {
	src, dst := spec.GetSource(), spec.GetDestination()
	sname, dname := src.GetDevice().GetName(), dst.GetDevice().GetName()
	if sname == dname && p.tapes[sname] != nil {
		return nil, "one cartridge read and written"
	}
	// The bytes the copy reads, as pieces with where each goes.
	var pieces [][]byte
	var dstOffs []uint64
	if sd := p.disks[sname]; sd != nil {
		start, n, ok := diskSpan(sd, src)
		if !ok {
			return nil, "source range past the end"
		}
		if n == 0 {
			return nil, "nothing to copy"
		}
		if len(spec.GetSegments()) == 0 {
			pieces, dstOffs = [][]byte{sd.data[start : start+n]}, []uint64{0}
		}
		for _, sg := range spec.GetSegments() {
			if sg.GetSourceOffset()+sg.GetLength() > n {
				return nil, "segment past the source range"
			}
			o := start + sg.GetSourceOffset()
			pieces = append(pieces, sd.data[o:o+sg.GetLength()])
			dstOffs = append(dstOffs, sg.GetDestinationOffset())
		}
	} else {
		st := p.tapes[sname]
		if len(spec.GetSegments()) > 0 {
			return nil, "segments from a tape"
		}
		switch {
		case src.TapeFile == nil && p.disks[dname] == nil:
			if len(st.files) == 0 {
				return nil, "image copy of a blank cartridge"
			}
		default:
			n := 1
			if src.TapeFile != nil {
				n = int(src.GetTapeFile())
			}
			if n < 1 || n > len(st.files) {
				return nil, "no such tape file"
			}
			pieces, dstOffs = [][]byte{st.files[n-1]}, []uint64{0}
		}
	}
	if dd := p.disks[dname]; dd != nil {
		if dd.readOnly {
			return nil, "read-only destination"
		}
		start, n, ok := diskSpan(dd, dst)
		if !ok {
			return nil, "destination range past the end"
		}
		out := &copyOutcome{disk: dname}
		for i, b := range pieces {
			if p.tapes[sname] != nil && uint64(len(b))%dd.bs != 0 {
				// A tape file ending inside a block: the rest is zeros.
				b = append(bytes.Clone(b), make([]byte, dd.bs-uint64(len(b))%dd.bs)...)
			}
			at := dstOffs[i]
			if at+uint64(len(b)) > n {
				return nil, "does not fit the destination range"
			}
			if at%dd.bs != 0 || uint64(len(b))%dd.bs != 0 {
				return nil, "not whole destination blocks"
			}
			out.at, out.bytes = append(out.at, start+at), append(out.bytes, b)
		}
		if sname == dname {
			ss, _, _ := diskSpan(p.disks[sname], src)
			for i, b := range out.bytes {
				for j, r := range pieces {
					rs := ss + segOff(spec, j)
					if out.at[i] < rs+uint64(len(r)) && rs < out.at[i]+uint64(len(b)) {
						return nil, "overlapping ranges on one disk"
					}
				}
			}
		}
		return out, ""
	}
	dt := p.tapes[dname]
	if dt.protected {
		return nil, "write-protected destination"
	}
	for _, o := range dstOffs {
		if o != 0 {
			return nil, "a tape is written in order"
		}
	}
	out := &copyOutcome{tape: dname, from: len(dt.files) + 1}
	image := p.tapes[sname] != nil && src.TapeFile == nil
	if dst.TapeFile != nil || image {
		from := 1
		if dst.TapeFile != nil {
			from = int(dst.GetTapeFile())
		}
		if from < 1 || from > len(dt.files)+1 {
			return nil, "destination file not on the tape"
		}
		if from <= len(dt.files) && !spec.GetOptions().GetOverwrite() {
			return nil, "would replace files without overwrite"
		}
		out.from = from
	}
	if image {
		out.files = p.tapes[sname].files
	} else {
		out.files = [][]byte{bytes.Join(pieces, nil)}
	}
	return out, ""
}

func segOff(spec *ferryv1.JobSpec, i int) uint64 {
	if len(spec.GetSegments()) == 0 {
		return 0
	}
	return spec.GetSegments()[i].GetSourceOffset()
}

// diskSpan is an endpoint's byte range on a model disk.
func diskSpan(d *modelDisk, e *ferryv1.Endpoint) (start, n uint64, ok bool) {
	blocks := uint64(len(d.data)) / d.bs
	if e.GetLba() > blocks {
		return 0, 0, false
	}
	count := e.GetBlocks()
	if count == 0 {
		count = blocks - e.GetLba()
	}
	if count > blocks-e.GetLba() {
		return 0, 0, false
	}
	return e.GetLba() * d.bs, count * d.bs, true
}

// apply changes the model as the copyOutcome says.
func (p *propertyFixture) apply(o *copyOutcome) {
	if o.disk != "" {
		for i, b := range o.bytes {
			copy(p.disks[o.disk].data[o.at[i]:], b)
		}
		return
	}
	t := p.tapes[o.tape]
	files := append([][]byte(nil), t.files[:o.from-1]...)
	t.files = append(files, o.files...)
}

// check compares every device with the model.
func (p *propertyFixture) check(t *testing.T, id, spec string) {
	t.Helper()
	for _, name := range p.diskNames {
		got, err := os.ReadFile(p.disks[name].path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p.disks[name].data) {
			t.Fatalf("%s: disk %s differs from the model\n%s", id, name, spec)
		}
	}
	for _, name := range p.tapeNames {
		got := readTapeFiles(t, p.tapes[name].path)
		want := p.tapes[name].files
		if len(got) != len(want) {
			t.Fatalf("%s: cartridge %s holds %d files, the model %d\n%s", id, name, len(got), len(want), spec)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: file %d of cartridge %s differs from the model\n%s", id, i+1, name, spec)
			}
		}
	}
}

// readTapeFiles reads every data file of a cartridge image.
func readTapeFiles(t *testing.T, path string) [][]byte {
	t.Helper()
	c, err := tape.Open(path, tape.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := PositionAtFile(c, 1, true); err != nil {
		if errors.Is(err, tape.ErrEndOfData) {
			return nil
		}
		t.Fatal(err)
	}
	var files [][]byte
	var cur []byte
	open := false
	buf := make([]byte, tape.MaxRecordSize)
	for {
		n, err := c.ReadRecord(buf)
		switch {
		case err == nil:
			cur, open = append(cur, buf[:n]...), true
		case errors.Is(err, tape.ErrFilemark):
			files, cur, open = append(files, cur), nil, false
		case errors.Is(err, tape.ErrEndOfData):
			if open {
				files = append(files, cur)
			}
			return files
		default:
			t.Fatal(err)
		}
	}
}

// fileSums hashes every device file.
func (p *propertyFixture) fileSums(t *testing.T) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	paths := []string{}
	for _, d := range p.disks {
		paths = append(paths, d.path)
	}
	for _, c := range p.tapes {
		paths = append(paths, c.path)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[path] = sha256.Sum256(b)
	}
	return out
}

func equalSums(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// waitEnded waits for the job to end, whichever way.
func (p *propertyFixture) waitEnded(t *testing.T, id string) *ferryv1.Job {
	t.Helper()
	var j *ferryv1.Job
	eventually(t, "job "+id+" ends", func() bool {
		j, _ = p.fsm.Job(id)
		return ended(j)
	}, func() string { return j.GetState().String() })
	return j
}
