package main

import (
	"testing"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

const (
	sumA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sumB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

// catalogFiles is cartridge A00001L9's catalog in the fake registry: two
// files of job j-3, one nobody reported, and one cut off.
func catalogFiles() []*ferryv1.TapeFile {
	return []*ferryv1.TapeFile{
		{Number: 1, Bytes: 4 << 20, Records: 16, Sha256: sumA, JobId: "j-3", WrittenAt: ts(100)},
		{Number: 2, Incomplete: true},
		{Number: 3, Bytes: 4 << 20, Records: 16, Sha256: sumB, JobId: "j-4", WrittenAt: ts(200)},
		{Number: 4, Bytes: 1 << 20, Records: 4, Sha256: sumA, JobId: "j-5", WrittenAt: ts(300), Incomplete: true},
	}
}

// landedJobs are finished copies Get finds (job list does not show them).
func landedJobs() []*ferryv1.Job {
	toTape := func(id string, st ferryv1.JobState) *ferryv1.Job {
		return &ferryv1.Job{
			Id: id,
			Spec: &ferryv1.JobSpec{
				Name:        "db01 → A00001L9",
				Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}},
				Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}}},
				Options:     &ferryv1.JobOptions{},
			},
			State:        st,
			Owner:        "node-1",
			Epoch:        40,
			Progress:     &ferryv1.JobProgress{BytesTotal: 4 << 20, BytesDone: 4 << 20, SegmentsTotal: 4, SegmentsDone: 4},
			CreatedAt:    ts(190),
			UpdatedAt:    ts(200),
			CreatedIndex: 38,
			SubmittedVia: "node-1",
		}
	}
	ok := toTape("j-4", ferryv1.JobState_JOB_STATE_SUCCEEDED)
	ok.StateReason = "succeeded on node-1"
	ok.Result = &ferryv1.JobResult{Sha256: sumB, Bytes: 4 << 20, TapeWrites: []*ferryv1.TapeWrite{{
		Barcode: "A00001L9", FromFile: 3, UsedBytes: 8<<20 + 1500,
		Files: []*ferryv1.TapeFile{{Number: 3, Bytes: 4 << 20, Records: 16, Sha256: sumB, JobId: "j-4"}},
	}}}
	cut := toTape("j-5", ferryv1.JobState_JOB_STATE_FAILED)
	cut.StateReason = "segment 1: write tape:A00001L9: end of medium"
	cut.Error = &ferryv1.JobError{Message: cut.StateReason, TapeWrites: []*ferryv1.TapeWrite{{
		Barcode: "A00001L9", FromFile: 4, UsedBytes: 12<<20 + 2140,
		Files: []*ferryv1.TapeFile{{Number: 4, Bytes: 1 << 20, Records: 4, Sha256: sumA, JobId: "j-5", Incomplete: true}},
	}}}
	return []*ferryv1.Job{ok, cut}
}

// TestCatalogCommandsGolden: tape files, the catalog columns of tape list,
// and where a finished copy's data landed in job get.
func TestCatalogCommandsGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"tape_files", []string{"tape", "files", "A00001L9"}},
		{"tape_files_empty", []string{"tape", "files", "B00001L9"}},
		{"tape_files_json", []string{"tape", "files", "A00001L9", "-o", "json"}},
		{"tape_files_unknown", []string{"tape", "files", "Q00001L9"}},
		{"tape_files_missing", []string{"tape", "files"}},
		{"job_get_landed", []string{"job", "get", "j-4"}},
		{"job_get_landed_failed", []string{"job", "get", "j-5"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			checkGolden(t, tt.golden, r.String())
		})
	}
}
