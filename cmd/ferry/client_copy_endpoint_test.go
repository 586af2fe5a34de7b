package main

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/proto/ferryv1"
	scsixcopy "github.com/ferry-san/ferry/scsi/xcopy"
)

func TestParseEndpoint(t *testing.T) {
	file := func(n uint32) *uint32 { return &n }
	disk := func(name string, lba, blocks uint64) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}, Lba: lba, Blocks: blocks}
	}
	tape := func(name string, f *uint32) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}, TapeFile: f}
	}
	naaDisk := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: "6001405f3a1b2c3d6001405f3a1b2c3d"}}, Lba: 7}
	naaTape := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: "3f00000000000004"}}, TapeFile: file(0)}
	tests := []struct {
		in      string
		want    *ferryv1.Endpoint
		wantErr string // part of the error; the grammar is always checked
	}{
		{in: "disk:db01", want: disk("db01", 0, 0)},
		{in: "disk:db01@2048", want: disk("db01", 2048, 0)},
		{in: "disk:db01@2048+65536", want: disk("db01", 2048, 65536)},
		{in: "disk:db02@0", want: disk("db02", 0, 0)},
		{in: "disk:db01@18446744073709551615+1", want: disk("db01", 1<<64-1, 1)},
		{in: "disk:vol:with:colons", want: disk("vol:with:colons", 0, 0)},
		{in: "disk:NAA.6001405F3A1B2C3D6001405F3A1B2C3D@7", want: naaDisk},
		{in: "disk:naa", want: disk("naa", 0, 0)},
		{in: "tape:A00001L9", want: tape("A00001L9", nil)},
		{in: "tape:A00001L9#1", want: tape("A00001L9", file(1))},
		{in: "tape:naa.3f00000000000004#0", want: naaTape},
		{in: "tape:pool:east-daily", want: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Pool: "east-daily"}},
		{in: "tape:pool:", wantErr: "tape:pool:POOL"},
		{in: "tape:pool:east#1", wantErr: "without a file"},
		{in: "", wantErr: "missing disk: or tape:"},
		{in: "db01", wantErr: "missing disk: or tape:"},
		{in: "Disk:db01", wantErr: `unknown device kind "Disk"`},
		{in: "lun:db01", wantErr: `unknown device kind "lun"`},
		{in: "disk:", wantErr: "missing device name"},
		{in: "disk:@0", wantErr: "missing device name"},
		{in: "tape:#1", wantErr: "missing device name"},
		{in: "disk:db01@", wantErr: "LBA missing"},
		{in: "disk:db01@x", wantErr: `LBA "x" is not a decimal number`},
		{in: "disk:db01@-1", wantErr: `LBA "-1" is not a decimal number`},
		{in: "disk:db01@0x10", wantErr: `LBA "0x10" is not a decimal number`},
		{in: "disk:db01@18446744073709551616", wantErr: "LBA \"18446744073709551616\" is too large"},
		{in: "disk:db01@0+", wantErr: "BLOCKS missing"},
		{in: "disk:db01@0+0", wantErr: "BLOCKS must be at least 1"},
		{in: "disk:db01@0+8+8", wantErr: `BLOCKS "8+8" is not a decimal number`},
		{in: "disk:db01+8", wantErr: "NAME@LBA+BLOCKS"},
		{in: "disk:db01#1", wantErr: "NAME@LBA+BLOCKS"},
		{in: "tape:A00001L9#", wantErr: "FILE missing"},
		{in: "tape:A00001L9#one", wantErr: `FILE "one" is not a decimal number`},
		{in: "tape:A00001L9#4294967296", wantErr: "too large"},
		{in: "tape:A00001L9@5", wantErr: "a tape takes no LBA range"},
		{in: "disk:naa.12", wantErr: "want 16 or 32 hexadecimal digits"},
		{in: "disk:naa.zz00000000000000", wantErr: "want 16 or 32 hexadecimal digits"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseEndpoint(tt.in)
			if tt.wantErr != "" {
				var ue usageError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), endpointGrammar) {
					t.Fatalf("parseEndpoint(%q) = %v, %v; want an error with %q and the grammar", tt.in, got, err, tt.wantErr)
				}
				if !errors.As(err, &ue) {
					t.Errorf("error %v is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseEndpoint(%q): %v", tt.in, err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("parseEndpoint(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseBandwidth(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "80MiB/s", want: 80 << 20},
		{in: "100MB/s", want: 100e6},
		{in: "1GiB", want: 1 << 30},
		{in: "1048576", want: 1 << 20},
		{in: "0", want: 0},
		{in: "fast", wantErr: "want bytes per second, such as 80MiB/s"},
		{in: "80MiB/h", wantErr: "want bytes per second, such as 80MiB/s"},
		{in: "1.1B/s", wantErr: "not a whole number of bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBandwidth(tt.in)
			checkParsed(t, "parseBandwidth", tt.in, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkParsed(t *testing.T, fn, in string, got uint64, err error, want uint64, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s(%q) = %d, %v; want an error with %q", fn, in, got, err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Errorf("%s(%q) = %d, %v; want %d", fn, in, got, err, want)
	}
}

// TestEndpointArgRoundTrip checks that listings write endpoints in the
// syntax ferry copy reads back.
func TestEndpointArgRoundTrip(t *testing.T) {
	for _, s := range []string{"disk:db01", "disk:db01@2048", "disk:db01@0+8", "disk:naa.3f00000000000001@7+1",
		"tape:A00001L9", "tape:A00001L9#0", "tape:A00001L9#3", "tape:pool:east-daily"} {
		e, err := parseEndpoint(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := endpointArg(e); got != s {
			t.Errorf("endpointArg(parseEndpoint(%q)) = %q", s, got)
		}
	}
}

func TestJobEndpointsAndWrites(t *testing.T) {
	xcopy := &ferryv1.Job{Spec: &ferryv1.JobSpec{XcopyParameterList: []byte{1}}, Progress: &ferryv1.JobProgress{SegmentsTotal: 12}}
	if src, dst := jobEndpointsText(xcopy); src != "xcopy (12 segments)" || dst != "-" {
		t.Errorf("xcopy job: %q %q", src, dst)
	}
	// A queued job has no progress yet: the list itself counts.
	list, err := (&scsixcopy.ParameterList{
		Targets: []scsixcopy.TargetDescriptor{{DeviceType: scsixcopy.DeviceStream, NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 1}}},
		Segments: []scsixcopy.Segment{{Type: scsixcopy.Space, SpaceCode: scsixcopy.SpaceEndOfData},
			{Type: scsixcopy.WriteFilemarks, Filemarks: 1}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	queued := &ferryv1.Job{Spec: &ferryv1.JobSpec{XcopyParameterList: list}}
	if src, _ := jobEndpointsText(queued); src != "xcopy (2 segments)" {
		t.Errorf("queued xcopy job: %q", src)
	}
	if got := wroteText(xcopy); got != "the devices of its parameter list" {
		t.Errorf("wroteText(xcopy) = %q", got)
	}
	j := &ferryv1.Job{Result: &ferryv1.JobResult{TapeWrites: []*ferryv1.TapeWrite{
		{Barcode: "A00001L9", FromFile: 3, Files: []*ferryv1.TapeFile{{Number: 3}, {Number: 4}, {Number: 5}}},
		{Barcode: "B00001L9", FromFile: 1},
	}}}
	if got, want := wroteText(j), "tape A00001L9 files 3-5, tape B00001L9 from file 1"; got != want {
		t.Errorf("wroteText = %q, want %q", got, want)
	}
	// A copy appended after a cancelled copy's remnant closed that file
	// (no writer) before writing its own: its data is file 5 alone.
	closed := &ferryv1.Job{Id: "j", Spec: &ferryv1.JobSpec{Source: mustEndpoint(t, "disk:db01"), Destination: mustEndpoint(t, "tape:A00001L9")},
		Result: &ferryv1.JobResult{TapeWrites: []*ferryv1.TapeWrite{{Barcode: "A00001L9", FromFile: 4,
			Files: []*ferryv1.TapeFile{{Number: 4, Incomplete: true}, {Number: 5, JobId: "j"}}}}}}
	if got, want := wroteText(closed), "tape A00001L9 file 5"; got != want {
		t.Errorf("wroteText after a remnant = %q, want %q", got, want)
	}
	if got, want := destinationText(closed), "tape A00001L9 file 5"; got != want {
		t.Errorf("destinationText after a remnant = %q, want %q", got, want)
	}
	if got, want := copyName(mustEndpoint(t, "disk:db01@8+8"), mustEndpoint(t, "tape:A00001L9")), "db01 → A00001L9"; got != want {
		t.Errorf("copyName = %q, want %q", got, want)
	}
}

func mustEndpoint(t *testing.T, s string) *ferryv1.Endpoint {
	t.Helper()
	e, err := parseEndpoint(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
