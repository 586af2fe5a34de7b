package fsm

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestValidateSpec(t *testing.T) {
	// fields lists only the violated fields; descriptions are checked by the
	// Apply tests and would make this table unreadable.
	tests := []struct {
		name   string
		spec   *ferryv1.JobSpec
		fields []string
	}{
		{name: "valid disk to tape", spec: validSpec()},
		{name: "valid tape to disk with a tape file", spec: &ferryv1.JobSpec{
			Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}}, TapeFile: proto.Uint32(0)},
			Destination: diskByName("restore_lun:7", 0, 0),
		}},
		{name: "valid xcopy parameter list", spec: &ferryv1.JobSpec{XcopyParameterList: []byte{0x01, 0x02}}},
		{name: "valid with segments", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Segments = []*ferryv1.Segment{{SourceOffset: 0, DestinationOffset: 4096, Length: 1}, {Length: 1 << 30}}
		})},
		{name: "valid 32-digit upper-case naa", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination = tapeByNAA("6001405F3A1B2C3D6001405F3A1B2C3D")
		})},
		{name: "valid name at the limit in multi-byte characters", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Name = strings.Repeat("é", maxJobNameChars)
		})},
		{name: "valid device name at the limit", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: strings.Repeat("a", maxDeviceNameChars)}}
		})},
		{name: "valid xcopy list at the limit", spec: &ferryv1.JobSpec{XcopyParameterList: make([]byte, maxXcopyListBytes)}},

		{name: "nil spec", spec: nil, fields: []string{"spec"}},
		{name: "empty spec", spec: &ferryv1.JobSpec{}, fields: []string{"spec"}},
		{name: "both endpoints and a list", spec: specWith(func(s *ferryv1.JobSpec) {
			s.XcopyParameterList = []byte{1}
		}), fields: []string{"spec.xcopy_parameter_list"}},
		{name: "source without destination", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination = nil
		}), fields: []string{"spec.destination"}},
		{name: "destination without source", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source = nil
		}), fields: []string{"spec.source"}},
		{name: "list too long", spec: &ferryv1.JobSpec{XcopyParameterList: make([]byte, maxXcopyListBytes+1)},
			fields: []string{"spec.xcopy_parameter_list"}},
		{name: "segments with a list", spec: &ferryv1.JobSpec{XcopyParameterList: []byte{1}, Segments: []*ferryv1.Segment{{Length: 1}}},
			fields: []string{"spec.segments"}},
		{name: "name too long", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Name = strings.Repeat("n", maxJobNameChars+1)
		}), fields: []string{"spec.name"}},
		{name: "kind missing", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Kind = ferryv1.DeviceKind_DEVICE_KIND_UNSPECIFIED
		}), fields: []string{"spec.source.kind"}},
		{name: "kind unknown", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination.Kind = ferryv1.DeviceKind(9)
		}), fields: []string{"spec.destination.kind"}},
		{name: "device missing", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = nil
		}), fields: []string{"spec.source.device"}},
		{name: "device ref empty", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = &ferryv1.DeviceRef{}
		}), fields: []string{"spec.source.device"}},
		{name: "device name empty", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{}}
		}), fields: []string{"spec.source.device.name"}},
		{name: "device name too long", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: strings.Repeat("a", maxDeviceNameChars+1)}}
		}), fields: []string{"spec.source.device.name"}},
		{name: "device name is a path", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "/dev/sda"}}
		}), fields: []string{"spec.source.device.name"}},
		{name: "device name with a space", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db 01"}}
		}), fields: []string{"spec.source.device.name"}},
		{name: "naa of the wrong length", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination = tapeByNAA("6001405f3a1b2c3")
		}), fields: []string{"spec.destination.device.naa"}},
		{name: "naa with a 0x prefix", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination = tapeByNAA("0x6001405f3a1b2c")
		}), fields: []string{"spec.destination.device.naa"}},
		{name: "naa not hex", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination = tapeByNAA("6001405g3a1b2c3d")
		}), fields: []string{"spec.destination.device.naa"}},
		{name: "disk with a tape file", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Source.TapeFile = proto.Uint32(0)
		}), fields: []string{"spec.source.tape_file"}},
		{name: "tape with lba and blocks", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Destination.Lba, s.Destination.Blocks = 1, 2
		}), fields: []string{"spec.destination.lba", "spec.destination.blocks"}},
		{name: "empty segment", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Segments = []*ferryv1.Segment{{Length: 1}, {SourceOffset: 5}}
		}), fields: []string{"spec.segments[1].length"}},
		{name: "segment wraps around", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Segments = []*ferryv1.Segment{{SourceOffset: math.MaxUint64, DestinationOffset: math.MaxUint64 - 1, Length: 2}}
		}), fields: []string{"spec.segments[0].source_offset", "spec.segments[0].destination_offset"}},
		{name: "nil segment", spec: specWith(func(s *ferryv1.JobSpec) {
			s.Segments = []*ferryv1.Segment{nil}
		}), fields: []string{"spec.segments[0]"}},
		{name: "several violations in field order", spec: &ferryv1.JobSpec{
			Name:        strings.Repeat("n", maxJobNameChars+1),
			Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Lba: 1},
			Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, TapeFile: proto.Uint32(3), Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: "x"}}},
		}, fields: []string{
			"spec.name", "spec.source.lba", "spec.source.device",
			"spec.destination.tape_file", "spec.destination.device.naa",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateSpec(tc.spec)
			var fields []string
			for _, v := range got {
				fields = append(fields, v.Field)
				if v.Description == "" {
					t.Errorf("violation of %s has no description", v.Field)
				}
			}
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("violated fields = %q, want %q\n%v", fields, tc.fields, got)
			}
		})
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"", 0},
		{"retry-7f3a", 0},
		{strings.Repeat("k", maxIdempotencyKeyLen), 0},
		{strings.Repeat("k", maxIdempotencyKeyLen+1), 1},
	}
	for _, tc := range tests {
		if got := ValidateIdempotencyKey(tc.key); len(got) != tc.want {
			t.Errorf("ValidateIdempotencyKey(%d bytes) = %v, want %d violations", len(tc.key), got, tc.want)
		}
	}
}

func TestValidationErrorExposesViolations(t *testing.T) {
	r := New().Apply(1, submitCmd(0, "", "", nil))
	var ve *ValidationError
	if !errors.As(r.Err, &ve) {
		t.Fatalf("Err = %v, want a *ValidationError", r.Err)
	}
	want := []FieldViolation{{"job_id", "required"}, {"spec", "required"}}
	if !slices.Equal(ve.Violations, want) {
		t.Errorf("violations = %v, want %v", ve.Violations, want)
	}
	if got, wantText := r.Err.Error(), "invalid argument: job_id: required; spec: required"; got != wantText {
		t.Errorf("Error() = %q, want %q", got, wantText)
	}
}
