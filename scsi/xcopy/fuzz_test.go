package xcopy

import (
	"math"
	"reflect"
	"testing"
)

// FuzzDecode: Decode never panics, and a list it accepts encodes to bytes
// that decode to the same list and re-encode identically.
func FuzzDecode(f *testing.F) {
	f.Add(mustEncodeF(f, fullList()))
	f.Add(mustEncodeF(f, validationBase()))
	for _, c := range segmentCases() {
		f.Add(mustEncodeF(f, singleSegmentList(c.seg)))
	}
	disk, tape := targets()[0], targets()[2]
	f.Add(mustEncodeF(f, &ParameterList{Targets: []TargetDescriptor{disk, disk},
		Segments: []Segment{{Type: BlockToBlock, Src: 0, Dst: 1, Blocks: 16, SrcLBA: 100, DstLBA: 1<<55 + 100}}}))
	f.Add(mustEncodeF(f, &ParameterList{Targets: []TargetDescriptor{disk, disk},
		Segments: []Segment{{Type: BlockToBlockOffsets, Src: 0, Dst: 1, ByteCount: 600, SrcLBA: 1, DstLBA: 2, DstOffset: 7}}}))
	f.Add(mustEncodeF(f, &ParameterList{Targets: []TargetDescriptor{tape, tape},
		Segments: []Segment{{Type: TapeImageCopy, Src: 0, Dst: 1}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := DefaultLimits()
		p, err := Decode(b, lim)
		if err != nil {
			return
		}
		// An accepted list has no address that overflows and never copies
		// a range of a device onto itself.
		for i, s := range p.Segments {
			src, dst, err := p.Extents(i, math.MaxInt64, math.MaxInt64)
			if err != nil {
				t.Fatalf("segment %d accepted with %v", i, err)
			}
			if src != nil && dst != nil && string(p.Targets[s.Src].NAA) == string(p.Targets[s.Dst].NAA) && src.Overlaps(*dst) {
				t.Fatalf("segment %d copies %+v onto %+v of one device", i, src, dst)
			}
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded list: %v", err)
		}
		q, err := Decode(enc, lim)
		if err != nil {
			t.Fatalf("Decode(Encode(list)) = %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the list:\n got %+v\nwant %+v", q, p)
		}
		again, err := q.Encode()
		if err != nil || string(again) != string(enc) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzDecodeResults: the RECEIVE COPY RESULTS and CDB decoders never panic
// and round-trip what they accept.
func FuzzDecodeResults(f *testing.F) {
	op, _ := DefaultLimits().OperatingParameters().Encode()
	f.Add(op)
	f.Add(CopyStatus{Status: StatusCompleted, SegmentsProcessed: 2}.Encode())
	fsd, _ := FailedSegmentDetails{CommandStatus: 2, Sense: make([]byte, 18)}.Encode()
	f.Add(fsd)
	f.Add(ExtendedCopyCDB{ParameterListLength: 80}.Encode())
	f.Add(ReceiveCopyResultsCDB{Action: ActionFailedSegmentDetails, ListID: 1, AllocationLength: 96}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodeCopyStatus(b); err == nil {
			if again, _ := DecodeCopyStatus(c.Encode()); again != c {
				t.Fatalf("COPY STATUS round trip: %+v != %+v", again, c)
			}
		}
		if o, err := DecodeOperatingParameters(b); err == nil {
			enc, err := o.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := DecodeOperatingParameters(enc); !reflect.DeepEqual(again, o) {
				t.Fatalf("OPERATING PARAMETERS round trip: %+v != %+v", again, o)
			}
		}
		if d, err := DecodeFailedSegmentDetails(b); err == nil && d != nil {
			enc, err := d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := DecodeFailedSegmentDetails(enc); !reflect.DeepEqual(again, d) {
				t.Fatalf("FAILED SEGMENT DETAILS round trip: %+v != %+v", again, d)
			}
		}
		if c, err := DecodeExtendedCopyCDB(b); err == nil {
			if again, _ := DecodeExtendedCopyCDB(c.Encode()); again != c {
				t.Fatalf("EXTENDED COPY CDB round trip: %+v != %+v", again, c)
			}
		}
		if c, err := DecodeReceiveCopyResultsCDB(b); err == nil {
			if again, _ := DecodeReceiveCopyResultsCDB(c.Encode()); again != c {
				t.Fatalf("RECEIVE COPY RESULTS CDB round trip: %+v != %+v", again, c)
			}
		}
	})
}

func mustEncodeF(f *testing.F, p *ParameterList) []byte {
	f.Helper()
	b, err := p.Encode()
	if err != nil {
		f.Fatal(err)
	}
	return b
}
