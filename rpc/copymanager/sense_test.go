package copymanager

import (
	"context"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// A copy that fails while copying ends COPY ABORTED whatever its copy
// target said, and FAILED SEGMENT DETAILS repeats that sense data, naming
// the copy target's own sense for people.
func TestErrorsWhileCopyingAreCopyAborted(t *testing.T) {
	outOfRange := sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(131071)
	outOfRange.FieldPointer = &sense.FieldPointer{CDB: true, BitValid: true, Bit: 7, Byte: 2}
	unreachable := sense.New(sense.CopyAborted, sense.CopyTargetNotReachable)
	unreachable.CommandInfo = 3
	tests := []struct {
		name    string
		err     *ferryv1.JobError
		want    sense.Code
		segment uint64
		text    string // in the FAILED SEGMENT DETAILS rendering
	}{
		{"a copy target's LBA out of range", &ferryv1.JobError{Message: "copy failed", Segment: 2, Sense: outOfRange.Fixed()},
			sense.NoAdditionalSense, 2, "copy target sense: ILLEGAL REQUEST: LOGICAL BLOCK ADDRESS OUT OF RANGE"},
		{"a copy target's medium error", &ferryv1.JobError{Message: "copy failed", Segment: 1, Sense: sense.New(sense.MediumError, sense.UnrecoveredReadError).Fixed()},
			sense.NoAdditionalSense, 1, "copy target sense: MEDIUM ERROR: UNRECOVERED READ ERROR"},
		{"the copy manager's own COPY ABORTED is kept", &ferryv1.JobError{Message: "copy failed", Segment: 3, Sense: unreachable.Fixed()},
			sense.CopyTargetNotReachable, 3, "sense: COPY ABORTED: COPY TARGET DEVICE NOT REACHABLE"},
		{"no sense data", &ferryv1.JobError{Segment: 4, Message: "mover crashed"}, sense.ThirdPartyDeviceFailure, 4, "failed segment: 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNode(t)
			f.setOnSubmit(f.runs(closed(), func(id string, epoch uint64) *ferryv1.FinishJobOp {
				return &ferryv1.FinishJobOp{JobId: id, Epoch: epoch, State: ferryv1.JobState_JOB_STATE_FAILED, Error: tt.err}
			}))
			m := New(f, nil)
			ctx := context.Background()
			r := m.ExtendedCopy(ctx, initiator, list(t, 5, xcopy.ListIDHeld))
			if r.Status != task.CheckCondition || r.Sense.Key != sense.CopyAborted || r.Sense.Code() != tt.want || r.Sense.CommandInfo != tt.segment {
				t.Fatalf("EXTENDED COPY: %+v, want COPY ABORTED %v in segment %d", r.Sense, tt.want, tt.segment)
			}
			if r.Sense.InfoValid || (r.Sense.FieldPointer != nil && !r.Sense.FieldPointer.Segment) {
				t.Fatalf("the copy target's INFORMATION or field pointer leaked: %+v", r.Sense)
			}
			fsd := m.ReceiveCopyResults(ctx, initiator, rcr(xcopy.ActionFailedSegmentDetails, 5), 1024)
			d, err := xcopy.DecodeFailedSegmentDetails(fsd.DataIn)
			if err != nil || d == nil {
				t.Fatalf("FAILED SEGMENT DETAILS: %+v, %v", d, err)
			}
			got, err := sense.Parse(d.Sense)
			if err != nil || got.Key != sense.CopyAborted || got.Code() != tt.want {
				t.Fatalf("FAILED SEGMENT DETAILS sense %+v (%v), want COPY ABORTED %v", got, err, tt.want)
			}
			job, _ := m.latest(keyPrefix(initiator, 5))
			if _, text, err := FailedSegmentDetails(job); err != nil || !strings.Contains(text, tt.text) {
				t.Fatalf("FAILED SEGMENT DETAILS text %q (%v), want %q in it", text, err, tt.text)
			}
		})
	}
}

// The target presents disks only: its copy manager offers the block
// segment types, in VPD 8Fh and OPERATING PARAMETERS alike, and refuses the
// others as unsupported before running anything.
func TestTheTargetOffersBlockSegmentsOnly(t *testing.T) {
	f := newFakeNode(t)
	f.setOnSubmit(func(string) { t.Error("a refused list became a job") })
	m := New(f, nil)
	ctx := context.Background()

	r := m.ReceiveCopyResults(ctx, initiator, rcr(xcopy.ActionOperatingParameters, 0), 1024)
	op, err := xcopy.DecodeOperatingParameters(r.DataIn)
	if err != nil || string(op.Implemented) != "\x02\x07\x0a\xe4" {
		t.Fatalf("implemented descriptors %x (%v), want 02 07 0A E4", op.Implemented, err)
	}
	if want := m.Limits().OperatingParameters(); op.MaxTargetDescriptors != want.MaxTargetDescriptors || op.MaxSegmentDescriptors != want.MaxSegmentDescriptors {
		t.Fatalf("OPERATING PARAMETERS %+v disagree with the limits %+v", op, want)
	}

	for _, st := range []xcopy.SegmentType{xcopy.StreamToStream, xcopy.BlockToStream, xcopy.StreamToBlock, xcopy.InlineToStream} {
		b := list(t, 1, xcopy.ListIDHeld)
		b[xcopyHeaderLen+2*32] = byte(st) // the first segment's DESCRIPTOR TYPE CODE
		r := m.ExtendedCopy(ctx, initiator, b)
		if r.Status != task.CheckCondition || r.Sense.Key != sense.IllegalRequest || r.Sense.Code() != sense.UnsupportedSegmentDescriptor {
			t.Errorf("segment type %v: %+v, want ILLEGAL REQUEST, UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE", st, r.Sense)
		}
	}
}

// xcopyHeaderLen is the parameter list header's length (SPC-4 table 108).
const xcopyHeaderLen = 16

// A list that names a stream device (one of the cluster's cartridges, by
// its NAA designator) may use the tape segment types the target does not
// advertise for its disks.
func TestTapeSegmentsToANamedCartridge(t *testing.T) {
	f := newFakeNode(t)
	f.setOnSubmit(f.runs(closed(), succeed))
	m := New(f, nil)
	pl := &xcopy.ParameterList{ListID: 4, Targets: []xcopy.TargetDescriptor{
		{DeviceType: xcopy.DeviceBlock, NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 1}, BlockLength: 512},
		{DeviceType: xcopy.DeviceStream, NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 9}},
	}, Segments: []xcopy.Segment{{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 512, Blocks: 8}}}
	b, err := pl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r := m.ExtendedCopy(context.Background(), initiator, b); r.Status != task.Good {
		t.Fatalf("disk → cartridge list: %+v, want GOOD", r)
	}
}
