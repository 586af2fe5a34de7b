package xcopy

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
)

func TestCopyStatus(t *testing.T) {
	units, count := TransferCount(5 << 40)
	c := CopyStatus{HDD: true, Status: StatusFailed, SegmentsProcessed: 3, Units: units, TransferCount: count}
	b := c.Encode()
	checkGolden(t, "rcr_copy_status", "RECEIVE COPY RESULTS, COPY STATUS", b)
	// SPC-4: AVAILABLE DATA 8, HDD|status, segments processed, units, count.
	want := unhex(t, "00000008 82 0003 02 00500000") // 5 TiB = 5·2^20 MiB
	if string(b) != string(want) {
		t.Errorf("COPY STATUS\n got % x\nwant % x", b, want)
	}
	got, err := DecodeCopyStatus(b)
	if err != nil || got != c {
		t.Errorf("DecodeCopyStatus = %+v, %v; want %+v", got, err, c)
	}
	if _, err := DecodeCopyStatus(b[:11]); !errors.Is(err, ErrResults) {
		t.Errorf("short COPY STATUS: %v", err)
	}
}

func TestTransferCount(t *testing.T) {
	for _, tc := range []struct {
		n     uint64
		units TransferCountUnits
		count uint32
	}{
		{0, UnitBytes, 0},
		{1<<32 - 1, UnitBytes, 1<<32 - 1},
		{1 << 32, UnitKiB, 1 << 22},
		{1<<64 - 1, UnitTiB, 1<<24 - 1},
	} {
		if u, c := TransferCount(tc.n); u != tc.units || c != tc.count {
			t.Errorf("TransferCount(%d) = %v, %d; want %v, %d", tc.n, u, c, tc.units, tc.count)
		}
	}
}

func TestOperatingParameters(t *testing.T) {
	o := DefaultLimits().OperatingParameters()
	b, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "rcr_operating_parameters", "RECEIVE COPY RESULTS, OPERATING PARAMETERS of DefaultLimits", b)
	// Byte positions as SPC-4 (and libiscsi's unmarshaller) read them.
	want := unhex(t, `00000035 01 000000 0020 0400 00100000 40000000 00010000 00000000 00800000
		0000 0010 10 00 00 00 000000 0d
		00 01 02 03 04 06 07 0a 10 11 12 13 e4`)
	if string(b) != string(want) {
		t.Errorf("OPERATING PARAMETERS\n got % x\nwant % x", b, want)
	}
	got, err := DecodeOperatingParameters(b)
	if err != nil || !reflect.DeepEqual(got, o) {
		t.Errorf("DecodeOperatingParameters = %+v, %v; want %+v", got, err, o)
	}
	if _, err := DecodeOperatingParameters(b[:50]); !errors.Is(err, ErrResults) {
		t.Errorf("truncated code list: %v", err)
	}

	lim := DefaultLimits()
	lim.SegmentTypes = []SegmentType{BlockToBlock, BlockToBlockOffsets}
	if got := lim.OperatingParameters().Implemented; string(got) != "\x02\x0a\xe4" {
		t.Errorf("implemented codes for a disk-only copy manager = % x", got)
	}
}

func TestFailedSegmentDetails(t *testing.T) {
	s := sense.New(sense.CopyAborted, sense.CopyTargetNotReachable)
	s.CommandInfo = 4
	f := FailedSegmentDetails{CommandStatus: 0x02, Sense: s.Fixed()}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "rcr_failed_segment_details", "RECEIVE COPY RESULTS, FAILED SEGMENT DETAILS: CHECK CONDITION, "+s.Error(), b)
	if len(b) != 78 || b[3] != 74 || b[56] != 0x02 || b[58] != 0 || b[59] != 18 || b[60] != 0x70 {
		t.Errorf("FAILED SEGMENT DETAILS layout: % x", b)
	}
	got, err := DecodeFailedSegmentDetails(b)
	if err != nil || !reflect.DeepEqual(*got, f) {
		t.Errorf("DecodeFailedSegmentDetails = %+v, %v; want %+v", got, err, f)
	}
	parsed, err := sense.Parse(got.Sense)
	if err != nil || !parsed.Is(s) || parsed.CommandInfo != 4 {
		t.Errorf("sense of the failed segment = %+v, %v", parsed, err)
	}

	none, err := DecodeFailedSegmentDetails(NoFailedSegmentDetails())
	if err != nil || none != nil {
		t.Errorf("no details decoded as %+v, %v", none, err)
	}
	if _, err := DecodeFailedSegmentDetails(b[:70]); !errors.Is(err, ErrResults) {
		t.Errorf("truncated sense: %v", err)
	}
}

func TestCDBs(t *testing.T) {
	x := ExtendedCopyCDB{ParameterListLength: 0x01020304, Control: 0x04}
	xb := x.Encode()
	if want := unhex(t, "83 00 0000000000000000 01020304 00 04"); string(xb) != string(want) {
		t.Errorf("EXTENDED COPY CDB % x, want % x", xb, want)
	}
	if got, err := DecodeExtendedCopyCDB(xb); err != nil || got != x {
		t.Errorf("DecodeExtendedCopyCDB = %+v, %v", got, err)
	}
	r := ReceiveCopyResultsCDB{Action: ActionOperatingParameters, ListID: 9, AllocationLength: 1024}
	rb := r.Encode()
	if want := unhex(t, "84 03 09 00000000000000 00000400 00 00"); string(rb) != string(want) {
		t.Errorf("RECEIVE COPY RESULTS CDB % x, want % x", rb, want)
	}
	if got, err := DecodeReceiveCopyResultsCDB(rb); err != nil || got != r {
		t.Errorf("DecodeReceiveCopyResultsCDB = %+v, %v", got, err)
	}
	if got := r.Truncate(make([]byte, 2000)); len(got) != 1024 {
		t.Errorf("Truncate kept %d bytes", len(got))
	}

	cdbPtr := func(b uint16, bit uint8) *sense.FieldPointer {
		return &sense.FieldPointer{CDB: true, BitValid: true, Bit: bit, Byte: b}
	}
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		cdb    []byte
		code   sense.Code
		ptr    *sense.FieldPointer
	}{
		{"short CDB", decodeX, xb[:10], sense.InvalidFieldInCDB, nil},
		{"wrong opcode", decodeX, rb, sense.InvalidCommandOperationCode, cdbPtr(0, 7)},
		{"EXTENDED COPY (LID4)", decodeX, patch(xb, 1, 0x01), sense.InvalidFieldInCDB, cdbPtr(1, 4)},
		{"reserved bits of byte 1", decodeX, patch(xb, 1, 0x20), sense.InvalidFieldInCDB, cdbPtr(1, 5)},
		{"EXTENDED COPY reserved byte", decodeX, patch(xb, 5, 0x03), sense.InvalidFieldInCDB, cdbPtr(5, 1)},
		{"byte 14 reserved", decodeX, patch(xb, 14, 0x80), sense.InvalidFieldInCDB, cdbPtr(14, 7)},
		{"RECEIVE DATA not supported", decodeR, patch(rb, 1, 0x01), sense.InvalidFieldInCDB, cdbPtr(1, 4)},
		{"LID4 copy status not supported", decodeR, patch(rb, 1, 0x05), sense.InvalidFieldInCDB, cdbPtr(1, 4)},
		{"RECEIVE COPY RESULTS reserved byte", decodeR, patch(rb, 3, 0x01), sense.InvalidFieldInCDB, cdbPtr(3, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *sense.Sense
			if err := tc.decode(tc.cdb); !errors.As(err, &s) {
				t.Fatalf("error %v is not sense data", err)
			}
			if s.Key != sense.IllegalRequest || s.Code() != tc.code || !reflect.DeepEqual(s.FieldPointer, tc.ptr) {
				t.Errorf("got %v, want ILLEGAL REQUEST %v %+v", s, tc.code, tc.ptr)
			}
		})
	}
}

func decodeX(b []byte) error { _, err := DecodeExtendedCopyCDB(b); return err }
func decodeR(b []byte) error { _, err := DecodeReceiveCopyResultsCDB(b); return err }

// patch returns a copy of b with byte i set to v.
func patch(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

func TestResultNames(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{StatusFailed.String(), "operation completed with errors"},
		{CopyManagerStatus(9).String(), "copy manager status 09h"},
		{UnitBlocks.String(), "logical blocks"},
		{UnitMiB.String(), "MiB"},
		{BlockToBlockOffsets.String(), "block→block with offsets"},
		{DeviceStream.String(), "stream"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
