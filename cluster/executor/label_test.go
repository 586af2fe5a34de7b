package executor

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// TestExtendedCopyNeverWritesOverALabel: an EXTENDED COPY starts at the
// beginning of each cartridge, so a list that writes before spacing past
// the label would replace the cartridge's VOL1 label (a tape image copy
// wrote another cartridge's label onto it, its files gone and its image
// naming another volume). Such a write fails the job with DATA PROTECT and
// leaves the image as it was; one positioned past the label writes.
func TestExtendedCopyNeverWritesOverALabel(t *testing.T) {
	naa := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	disk := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceBlock, NAA: naa("3000000000000001"), BlockLength: 512}
	dst := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceStream, NAA: naa("3000000000000009")}
	src := xcopy.TargetDescriptor{DeviceType: xcopy.DeviceStream, NAA: naa("300000000000000a")}
	write := xcopy.Segment{Type: xcopy.BlockToStream, Src: 0, Dst: 1, StreamLength: 64 << 10, Blocks: 128}
	for _, tc := range []struct {
		name     string
		targets  []xcopy.TargetDescriptor
		segments []xcopy.Segment
		refused  bool
	}{
		{"block→stream at the beginning", []xcopy.TargetDescriptor{disk, dst}, []xcopy.Segment{write}, true},
		{"filemarks at the beginning", []xcopy.TargetDescriptor{disk, dst},
			[]xcopy.Segment{{Type: xcopy.WriteFilemarks, Dst: 1, Filemarks: 1}}, true},
		{"block→stream over the label's filemark", []xcopy.TargetDescriptor{disk, dst},
			[]xcopy.Segment{{Type: xcopy.Locate, Dst: 1, LocateBlock: 1}, write}, true},
		{"tape image copy at the beginning", []xcopy.TargetDescriptor{src, dst},
			[]xcopy.Segment{{Type: xcopy.TapeImageCopy, Src: 0, Dst: 1}}, true},
		{"block→stream past the label", []xcopy.TargetDescriptor{disk, dst},
			[]xcopy.Segment{{Type: xcopy.Space, Dst: 1, SpaceCode: xcopy.SpaceEndOfData}, write}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, clusterOptions{})
			f.addCartridge(t, "B00001L9", "300000000000000a", 2)
			run(t, f.node("n1"), Config{})
			before, err := os.ReadFile(f.tape)
			if err != nil {
				t.Fatal(err)
			}
			list, err := (&xcopy.ParameterList{Targets: tc.targets, Segments: tc.segments}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			f.submitSpec(t, "j", &ferryv1.JobSpec{XcopyParameterList: list})
			if !tc.refused {
				f.waitState(t, "j", ferryv1.JobState_JOB_STATE_SUCCEEDED)
				after, err := os.ReadFile(f.tape)
				if err != nil || !bytes.HasPrefix(after, before) || len(after) <= len(before) {
					t.Fatalf("a write past the label did not append to the image (%v)", err)
				}
				return
			}
			j := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_FAILED)
			if msg := j.GetError().GetMessage(); !strings.Contains(msg, "label") {
				t.Errorf("error %q does not say the label would be overwritten", msg)
			}
			sd, err := sense.Parse(j.GetError().GetSense())
			if err != nil || sd.Key != sense.DataProtect {
				t.Errorf("sense %v (%v), want DATA PROTECT", sd, err)
			}
			if after, err := os.ReadFile(f.tape); err != nil || !bytes.Equal(after, before) {
				t.Fatalf("the cartridge image changed (%v)", err)
			}
		})
	}
}
