package main

import (
	"strings"
	"testing"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func TestStreamsSpec(t *testing.T) {
	src, _ := parseEndpoint("disk:db01")
	tests := []struct {
		dst     string
		streams int
		wantN   uint32
		given   []string
		wantErr string
	}{
		{dst: "tape:A1,A2,A3", wantN: 3, given: []string{"A1", "A2", "A3"}},
		{dst: "tape:A1,A2", streams: 2, wantN: 2, given: []string{"A1", "A2"}},
		{dst: "disk:db02", streams: 4, wantN: 4},
		{dst: "disk:db02", wantN: 0},
		{dst: "tape:A1,A2", streams: 3, wantErr: "one cartridge per stream"},
		{dst: "tape:A1#2,A2", wantErr: "name no #FILE"},
		{dst: "disk:db02", streams: 65, wantErr: "want 1 to 64"},
	}
	for _, tt := range tests {
		dst, given, n, err := streamsSpec(src, tt.dst, tt.streams)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s -streams %d: err %v, want …%s…", tt.dst, tt.streams, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n != tt.wantN || len(given) != len(tt.given) || dst == nil {
			t.Errorf("%s -streams %d: n %d given %v err %v", tt.dst, tt.streams, n, given, err)
			continue
		}
		for i, g := range given {
			if g.GetDestination().GetDevice().GetName() != tt.given[i] || g.GetSource() != nil {
				t.Errorf("%s: stream %d = %v", tt.dst, i+1, g)
			}
		}
	}
}

func TestRestoreSpecs(t *testing.T) {
	file := func(n uint32, job string) *ferryv1.TapeFile { return &ferryv1.TapeFile{Number: n, JobId: job} }
	j := &ferryv1.Job{Id: "p", State: ferryv1.JobState_JOB_STATE_SUCCEEDED, Result: &ferryv1.JobResult{Streams: []*ferryv1.StreamResult{
		{Index: 1, JobId: "p-s1", Source: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Lba: 100, Blocks: 50},
			TapeWrites: []*ferryv1.TapeWrite{{Barcode: "A1", Files: []*ferryv1.TapeFile{file(3, "p-s1")}}}},
		{Index: 2, JobId: "p-s2", Source: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Lba: 150, Blocks: 49},
			TapeWrites: []*ferryv1.TapeWrite{{Barcode: "A2", Files: []*ferryv1.TapeFile{{Number: 1, Incomplete: true}, file(2, "p-s2")}}}},
	}}}
	dst, _ := parseEndpoint("disk:db09@1000")
	spec, given, err := restoreSpecs(j, dst)
	if err != nil {
		t.Fatal(err)
	}
	if spec.GetStreams() != 2 || len(given) != 2 {
		t.Fatalf("spec %v given %v", spec, given)
	}
	want := []string{"tape:A1#3 → disk:db09@1000+50", "tape:A2#2 → disk:db09@1050+49"}
	for i, g := range given {
		if got := endpointArg(g.GetSource()) + " → " + endpointArg(g.GetDestination()); got != want[i] {
			t.Errorf("stream %d: %s, want %s", i+1, got, want[i])
		}
	}
	j.Result.Streams = nil
	if _, _, err := restoreSpecs(j, dst); err == nil || !strings.Contains(err.Error(), "neither a multi-stream copy") {
		t.Fatalf("single-stream job: %v", err)
	}
}

// A copy that spanned cartridges restores as one stream per volume, each
// part at its offset; one volume is an ordinary copy of its tape file.
func TestRestoreVolumes(t *testing.T) {
	j := &ferryv1.Job{Id: "p", State: ferryv1.JobState_JOB_STATE_SUCCEEDED, Result: &ferryv1.JobResult{Volumes: []*ferryv1.TapeVolume{
		{Volume: 1, Barcode: "A1", File: 3, Bytes: 1 << 20},
		{Volume: 2, Barcode: "A2", File: 1, Bytes: 1<<20 + 512, Offset: 1 << 20},
	}}}
	dst, _ := parseEndpoint("disk:db09@1000")
	spec, given, err := restoreVolumes(j, dst, 512)
	if err != nil {
		t.Fatal(err)
	}
	if spec.GetStreams() != 2 || len(given) != 2 {
		t.Fatalf("spec %v given %v", spec, given)
	}
	want := []string{"tape:A1#3 → disk:db09@1000+2048", "tape:A2#1 → disk:db09@3048+2049"}
	for i, g := range given {
		if got := endpointArg(g.GetSource()) + " → " + endpointArg(g.GetDestination()); got != want[i] {
			t.Errorf("volume %d: %s, want %s", i+1, got, want[i])
		}
	}
	if _, _, err := restoreVolumes(j, dst, 4096<<10); err == nil || !strings.Contains(err.Error(), "inside a") {
		t.Errorf("a part inside a block: %v", err)
	}
	withBlocks, _ := parseEndpoint("disk:db09@1000+5")
	if _, _, err := restoreVolumes(j, withBlocks, 512); err == nil {
		t.Error("a restore with +BLOCKS was accepted")
	}
	j.Result.Volumes = j.Result.Volumes[:1]
	spec, given, err = restoreVolumes(j, dst, 512)
	if err != nil || given != nil || spec.GetStreams() != 0 || endpointArg(spec.GetSource()) != "tape:A1#3" {
		t.Fatalf("one volume: %v %v %v", spec, given, err)
	}
}

// A stream that spanned cartridges restores as one copy per volume, inside
// the stream's range.
func TestRestoreSpannedStream(t *testing.T) {
	disk := func(lba, blocks uint64) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}, Lba: lba, Blocks: blocks}
	}
	file := uint32(2)
	j := &ferryv1.Job{Id: "p", State: ferryv1.JobState_JOB_STATE_SUCCEEDED, Result: &ferryv1.JobResult{Streams: []*ferryv1.StreamResult{
		{Index: 1, JobId: "s1", Source: disk(0, 100), Bytes: 100 * 512, TapeWrites: []*ferryv1.TapeWrite{{Barcode: "A1", FromFile: file,
			Files: []*ferryv1.TapeFile{{Number: file, JobId: "s1"}}}}},
		{Index: 2, JobId: "s2", Source: disk(100, 100), Bytes: 100 * 512, Volumes: []*ferryv1.TapeVolume{
			{Volume: 1, Barcode: "A2", File: 1, Bytes: 60 * 512},
			{Volume: 2, Barcode: "A3", File: 4, Bytes: 40 * 512, Offset: 60 * 512},
		}},
	}}}
	dst, _ := parseEndpoint("disk:db09@1000")
	spec, given, err := restoreSpecs(j, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tape:A1#2 → disk:db09@1000+100", "tape:A2#1 → disk:db09@1100+60", "tape:A3#4 → disk:db09@1160+40"}
	if spec.GetStreams() != uint32(len(want)) || len(given) != len(want) {
		t.Fatalf("spec %v given %v", spec, given)
	}
	for i, g := range given {
		if got := endpointArg(g.GetSource()) + " → " + endpointArg(g.GetDestination()); got != want[i] {
			t.Errorf("part %d: %s, want %s", i+1, got, want[i])
		}
	}
}
