package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/fence"
)

// claimFence claims the fence of the device at path for cluster at epoch,
// as another writer would.
func claimFence(t *testing.T, path, cluster string, epoch uint64) {
	t.Helper()
	fe, err := fence.Open(path, cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	if err := fe.Claim(context.Background(), epoch); err != nil {
		t.Fatal(err)
	}
}

// TestDeviceRefusalFailsTheJob: a job whose destination's fence refuses it
// for good (another cluster's fence, or an epoch no owner of the job had)
// fails with that reason and sense, instead of holding the device; the job
// queued behind it on the same device then runs.
func TestDeviceRefusalFailsTheJob(t *testing.T) {
	tests := []struct {
		name    string
		dst     func(*fixture) (*ferryv1.Endpoint, string)
		cluster string
		epoch   uint64
		want    []string
	}{
		{
			name:    "another cluster's fence on a cartridge, at a lower epoch",
			dst:     func(f *fixture) (*ferryv1.Endpoint, string) { return tapeEP(), f.tape },
			cluster: "other-cluster", epoch: 3,
			want: []string{"fenced by cluster other-cluster (epoch 3), not by this cluster (test-cluster)", "--take-over",
				"the device refused the job"},
		},
		{
			name:    "an epoch of this cluster no owner had, on a disk",
			dst:     func(f *fixture) (*ferryv1.Endpoint, string) { return diskEP("db02"), f.dir + "/db02.img" },
			cluster: "test-cluster", epoch: 1 << 40,
			want: []string{"device claimed by epoch 1099511627776", "no owner of this job ever had that epoch"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, clusterOptions{})
			run(t, f.node("n1"), Config{})
			dst, path := tc.dst(f)
			claimFence(t, path, tc.cluster, tc.epoch)
			// The operator repairs the fence once the first job has
			// failed: the second job's placement is the moment.
			f.setHook(func(_ string, cmd *ferryv1.Command) error {
				places := append([]*ferryv1.PlaceJobOp{cmd.GetPlaceJob()}, cmd.GetPlaceJobs().GetPlaces()...)
				if slices.ContainsFunc(places, func(p *ferryv1.PlaceJobOp) bool { return p.GetJobId() == "j2" }) {
					if err := os.Remove(path + ".fence"); err != nil && !errors.Is(err, os.ErrNotExist) {
						t.Error(err)
					}
				}
				return nil
			})
			f.submit(t, "j1", diskEP("db01"), dst)
			f.submit(t, "j2", diskEP("db01"), dst)

			j1 := f.waitState(t, "j1", ferryv1.JobState_JOB_STATE_FAILED)
			msg := j1.GetError().GetMessage()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("j1's error %q lacks %q", msg, w)
				}
			}
			s, err := sense.Parse(j1.GetError().GetSense())
			if err != nil || s.Key != sense.CopyAborted || s.Code() != sense.CopyTargetNotReachable {
				t.Errorf("j1's sense = %v, %v; want COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE", s, err)
			}
			if j1.GetProgress().GetBytesDone() != 0 {
				t.Errorf("j1 moved %d bytes through a refusing fence", j1.GetProgress().GetBytesDone())
			}
			j2 := f.waitState(t, "j2", ferryv1.JobState_JOB_STATE_SUCCEEDED)
			if got, want := j2.GetResult().GetSha256(), hexSum(f.data); got != want {
				t.Errorf("j2's sha256 %s, want %s", got, want)
			}
		})
	}
}

// TestGoneDeviceFailsTheJob: a destination whose file is gone fails the
// job with the reason; the device is not held.
func TestGoneDeviceFailsTheJob(t *testing.T) {
	f := setup(t, clusterOptions{})
	run(t, f.node("n1"), Config{})
	if err := os.Remove(f.dir + "/db02.img"); err != nil {
		t.Fatal(err)
	}
	f.submit(t, "j", diskEP("db01"), diskEP("db02"))
	j := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_FAILED)
	if msg := j.GetError().GetMessage(); !strings.Contains(msg, "db02.img") || !strings.Contains(msg, "no such file") {
		t.Errorf("error %q does not say the device's file is gone", msg)
	}
}

// TestResizedDiskFailsTheJob: a disk whose file was truncated after it was
// registered copied only what was left of it and succeeded (a copy "to the
// end of the LUN" of 4 MiB moved 1 MiB); one grown would copy more than the
// registry allowed for. Either fails the job, naming both sizes, and
// writes nothing.
func TestResizedDiskFailsTheJob(t *testing.T) {
	for _, size := range []int64{1 << 20, diskSize * 2} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := setup(t, clusterOptions{})
			run(t, f.node("n1"), Config{})
			if err := os.Truncate(f.dir+"/db01.img", size); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(f.dir + "/db02.img")
			if err != nil {
				t.Fatal(err)
			}
			f.submit(t, "j", diskEP("db01"), diskEP("db02"))
			j := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_FAILED)
			if msg := j.GetError().GetMessage(); !strings.Contains(msg, fmt.Sprint(size)) || !strings.Contains(msg, fmt.Sprint(diskSize)) {
				t.Errorf("error %q does not name the file's size and the registered one", msg)
			}
			if after, err := os.ReadFile(f.dir + "/db02.img"); err != nil || !bytes.Equal(after, before) {
				t.Fatalf("the destination changed (%v)", err)
			}
		})
	}
}

// TestSwappedCartridgeImageFailsTheJob: a cartridge's image replaced by
// another cartridge's (a file copied over it, an old backup of the wrong
// volume restored) restored the other cartridge's file 1 as this one's and
// succeeded. The image's VOL1 label must name the cartridge: a copy from
// it or to it fails, naming both volumes, and writes nothing.
func TestSwappedCartridgeImageFailsTheJob(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst *ferryv1.Endpoint
		written  string // the image that must not change
	}{
		{"restore", &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: tapeEP().GetDevice(), TapeFile: proto.Uint32(1)}, diskEP("db02"), "db02.img"},
		{"backup", diskEP("db01"), tapeEP(), barcode + ".tap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, clusterOptions{})
			other := f.addCartridge(t, "B00001L9", "300000000000000a", 2)
			run(t, f.node("n1"), Config{})
			// B00001L9 gets a file 1; A00001L9's image becomes a copy of it.
			f.submit(t, "b", diskEP("db01"), endpoint(ferryv1.DeviceKind_DEVICE_KIND_TAPE, "B00001L9"))
			f.waitState(t, "b", ferryv1.JobState_JOB_STATE_SUCCEEDED)
			f.submit(t, "a", diskEP("db01"), tapeEP())
			f.waitState(t, "a", ferryv1.JobState_JOB_STATE_SUCCEEDED)
			img, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f.tape, img)
			before, err := os.ReadFile(f.dir + "/" + tc.written)
			if err != nil {
				t.Fatal(err)
			}
			f.submit(t, "j", tc.src, tc.dst)
			j := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_FAILED)
			if msg := j.GetError().GetMessage(); !strings.Contains(msg, "B00001") || !strings.Contains(msg, barcode) {
				t.Errorf("error %q does not name the image's volume and the cartridge", msg)
			}
			if after, err := os.ReadFile(f.dir + "/" + tc.written); err != nil || !bytes.Equal(after, before) {
				t.Fatalf("%s changed (%v)", tc.written, err)
			}
		})
	}
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// refusePaths is a PathChecker that refuses the paths it holds.
type refusePaths map[string]bool

func (r refusePaths) Check(path string) error {
	if r[path] {
		return fmt.Errorf("%s: %w", path, errors.New("outside this node's device directories (-device-dirs /san)"))
	}
	return nil
}

// TestDeviceDirsFailTheJob: a copy whose source or destination lies
// outside this node's -device-dirs (a device registered through another
// node, whose directories differ) fails with the reason, naming the
// device and the node; the destination is not opened, claimed or written.
func TestDeviceDirsFailTheJob(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(*fixture) refusePaths
		want   string
	}{
		{"the source", func(f *fixture) refusePaths { return refusePaths{f.dir + "/db01.img": true} }, "disk:db01"},
		{"the destination", func(f *fixture) refusePaths { return refusePaths{f.dir + "/db02.img": true} }, "disk:db02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, clusterOptions{})
			run(t, f.node("n1"), Config{DeviceDirs: tc.refuse(f)})
			f.submit(t, "j", diskEP("db01"), diskEP("db02"))
			j := f.waitState(t, "j", ferryv1.JobState_JOB_STATE_FAILED)
			msg := j.GetError().GetMessage()
			for _, w := range []string{tc.want, "node n1 will not open it", "outside this node's device directories"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			got, err := os.ReadFile(f.dir + "/db02.img")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, make([]byte, diskSize)) {
				t.Error("the destination was written")
			}
			if _, err := os.Stat(f.dir + "/db02.img.fence"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the destination's fence: %v, want none claimed", err)
			}
		})
	}
}
