package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// accessFixture registers the devices the refusal tables use:
//   - d512: 1 MiB of 512-byte blocks (2048 blocks), d4k: 1 MiB of
//     4096-byte blocks (256 blocks), ro: a read-only 512-byte disk;
//   - in libA: A00001L9 with three files (4096, 1000 and 8192 bytes),
//     A00002L9 with nothing but its label, W00001L9, write-protected, with
//     one file, and A00003L9 with two.
func accessFixture(t *testing.T) *FSM {
	t.Helper()
	f := newWithNodes()
	disk := func(name string, n int, bs uint32, ro bool) *ferryv1.Command {
		d := validDisk(name, n)
		d.SizeBytes, d.BlockSize, d.ReadOnly = 1<<20, bs, ro
		return diskCmd(0, d)
	}
	cart := func(barcode string, slot uint32, n int, wp bool, sizes ...uint64) *ferryv1.Command {
		c := validCartridge(barcode, "libA", slot, n)
		c.WriteProtected = wp
		for i, b := range sizes {
			c.Files = append(c.Files, &ferryv1.TapeFile{Number: uint32(i + 1), Bytes: b})
		}
		return cartridgeCmd(0, c)
	}
	applyAll(t, f,
		disk("d512", 1, 512, false), disk("d4k", 2, 4096, false), disk("ro", 3, 512, true),
		libraryCmd(0, validLibrary("libA")),
		cart("A00001L9", 1, 101, false, 4096, 1000, 8192),
		cart("A00002L9", 2, 102, false),
		cart("W00001L9", 3, 103, true, 512),
		cart("A00003L9", 4, 104, false, 512, 512),
	)
	return f
}

func diskEP(name string, lba, blocks uint64) *ferryv1.Endpoint { return diskByName(name, lba, blocks) }

func tapeEP(barcode string, file ...uint32) *ferryv1.Endpoint {
	e := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: barcode}}}
	if len(file) > 0 {
		e.TapeFile = &file[0]
	}
	return e
}

func copySpec(src, dst *ferryv1.Endpoint, segs ...*ferryv1.Segment) *ferryv1.JobSpec {
	return &ferryv1.JobSpec{Source: src, Destination: dst, Segments: segs}
}

func withOverwrite(s *ferryv1.JobSpec) *ferryv1.JobSpec {
	s.Options = &ferryv1.JobOptions{Overwrite: true}
	return s
}

func seg(src, dst, n uint64) *ferryv1.Segment {
	return &ferryv1.Segment{SourceOffset: src, DestinationOffset: dst, Length: n}
}

// TestSubmitRefusesCopiesThatCannotBeRight submits each spec to the state
// machine and checks the violation it gets: the field and a phrase of the
// reason. An empty field means the spec is accepted.
func TestSubmitRefusesCopiesThatCannotBeRight(t *testing.T) {
	cases := []struct {
		name   string
		spec   *ferryv1.JobSpec
		field  string
		reason string
	}{
		{"disk to disk", copySpec(diskEP("d512", 0, 8), diskEP("d4k", 0, 0)), "", ""},
		{"disk to itself, apart", copySpec(diskEP("d512", 0, 8), diskEP("d512", 8, 0)), "", ""},
		{"disk to tape", copySpec(diskEP("d512", 0, 0), tapeEP("A00001L9")), "", ""},
		{"tape file to disk", copySpec(tapeEP("A00001L9", 1), diskEP("d512", 0, 0)), "", ""},
		{"tape to tape", copySpec(tapeEP("A00001L9", 1), tapeEP("A00002L9")), "", ""},
		{"image copy onto a blank cartridge", copySpec(tapeEP("A00001L9"), tapeEP("A00002L9")), "", ""},
		{"image copy, overwriting", withOverwrite(copySpec(tapeEP("A00001L9"), tapeEP("A00003L9"))), "", ""},
		{"last tape file to disk", copySpec(tapeEP("A00001L9", 3), diskEP("d512", 2032, 0)), "", ""},
		{"a partial block, padded", copySpec(tapeEP("A00001L9", 2), diskEP("d4k", 255, 0)), "", ""},
		{"new file at end of data", copySpec(diskEP("d512", 0, 8), tapeEP("A00003L9", 3)), "", ""},
		{"over a file, overwriting", withOverwrite(copySpec(diskEP("d512", 0, 8), tapeEP("A00003L9", 2))), "", ""},
		{"segments apart on one disk", copySpec(diskEP("d512", 0, 0), diskEP("d512", 0, 0), seg(0, 4096, 4096), seg(8192, 16384, 512)), "", ""},
		{"write-protected source", copySpec(tapeEP("W00001L9", 1), diskEP("d512", 0, 0)), "", ""},
		{"read-only source", copySpec(diskEP("ro", 0, 8), diskEP("d512", 0, 0)), "", ""},

		{"same cartridge", copySpec(tapeEP("A00001L9"), tapeEP("A00001L9")),
			"spec.destination.device", "one drive cannot read and write one cartridge"},
		{"same cartridge, one file", copySpec(tapeEP("A00001L9", 1), tapeEP("A00001L9")),
			"spec.destination.device", "cartridge A00001L9 is also the source"},
		{"same cartridge by NAA", copySpec(tapeEP("A00001L9", 1), &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: testNAA(101)}}}),
			"spec.destination.device", "also the source"},
		{"overlapping ranges", copySpec(diskEP("d512", 0, 1024), diskEP("d512", 8, 0)),
			"spec.destination.lba", "refuses overlapping copies on one disk"},
		{"whole disk onto itself", copySpec(diskEP("d512", 0, 0), diskEP("d512", 0, 0)),
			"spec.destination.lba", "overlap"},
		{"overlapping segments", copySpec(diskEP("d512", 0, 0), diskEP("d512", 0, 0), seg(0, 4096, 4096), seg(8192, 0, 512)),
			"spec.segments[1].destination_offset", "overlap bytes 0–4095"},
		{"source LBA past the end", copySpec(diskEP("d512", 2049, 1), tapeEP("A00001L9")),
			"spec.source.lba", "LBA 2049 is past the end of disk d512 (2048 blocks"},
		{"nothing to copy", copySpec(diskEP("d512", 2048, 0), tapeEP("A00001L9")),
			"spec.source.lba", "LBA 2048 is the end of disk d512 (2048 blocks): nothing to copy"},
		{"source blocks past the end", copySpec(diskEP("d512", 2047, 100), tapeEP("A00001L9")),
			"spec.source.blocks", "past the end of disk d512"},
		{"blocks wrapping 2^64", copySpec(diskEP("d512", 8, 1<<63), tapeEP("A00001L9")),
			"spec.source.blocks", "past the end"},
		{"destination LBA past the end", copySpec(diskEP("d512", 0, 8), diskEP("d4k", 300, 0)),
			"spec.destination.lba", "past the end of disk d4k (256 blocks"},
		{"destination too small", copySpec(diskEP("d512", 0, 16), diskEP("d4k", 0, 1)),
			"spec.destination.blocks", "8192 bytes from the source do not fit in the destination range (4096 bytes)"},
		{"segment past the source range", copySpec(diskEP("d512", 2040, 0), diskEP("d4k", 0, 0), seg(4096, 0, 8192)),
			"spec.segments[0].source_offset", "past the end of the source range (4096 bytes)"},
		{"segment past the destination range", copySpec(diskEP("d512", 0, 0), diskEP("d4k", 255, 0), seg(0, 0, 8192)),
			"spec.segments[0].destination_offset", "past the end of the destination range (4096 bytes)"},
		{"partial destination block", copySpec(diskEP("d512", 0, 1), diskEP("d4k", 0, 0)),
			"spec.source.blocks", "512 bytes is not a whole number of disk d4k's 4096-byte blocks"},
		{"segment length not whole blocks", copySpec(diskEP("d512", 0, 0), diskEP("d4k", 0, 0), seg(0, 0, 1000)),
			"spec.segments[0].length", "not a whole number of disk d4k's 4096-byte blocks"},
		{"segment offset not on a block", copySpec(diskEP("d512", 0, 0), diskEP("d4k", 0, 0), seg(0, 512, 4096)),
			"spec.segments[0].destination_offset", "512 is not a multiple of disk d4k's 4096-byte blocks"},
		{"segment placed on a tape", copySpec(diskEP("d512", 0, 0), tapeEP("A00001L9"), seg(0, 512, 512)),
			"spec.segments[0].destination_offset", "written in order"},
		{"write-protected cartridge", copySpec(diskEP("d512", 0, 8), tapeEP("W00001L9")),
			"spec.destination.device", "cartridge W00001L9 is write-protected"},
		{"read-only disk", copySpec(diskEP("d512", 0, 8), diskEP("ro", 0, 0)),
			"spec.destination.device", "disk ro is read-only"},
		{"label as source", copySpec(tapeEP("A00001L9", 0), diskEP("d512", 0, 0)),
			"spec.source.tape_file", "tape file 0 is the label"},
		{"label as destination", copySpec(diskEP("d512", 0, 8), tapeEP("A00001L9", 0)),
			"spec.destination.tape_file", "tape file 0 is the label"},
		{"source file at end of data", copySpec(tapeEP("A00001L9", 4), diskEP("d512", 0, 0)),
			"spec.source.tape_file", "tape file 4 of cartridge A00001L9 does not exist: it is at end of data (the cartridge holds 3 files)"},
		{"source file past end of data", copySpec(tapeEP("A00001L9", 9), tapeEP("A00002L9")),
			"spec.source.tape_file", "it is past end of data"},
		{"default file of a blank cartridge", copySpec(tapeEP("A00002L9"), diskEP("d512", 0, 0)),
			"spec.source.tape_file", "tape file 1 of cartridge A00002L9 does not exist: it is at end of data (the cartridge holds no files)"},
		{"image copy of a blank cartridge", copySpec(tapeEP("A00002L9"), tapeEP("A00001L9")),
			"spec.source", "holds nothing but its label"},
		{"image copy over files", copySpec(tapeEP("A00001L9"), tapeEP("A00003L9")),
			"spec.destination", "would replace 2 files of cartridge A00003L9 (files 1–2): set options.overwrite"},
		{"copy over a file", copySpec(diskEP("d512", 0, 8), tapeEP("A00003L9", 2)),
			"spec.destination.tape_file", "would replace 1 file of cartridge A00003L9 (files 2–2)"},
		{"destination past end of data", withOverwrite(copySpec(diskEP("d512", 0, 8), tapeEP("A00003L9", 4))),
			"spec.destination.tape_file", "past end of data (the cartridge holds 2 files): a copy starts at most at end of data, file 3"},
		{"tape file larger than the range", copySpec(tapeEP("A00001L9", 3), diskEP("d512", 2047, 0)),
			"spec.destination.blocks", "tape file 3 of cartridge A00001L9 holds 8192 bytes, more than the destination range (512 bytes)"},
		{"kind mismatch", copySpec(diskEP("A00001L9", 0, 0), diskEP("d512", 0, 0)),
			"spec.source.kind", "is a tape"},
		{"segments from a tape", copySpec(tapeEP("A00001L9", 1), diskEP("d512", 0, 0), seg(0, 0, 512)),
			"spec.segments", "explicit segments need a disk source"},
		{"too many segments", copySpec(diskEP("d512", 0, 0), tapeEP("A00001L9"), make([]*ferryv1.Segment, 1025)...),
			"spec.segments", "1025 segments: more than the limit of 1024"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := accessFixture(t)
			r := f.Apply(f.AppliedIndex()+1, submitCmd(1, "j", "", tc.spec))
			if tc.field == "" {
				if r.Err != nil {
					t.Fatalf("refused: %v", r.Err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(r.Err, &ve) || !errors.Is(r.Err, ErrInvalid) {
				t.Fatalf("Err = %v, want a *ValidationError", r.Err)
			}
			i := slices.IndexFunc(ve.Violations, func(v FieldViolation) bool { return v.Field == tc.field })
			if i < 0 {
				t.Fatalf("violations %v, want one on %s", ve.Violations, tc.field)
			}
			if d := ve.Violations[i].Description; !strings.Contains(d, tc.reason) {
				t.Errorf("%s: %q, want it to say %q", tc.field, d, tc.reason)
			}
			if _, ok := f.Job("j"); ok {
				t.Error("the refused job exists")
			}
		})
	}
}

// TestSubmitLeavesUnregisteredDevicesToTheCopy: the state machine does not
// refuse a device it does not know (the API does, before proposing), but
// reports it in the access.
func TestSubmitLeavesUnregisteredDevicesToTheCopy(t *testing.T) {
	f := accessFixture(t)
	spec := copySpec(diskEP("nosuch", 0, 0), tapeEP("A00001L9"))
	if r := f.Apply(f.AppliedIndex()+1, submitCmd(1, "j", "", spec)); r.Err != nil {
		t.Fatalf("refused: %v", r.Err)
	}
	acc, err := f.JobAccess(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Unresolvable || len(acc.Missing) != 1 || acc.Missing[0].Field != "spec.source.device" {
		t.Errorf("access = %+v, want spec.source.device missing", acc)
	}
	if got := acc.Writes(); !slices.Equal(got, []string{"tape:A00001L9"}) {
		t.Errorf("writes %v", got)
	}
}

// TestJobAccessRanges checks the byte ranges and tape files a copy is
// resolved to, which the scheduler and the device locks follow.
func TestJobAccessRanges(t *testing.T) {
	f := accessFixture(t)
	acc, err := f.JobAccess(copySpec(diskEP("d512", 8, 16), diskEP("d4k", 2, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Devices) != 2 {
		t.Fatalf("devices %+v", acc.Devices)
	}
	src, dst := acc.Devices[0], acc.Devices[1]
	if !src.Read || src.Write || !slices.Equal(src.Reads, []ByteRange{{4096, 8192}}) {
		t.Errorf("source %+v", src)
	}
	if dst.Read || !dst.Write || !slices.Equal(dst.Writes, []ByteRange{{8192, 8192}}) {
		t.Errorf("destination %+v", dst)
	}

	acc, err = f.JobAccess(copySpec(tapeEP("A00001L9"), tapeEP("A00002L9")))
	if err != nil {
		t.Fatal(err)
	}
	src, dst = acc.Devices[0], acc.Devices[1]
	if src.ReadFile != nil || dst.WriteFile == nil || *dst.WriteFile != 1 {
		t.Errorf("image copy: source file %v, destination file %v; want every file onto file 1", src.ReadFile, dst.WriteFile)
	}
	// A file that ends inside a block is padded to the block with zeros.
	acc, _ = f.JobAccess(copySpec(tapeEP("A00001L9", 2), diskEP("d4k", 3, 0)))
	if dst := acc.Devices[1]; !slices.Equal(dst.Writes, []ByteRange{{3 * 4096, 4096}}) {
		t.Errorf("tape file of 1000 bytes to a 4096-byte LUN writes %v, want one whole block", dst.Writes)
	}
	acc, _ = f.JobAccess(copySpec(tapeEP("A00001L9", 2), tapeEP("A00002L9")))
	if src, dst := acc.Devices[0], acc.Devices[1]; src.ReadFile == nil || *src.ReadFile != 2 || dst.WriteFile != nil {
		t.Errorf("file copy: source file %v, destination file %v; want 2 appended at end of data", src.ReadFile, dst.WriteFile)
	}
}

// TestOverwriteSaysWhatItReplaces: a copy allowed to replace files says in
// its history how many it replaces.
func TestOverwriteSaysWhatItReplaces(t *testing.T) {
	f := accessFixture(t)
	applyAll(t, f, submitCmd(1, "j", "", withOverwrite(copySpec(tapeEP("A00001L9"), tapeEP("A00003L9")))))
	j, _ := f.Job("j")
	if got, want := j.GetHistory()[0].GetMessage(), "submitted; it replaces 2 files of cartridge A00003L9 (files 1–2)"; got != want {
		t.Errorf("history says %q, want %q", got, want)
	}
}

// TestReadingAnIncompleteFileSaysSo: a copy from a tape file its catalog
// holds as incomplete (cut short when its copy failed or was stopped)
// restored part of a backup and said nothing; it runs, and its history
// says what it reads, which ferry copy prints.
func TestReadingAnIncompleteFileSaysSo(t *testing.T) {
	f := accessFixture(t)
	c := validCartridge("I00001L9", "libA", 5, 105)
	c.Files = []*ferryv1.TapeFile{{Number: 1, Bytes: 512}, {Number: 2, Bytes: 512, Incomplete: true}}
	applyAll(t, f, cartridgeCmd(0, c),
		submitCmd(1, "whole", "", copySpec(tapeEP("I00001L9", 1), diskEP("d512", 0, 0))),
		submitCmd(2, "part", "", copySpec(tapeEP("I00001L9", 2), diskEP("d512", 0, 0))))
	for id, want := range map[string]string{
		"whole": "submitted",
		"part":  "submitted; it reads file 2 of cartridge I00001L9, which is incomplete (cut short, or changed part-way)",
	} {
		j, _ := f.Job(id)
		if got := j.GetHistory()[0].GetMessage(); got != want {
			t.Errorf("job %s: history says %q, want %q", id, got, want)
		}
	}
}
