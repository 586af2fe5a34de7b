package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// SampleSpec is a valid disk-to-tape job of about 200 bytes, numbered i so
// that jobs can be told apart; tests, the demo and the benchmark submit it.
// Its extent is the (i mod sampleExtents)th of the sample disk, so that any
// i is valid (a benchmark's client submits thousands).
func SampleSpec(i int) *ferryv1.JobSpec {
	return &ferryv1.JobSpec{
		Name: fmt.Sprintf("nightly backup of database volume db01, extent %06d, to the offsite LTO tape pool", i),
		Source: &ferryv1.Endpoint{
			Kind:   ferryv1.DeviceKind_DEVICE_KIND_DISK,
			Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: SampleDisk}},
			Lba:    uint64(i%sampleExtents) * 2048,
			Blocks: 2048,
		},
		Destination: &ferryv1.Endpoint{
			Kind:   ferryv1.DeviceKind_DEVICE_KIND_TAPE,
			Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: SampleTape}},
		},
		// Two extents of the range; a tape destination is written in order, so
		// its offsets are 0 (anything else is refused at submit).
		Segments: []*ferryv1.Segment{
			{SourceOffset: 0, DestinationOffset: 0, Length: 512 << 10},
			{SourceOffset: 512 << 10, DestinationOffset: 0, Length: 512 << 10},
		},
		Options: &ferryv1.JobOptions{Priority: 5, BwlimitBytesPerSecond: 200 << 20, Verify: true, CheckpointIntervalBytes: 64 << 20},
	}
}

// The devices SampleSpec names; RegisterSampleDevices creates them.
const (
	SampleDisk    = "db01"
	SampleTape    = "A00001L9"
	SampleLibrary = "vault"
	// sampleDiskBlocks covers every LBA range SampleSpec uses; the file
	// is sparse.
	sampleExtents    = 1000
	sampleDiskBlocks = sampleExtents * 2048
)

// RegisterSampleDevices creates, through the named node, the disk, library
// and cartridge that SampleSpec names, with their files in the cluster's dir.
func (c *Cluster) RegisterSampleDevices(ctx context.Context, node string) error {
	conn, err := c.Conn(node)
	if err != nil {
		return err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	return retryUnavailable(ctx, func() error {
		if _, err := dev.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: SampleDisk, Path: filepath.Join(c.cfg.Dir, SampleDisk+".img"),
			SizeBytes: sampleDiskBlocks * 512, BlockSize: 512}); err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
		if _, err := dev.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: SampleLibrary, Dir: filepath.Join(c.cfg.Dir, SampleLibrary),
			Slots: 8, Drives: 2, CartridgeCapacityBytes: 8 << 30}); err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
		if _, err := dev.LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: SampleLibrary, Slot: 1, Barcode: SampleTape}); err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
		return nil
	})
}

// retryUnavailable calls f until it succeeds, fails with another code than
// UNAVAILABLE, or ctx ends: a cluster may be between leaders.
func retryUnavailable(ctx context.Context, f func() error) error {
	for {
		err := f()
		if status.Code(err) != codes.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
