package localcluster

import (
	"fmt"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// SampleSpec is a valid disk-to-tape job of about 200 bytes, numbered i so
// that jobs can be told apart; tests, the demo and the benchmark submit it.
func SampleSpec(i int) *ferryv1.JobSpec {
	tapeFile := uint32(i % 1000)
	return &ferryv1.JobSpec{
		Name: fmt.Sprintf("nightly backup of database volume db01, extent %06d, to the offsite LTO tape pool", i),
		Source: &ferryv1.Endpoint{
			Kind:   ferryv1.DeviceKind_DEVICE_KIND_DISK,
			Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: "6001405f3a1b2c3d6001405f3a1b2c3d"}},
			Lba:    uint64(i) * 2048,
			Blocks: 2048,
		},
		Destination: &ferryv1.Endpoint{
			Kind:     ferryv1.DeviceKind_DEVICE_KIND_TAPE,
			Device:   &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}},
			TapeFile: &tapeFile,
		},
		Segments: []*ferryv1.Segment{
			{SourceOffset: 0, DestinationOffset: 0, Length: 512 << 10},
			{SourceOffset: 512 << 10, DestinationOffset: 512 << 10, Length: 512 << 10},
		},
		Options: &ferryv1.JobOptions{Priority: 5, BwlimitBytesPerSecond: 200 << 20, Verify: true, CheckpointIntervalBytes: 64 << 20},
	}
}
