package sense

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// goldenCases are the sense data whose fixed and descriptor encodings are
// pinned in testdata.
func goldenCases() []struct {
	name  string
	sense *Sense
} {
	withCmdInfo := New(CopyAborted, CopyTargetNotReachable)
	withCmdInfo.CommandInfo = 0x0102
	withCmdInfo.FieldPointer = &FieldPointer{Segment: true, BitValid: true, Bit: 7, Byte: 4}
	withCmdInfo.WithInformation(2)
	deferred := New(MediumError, WriteError).WithInformation(0x1_0000_0000)
	deferred.Deferred = true
	return []struct {
		name  string
		sense *Sense
	}{
		{"invalid_param_field", InvalidParameter(3, 7)},
		{"invalid_cdb_field", InvalidCDB(1, 4)},
		{"invalid_cdb_byte", InvalidCDB(10, -1)},
		{"param_list_length", New(IllegalRequest, ParameterListLengthError)},
		{"copy_aborted_segment", withCmdInfo},
		{"filemark", Filemark(512)},
		{"early_warning", EarlyWarning()},
		{"end_of_medium", EndOfMedium(65536)},
		{"end_of_data", EndOfData(1)},
		{"incorrect_length_negative", IncorrectLength(-16)},
		{"write_protected", New(DataProtect, WriteProtected)},
		{"deferred_wide_information", deferred},
	}
}

func TestGoldenFixedAndDescriptor(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, "fixed_"+tc.name, tc.sense.Error(), tc.sense.Fixed())
			checkGolden(t, "descriptor_"+tc.name, tc.sense.Error(), tc.sense.Descriptor())
		})
	}
}

// TestFixedLayout checks the SPC-4 4.5.3 byte positions independently of
// the golden files.
func TestFixedLayout(t *testing.T) {
	s := InvalidParameter(0x1234, 5)
	s.Filemark, s.EOM, s.ILI = true, true, true
	s.WithInformation(0xAABBCCDD)
	s.CommandInfo = 0x11223344
	want := []byte{
		0xF0,                   // VALID | 70h
		0x00,                   // obsolete
		0xE5,                   // FILEMARK EOM ILI | ILLEGAL REQUEST
		0xAA, 0xBB, 0xCC, 0xDD, // INFORMATION
		0x0A,                   // ADDITIONAL SENSE LENGTH
		0x11, 0x22, 0x33, 0x44, // COMMAND-SPECIFIC INFORMATION
		0x26, 0x00, // ASC, ASCQ
		0x00,             // FRU
		0x8D, 0x12, 0x34, // SKSV, C/D=0, BPV, bit 5, field pointer
	}
	if got := s.Fixed(); !reflect.DeepEqual(got, want) {
		t.Errorf("Fixed() = % x, want % x", got, want)
	}
}

// TestDescriptorLayout checks the SPC-4 4.5.2 byte positions.
func TestDescriptorLayout(t *testing.T) {
	s := InvalidCDB(2, -1)
	s.WithInformation(7)
	want := []byte{
		0x72, 0x05, 0x24, 0x00, 0, 0, 0, 20, // header, ADDITIONAL SENSE LENGTH 20
		0x00, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 7, // information descriptor
		0x02, 0x06, 0, 0, 0xC0, 0x00, 0x02, 0, // sense-key specific: SKSV, C/D, byte 2
	}
	if got := s.Descriptor(); !reflect.DeepEqual(got, want) {
		t.Errorf("Descriptor() = % x, want % x", got, want)
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		sense *Sense
		want  string
	}{
		{InvalidParameter(3, 7), "ILLEGAL REQUEST: INVALID FIELD IN PARAMETER LIST (26/00), field pointer byte 3 bit 7"},
		{InvalidCDB(1, 4), "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00), field pointer CDB byte 1 bit 4"},
		{InvalidCDB(10, -1), "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00), field pointer CDB byte 10"},
		{Filemark(12), "NO SENSE: FILEMARK DETECTED (00/01), FILEMARK, information 12"},
		{EndOfMedium(0), "VOLUME OVERFLOW: END-OF-PARTITION/MEDIUM DETECTED (00/02), EOM, information 0"},
		{IncorrectLength(4), "NO SENSE: NO ADDITIONAL SENSE INFORMATION (00/00), ILI, information 4"},
		{New(CopyAborted, UnreachableCopyTarget), "COPY ABORTED: UNREACHABLE COPY TARGET (08/04)"},
		{New(Key(0x9), MakeCode(0x80, 0x01)), "VENDOR SPECIFIC: ASC/ASCQ 80/01"},
	} {
		if got := tc.sense.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestErrorsAsAndIs(t *testing.T) {
	err := fmt.Errorf("write block 9: %w", New(DataProtect, WriteProtected))
	var s *Sense
	if !errors.As(err, &s) || s.Key != DataProtect || s.Code() != WriteProtected {
		t.Fatalf("errors.As did not recover the sense data from %v", err)
	}
	if !errors.Is(err, New(DataProtect, WriteProtected)) {
		t.Error("errors.Is did not match on key and code")
	}
	if errors.Is(err, New(DataProtect, HardwareWriteProtected)) {
		t.Error("errors.Is matched a different ASCQ")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.sense.Descriptor())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, tc.sense) {
				t.Errorf("descriptor round trip: got %+v, want %+v", got, *tc.sense)
			}
			want := *tc.sense
			if want.Information > 0xFFFFFFFF {
				want.InfoValid, want.Information = false, 0
			}
			got, err = Parse(tc.sense.Fixed())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fixed round trip: got %+v, want %+v", got, want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		want    Sense
		wantErr bool
	}{
		{name: "empty", in: nil, wantErr: true},
		{name: "bad response code", in: []byte{0x7F, 0, 5, 0, 0, 0, 0, 0}, wantErr: true},
		{name: "fixed too short", in: []byte{0x70, 0, 5}, wantErr: true},
		{
			// A short allocation length cut the buffer after the key.
			name: "fixed truncated",
			in:   []byte{0x70, 0, 0x02, 0, 0, 0, 0, 10},
			want: Sense{Key: NotReady},
		},
		{
			name: "fixed additional length shorter than buffer",
			in:   []byte{0x70, 0, 0x05, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0x24, 0x00, 0, 0x80, 0, 0},
			want: Sense{Key: IllegalRequest, ASC: 0x24},
		},
		{
			name: "descriptor with unknown and block descriptors",
			in: []byte{0x72, 0x03, 0x11, 0x00, 0, 0, 0, 12,
				0x80, 0x02, 0xAA, 0xBB, // vendor specific, skipped
				0x05, 0x02, 0x00, 0x20, // block commands: ILI
				0x00, 0x0A, 0x00, 0x00, // information with VALID clear is cut short
			},
			wantErr: true,
		},
		{
			name: "descriptor block commands ILI",
			in: []byte{0x72, 0x03, 0x11, 0x00, 0, 0, 0, 8,
				0x80, 0x02, 0xAA, 0xBB,
				0x05, 0x02, 0x00, 0x20,
			},
			want: Sense{Key: MediumError, ASC: 0x11, ILI: true},
		},
		{
			name: "sense-key specific of another key is skipped",
			in:   []byte{0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x04, 0, 0x80, 0x40, 0x00},
			want: Sense{Key: NotReady, ASC: 0x04, ASCQ: 0x04},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseSense(f *testing.F) {
	for _, tc := range goldenCases() {
		f.Add(tc.sense.Fixed())
		f.Add(tc.sense.Descriptor())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		_ = s.Error()
		d, err := Parse(s.Descriptor())
		if err != nil {
			t.Fatalf("Parse(Descriptor()) = %v", err)
		}
		if !reflect.DeepEqual(d, s) {
			t.Fatalf("descriptor round trip:\n got %+v\nwant %+v", d, s)
		}
		if b[0]&0x7F == fixedCurrent || b[0]&0x7F == fixedDeferred {
			fx, err := Parse(s.Fixed())
			if err != nil {
				t.Fatalf("Parse(Fixed()) = %v", err)
			}
			if !reflect.DeepEqual(fx, s) {
				t.Fatalf("fixed round trip:\n got %+v\nwant %+v", fx, s)
			}
		}
	})
}
