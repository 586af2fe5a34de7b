package fsm

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// `ferry job submit -f job.json` reads a JobSpec with protojson, and the CLI
// documentation points at the files in testdata; these tests keep both honest.

func TestJobSpecGoldenFiles(t *testing.T) {
	tests := []struct {
		file string
		want *ferryv1.JobSpec
	}{
		{
			file: "job_spec.json",
			want: &ferryv1.JobSpec{
				Name:        "nightly db01 to tape A00001L9",
				Source:      diskByName("db01", 2048, 4194304),
				Destination: tapeByNAA("6001405f3a1b2c3d"),
				Segments: []*ferryv1.Segment{
					{SourceOffset: 0, DestinationOffset: 0, Length: 1 << 30},
					{SourceOffset: 1 << 30, DestinationOffset: 1 << 30, Length: 1 << 30},
				},
				Options: &ferryv1.JobOptions{
					Priority:                5,
					BwlimitBytesPerSecond:   200 << 20,
					Verify:                  true,
					CheckpointIntervalBytes: 256 << 20,
				},
			},
		},
		{
			file: "job_spec_xcopy.json",
			want: &ferryv1.JobSpec{
				Name:               "raw EXTENDED COPY parameter list",
				XcopyParameterList: make([]byte, 16),
				Options:            &ferryv1.JobOptions{Priority: 1},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var spec ferryv1.JobSpec
			if err := protojson.Unmarshal(data, &spec); err != nil {
				t.Fatalf("golden file does not parse: %v", err)
			}
			if !proto.Equal(&spec, tc.want) {
				t.Errorf("golden file parses as\n%v\nwant\n%v", &spec, tc.want)
			}
			if v := ValidateSpec(&spec); v != nil {
				t.Errorf("golden file is not a valid job: %v", v)
			}

			out, err := protojson.Marshal(&spec)
			if err != nil {
				t.Fatal(err)
			}
			var back ferryv1.JobSpec
			if err := protojson.Unmarshal(out, &back); err != nil {
				t.Fatalf("re-parse %s: %v", out, err)
			}
			if !proto.Equal(&back, &spec) {
				t.Errorf("protojson round trip changed the spec:\n%v\nwant\n%v", &back, &spec)
			}
		})
	}
}

func TestJobSpecJSONForms(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr bool
		// check inspects a spec that parsed.
		check func(t *testing.T, s *ferryv1.JobSpec)
	}{
		{
			name: "proto field names, numbers for uint64 and enums",
			json: `{"source": {"kind": 1, "device": {"name": "db01"}, "lba": 2048},
			        "destination": {"kind": "DEVICE_KIND_TAPE", "device": {"naa": "6001405f3a1b2c3d"}, "tape_file": 3},
			        "segments": [{"source_offset": 512, "length": 4096}]}`,
			check: func(t *testing.T, s *ferryv1.JobSpec) {
				if s.GetSource().GetLba() != 2048 || s.GetDestination().GetTapeFile() != 3 ||
					s.GetSegments()[0].GetSourceOffset() != 512 || s.GetSource().GetKind() != ferryv1.DeviceKind_DEVICE_KIND_DISK {
					t.Errorf("parsed %v", s)
				}
			},
		},
		{
			// Presence matters: tape file 0 (the label) differs from no file.
			name: "tape file 0 is present",
			json: `{"source": {"kind": "DEVICE_KIND_TAPE", "device": {"name": "A00001L9"}, "tapeFile": 0},
			        "destination": {"kind": "DEVICE_KIND_DISK", "device": {"name": "db01"}}}`,
			check: func(t *testing.T, s *ferryv1.JobSpec) {
				if s.GetSource().TapeFile == nil || s.GetDestination().TapeFile != nil {
					t.Errorf("tape_file presence lost: %v", s)
				}
				if v := ValidateSpec(s); v != nil {
					t.Errorf("violations %v", v)
				}
			},
		},
		{
			name: "tape file on a disk is parsed and then refused by validation",
			json: `{"source": {"kind": "DEVICE_KIND_DISK", "device": {"name": "db01"}, "tapeFile": 0},
			        "destination": {"kind": "DEVICE_KIND_TAPE", "device": {"name": "A00001L9"}}}`,
			check: func(t *testing.T, s *ferryv1.JobSpec) {
				if v := ValidateSpec(s); len(v) != 1 || v[0].Field != "spec.source.tape_file" {
					t.Errorf("violations %v, want spec.source.tape_file", v)
				}
			},
		},
		{name: "a misspelt field is an error, not silently ignored", json: `{"sorce": {}}`, wantErr: true},
		{name: "name and naa together", json: `{"source": {"device": {"name": "a", "naa": "6001405f3a1b2c3d"}}}`, wantErr: true},
		{name: "unknown device kind name", json: `{"source": {"kind": "DEVICE_KIND_FLOPPY"}}`, wantErr: true},
		{name: "negative block count", json: `{"source": {"blocks": -1}}`, wantErr: true},
		{name: "bad base64", json: `{"xcopyParameterList": "***"}`, wantErr: true},
		{name: "not an object", json: `[]`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var spec ferryv1.JobSpec
			err := protojson.Unmarshal([]byte(tc.json), &spec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Unmarshal error = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && tc.check != nil {
				tc.check(t, &spec)
			}
		})
	}
}
