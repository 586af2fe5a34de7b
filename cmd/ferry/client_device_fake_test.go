package main

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// dataFake adds the data path to fakeServer: DeviceService with a canned
// registry, CopyResults, and a Submit that records the specs it receives
// and answers with job j-9 (whose Watch streams come from fakeServer).
type dataFake struct {
	*fakeServer
	ferryv1.UnimplementedDeviceServiceServer

	dmu      sync.Mutex
	requests []*ferryv1.SubmitJobRequest
	cancels  []*ferryv1.CancelJobRequest
}

// startDataFake serves f, with its JobService, ClusterService and
// DeviceService, on a free loopback port until the test ends.
func startDataFake(t *testing.T, f *dataFake) string {
	t.Helper()
	if f.fakeServer == nil {
		f.fakeServer = &fakeServer{}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f.srv = srv
	ferryv1.RegisterJobServiceServer(srv, f)
	ferryv1.RegisterClusterServiceServer(srv, f)
	ferryv1.RegisterDeviceServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// fieldError is the InvalidArgument status the real server returns for a
// field it refuses.
func fieldError(field, desc string) error {
	st, err := status.New(codes.InvalidArgument, "invalid argument: "+field+": "+desc).WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}},
	})
	if err != nil {
		return err
	}
	return st.Err()
}

func (f *dataFake) Submit(_ context.Context, req *ferryv1.SubmitJobRequest) (*ferryv1.SubmitJobResponse, error) {
	f.dmu.Lock()
	f.requests = append(f.requests, req)
	f.dmu.Unlock()
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetSpec().GetSource().GetDevice().GetName() == "nope" {
		return nil, fieldError("spec.source.device", `no disk named "nope"`)
	}
	job := &ferryv1.Job{Id: "j-9", IdempotencyKey: req.GetIdempotencyKey(), Spec: req.GetSpec(), State: ferryv1.JobState_JOB_STATE_QUEUED}
	if req.GetSpec().GetOptions().GetOverwrite() {
		job.History = []*ferryv1.JobEvent{{State: job.State, Message: "submitted; it replaces 3 files of cartridge A00002L9 (files 1–3)"}}
	}
	if req.GetIdempotencyKey() == "used" {
		// The key's first job copied something else.
		job.Spec = &ferryv1.JobSpec{Name: "db01 → db02", Source: req.GetSpec().GetSource(),
			Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db02"}}}}
	}
	return &ferryv1.SubmitJobResponse{Job: job, Existing: req.GetIdempotencyKey() == "seen" || req.GetIdempotencyKey() == "used"}, nil
}

func (f *dataFake) Cancel(_ context.Context, req *ferryv1.CancelJobRequest) (*ferryv1.Job, error) {
	f.dmu.Lock()
	f.cancels = append(f.cancels, req)
	f.dmu.Unlock()
	return &ferryv1.Job{Id: req.GetId(), State: ferryv1.JobState_JOB_STATE_CANCELLED, StateReason: req.GetReason()}, nil
}

// CopyResults answers for j-9, which failed on a bad parameter list, and
// j-8, which succeeded but whose COPY STATUS data comes out truncated.
func (f *dataFake) CopyResults(_ context.Context, req *ferryv1.CopyResultsRequest) (*ferryv1.CopyResultsResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	const (
		copyStatus = ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_COPY_STATUS
		operating  = ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_OPERATING_PARAMETERS
		failed     = ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_FAILED_SEGMENT_DETAILS
	)
	action := req.GetAction()
	if action == ferryv1.CopyResultsAction_COPY_RESULTS_ACTION_UNSPECIFIED {
		action = copyStatus
	}
	var data []byte
	var err error
	switch {
	case action == operating:
		data, err = xcopy.DefaultLimits().OperatingParameters().Encode()
	case req.GetId() == "j-9" && action == copyStatus:
		data = xcopy.CopyStatus{Status: xcopy.StatusFailed, SegmentsProcessed: 1, Units: xcopy.UnitBytes, TransferCount: 4096}.Encode()
	case req.GetId() == "j-9" && action == failed:
		data, err = xcopy.FailedSegmentDetails{CommandStatus: 0x02, Sense: sense.InvalidParameter(2, 7).Fixed()}.Encode()
	case req.GetId() == "j-8" && action == copyStatus:
		return &ferryv1.CopyResultsResponse{Data: []byte{0, 0, 0, 8, 1}, Text: "copy manager status: completed without errors"}, nil
	case req.GetId() == "j-8" && action == failed:
		data = xcopy.NoFailedSegmentDetails()
	default:
		return nil, status.Errorf(codes.NotFound, "job %q not found", req.GetId())
	}
	if err != nil {
		return nil, err
	}
	return &ferryv1.CopyResultsResponse{Data: data, Text: "the server's rendering"}, nil
}

// Device registry.

func fakeDisks() []*ferryv1.Disk {
	return []*ferryv1.Disk{
		{Name: "db02", Naa: "3a1b2c3d4e5f6071", Path: "/dev/sdb", SizeBytes: 1 << 40, BlockSize: 4096, ReadOnly: true, Site: "east",
			Reservation: &ferryv1.PersistentReservation{Generation: 2, Reserved: true, Type: 1,
				Holder: &ferryv1.PRNexus{Initiator: "iqn.1994-05.com.example:a,i,0x230000000001", TargetPort: 2},
				Registrations: []*ferryv1.PRRegistration{
					{Nexus: &ferryv1.PRNexus{Initiator: "iqn.1994-05.com.example:a,i,0x230000000001", TargetPort: 2}, Key: 0xA},
					{Nexus: &ferryv1.PRNexus{Initiator: "iqn.1994-05.com.example:b,i,0x230000000002", TargetPort: 3}, Key: 0xB},
				}}},
		{Name: "db01", Naa: "3f00000000000001", Path: "/san/east/db01.img", SizeBytes: 1 << 30, BlockSize: 512, Site: "east",
			Thin: true, AllocatedBytes: 300 << 20},
	}
}

func (f *dataFake) CreateDisk(_ context.Context, req *ferryv1.CreateDiskRequest) (*ferryv1.Disk, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	bs := max(req.GetBlockSize(), 512)
	if req.GetSizeBytes()%uint64(bs) != 0 {
		return nil, fieldError("size_bytes", "must be a positive multiple of the block size (512)")
	}
	if req.GetName() == "db01" {
		return nil, status.Errorf(codes.AlreadyExists, "a disk named %q exists", req.GetName())
	}
	return &ferryv1.Disk{Name: req.GetName(), Naa: "3f00000000000002", Path: req.GetPath(), SizeBytes: req.GetSizeBytes(), BlockSize: bs, Site: req.GetSite(),
		Thin: req.GetThin()}, nil
}

func (f *dataFake) AddDisk(_ context.Context, req *ferryv1.AddDiskRequest) (*ferryv1.Disk, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetPath() == "/dev/missing" {
		return nil, fieldError("path", "open /dev/missing: no such file or directory")
	}
	bs := req.GetBlockSize()
	if bs == 0 {
		bs = 512
	}
	return &ferryv1.Disk{Name: req.GetName(), Naa: "3f00000000000003", Path: req.GetPath(), SizeBytes: 8 << 30, BlockSize: bs, ReadOnly: req.GetReadOnly(), Site: req.GetSite()}, nil
}

func (f *dataFake) ListDisks(context.Context, *ferryv1.ListDisksRequest) (*ferryv1.ListDisksResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	return &ferryv1.ListDisksResponse{Disks: fakeDisks()}, nil
}

func fakeLibrary() *ferryv1.Library {
	return &ferryv1.Library{
		Name: "libA", Dir: "/vtl/libA", Site: "east", Slots: 4, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 8 << 30,
		Elements: []*ferryv1.Element{
			{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 2, Barcode: "B00001L9"},
			{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 1, Barcode: "A00001L9", JobId: "s-3",
				NdmpLoad: &ferryv1.NdmpLoad{DmaAddress: "10.0.0.5:41234", Node: "node-2"}},
			{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 0, Barcode: "D00001L9",
				NdmpLoad: &ferryv1.NdmpLoad{DmaAddress: "10.0.0.5:41234", Node: "node-2"}},
			{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1},
			{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1, Barcode: "C00001L9"},
		},
	}
}

func (f *dataFake) CreateLibrary(_ context.Context, req *ferryv1.CreateLibraryRequest) (*ferryv1.Library, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetDrives() == 0 {
		return nil, fieldError("drives", "must be at least 1")
	}
	return &ferryv1.Library{Name: req.GetName(), Dir: req.GetDir(), Site: req.GetSite(), Slots: req.GetSlots(), Drives: req.GetDrives(),
		IeSlots: req.GetIeSlots(), CartridgeCapacityBytes: req.GetCartridgeCapacityBytes(),
		DriveRateBytesPerSecond: req.GetDriveRateBytesPerSecond(), LoadTimeMillis: req.GetLoadTimeMillis(),
		LocateRateBytesPerSecond: req.GetLocateRateBytesPerSecond()}, nil
}

func (f *dataFake) ListLibraries(context.Context, *ferryv1.ListLibrariesRequest) (*ferryv1.ListLibrariesResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	small := &ferryv1.Library{Name: "libB", Dir: "/vtl/libB", Slots: 2, Drives: 1, IeSlots: 1}
	return &ferryv1.ListLibrariesResponse{Libraries: []*ferryv1.Library{small, fakeLibrary()}}, nil
}

func (f *dataFake) Inventory(_ context.Context, req *ferryv1.InventoryRequest) (*ferryv1.Library, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetLibrary() != "libA" {
		return nil, status.Errorf(codes.NotFound, "no library named %q", req.GetLibrary())
	}
	return fakeLibrary(), nil
}

func (f *dataFake) LabelTape(_ context.Context, req *ferryv1.LabelTapeRequest) (*ferryv1.Cartridge, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	if req.GetSlot() == 2 {
		return nil, status.Errorf(codes.FailedPrecondition, "slot 2 of library %s holds B00001L9", req.GetLibrary())
	}
	if len(req.GetBarcode()) != 8 {
		return nil, fieldError("barcode", "want 6 characters of volume serial and 2 of media type, like A00001L9")
	}
	return &ferryv1.Cartridge{
		Barcode: req.GetBarcode(), Library: req.GetLibrary(), Naa: "3f00000000000004", Path: "/vtl/libA/" + req.GetBarcode() + ".tap",
		Location:      &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: req.GetSlot()},
		CapacityBytes: 8 << 30, HomeSlot: req.GetSlot(),
	}, nil
}

func (f *dataFake) ListCartridges(_ context.Context, req *ferryv1.ListCartridgesRequest) (*ferryv1.ListCartridgesResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	all := []*ferryv1.Cartridge{
		{Barcode: "B00001L9", Library: "libA", Naa: "3f00000000000005", CapacityBytes: 8 << 30, HomeSlot: 2, UsedBytes: 92,
			Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 2}},
		{Barcode: "Z00001L9", Library: "libB", Naa: "3f00000000000006", WriteProtected: true,
			Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}},
		{Barcode: "A00001L9", Library: "libA", Naa: "3f00000000000004", CapacityBytes: 8 << 30, HomeSlot: 1,
			Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 1},
			Files:    catalogFiles(), UsedBytes: 12<<20 + 2140},
	}
	var out []*ferryv1.Cartridge
	for _, c := range all {
		c.FileCount = uint32(len(c.GetFiles()))
		if req.GetBarcode() != "" {
			if c.GetBarcode() == req.GetBarcode() {
				return &ferryv1.ListCartridgesResponse{Cartridges: []*ferryv1.Cartridge{c}}, nil
			}
			continue
		}
		if req.GetLibrary() == "" || c.GetLibrary() == req.GetLibrary() {
			c.Files = nil // as the server: listings leave catalogs out
			out = append(out, c)
		}
	}
	if req.GetBarcode() != "" {
		return nil, status.Errorf(codes.NotFound, "no cartridge %s", req.GetBarcode())
	}
	return &ferryv1.ListCartridgesResponse{Cartridges: out}, nil
}

// Hash answers by device: db01 and db02 hold the same bytes, db03 others;
// "nope" is not registered and "slow" answers only when cancelled.
func (f *dataFake) Hash(ctx context.Context, req *ferryv1.HashRequest) (*ferryv1.HashResponse, error) {
	if err := f.admit(); err != nil {
		return nil, err
	}
	const same = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	switch deviceText(req.GetEndpoint().GetDevice()) {
	case "db01", "db02":
		return &ferryv1.HashResponse{Sha256: same, Bytes: 4 << 20}, nil
	case "naa.3f00000000000004":
		return &ferryv1.HashResponse{Sha256: same, Bytes: 4 << 20, Records: 64}, nil
	case "db03":
		return &ferryv1.HashResponse{Sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Bytes: 4 << 20}, nil
	case "slow":
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	default:
		return nil, status.Errorf(codes.NotFound, "no disk named %q", deviceText(req.GetEndpoint().GetDevice()))
	}
}

// Jobs as a copy's Watch stream shows them.

// copyJob is job j-9 (a 4 MiB disk to tape copy) in state s with done bytes
// copied, as the cluster reports it sec seconds after submission.
func copyJob(s ferryv1.JobState, done, total uint64, sec int64, reason string) *ferryv1.Job {
	j := &ferryv1.Job{
		Id: "j-9", State: s, StateReason: reason, Owner: "node-1",
		Progress:  &ferryv1.JobProgress{BytesTotal: total, BytesDone: done, SegmentsTotal: 1},
		CreatedAt: ts(0), UpdatedAt: ts(sec),
		Spec: &ferryv1.JobSpec{
			Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}},
			Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db02"}}},
		},
		History: []*ferryv1.JobEvent{{Time: ts(0), State: ferryv1.JobState_JOB_STATE_QUEUED, Message: "submitted"}},
	}
	if s != ferryv1.JobState_JOB_STATE_QUEUED {
		j.History = append(j.History, &ferryv1.JobEvent{Time: ts(1), State: ferryv1.JobState_JOB_STATE_RUNNING, Node: "node-1"})
	}
	if jobEnded(s) {
		j.History = append(j.History, &ferryv1.JobEvent{Time: ts(sec), State: s, Node: "node-1", Message: reason})
	}
	return j
}

func succeededJob(bytes uint64, sec int64) *ferryv1.Job {
	j := copyJob(ferryv1.JobState_JOB_STATE_SUCCEEDED, bytes, bytes, sec, "done")
	j.Result = &ferryv1.JobResult{Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Bytes: bytes}
	return j
}

func failedJob(done uint64, sec int64, msg string, s *sense.Sense, segment uint32) *ferryv1.Job {
	j := copyJob(ferryv1.JobState_JOB_STATE_FAILED, done, 4<<20, sec, msg)
	j.Error = &ferryv1.JobError{Message: msg, Segment: segment, SegmentBytesDone: done}
	if s != nil {
		j.Error.Sense = s.Fixed()
	}
	return j
}

// toTape returns a copy of the succeeded j as a disk to tape copy that
// wrote file n of barcode.
func toTape(j *ferryv1.Job, barcode string, n uint32) *ferryv1.Job {
	j = proto.Clone(j).(*ferryv1.Job)
	j.Spec.Destination = &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: barcode}}}
	j.Result.TapeWrites = []*ferryv1.TapeWrite{{Barcode: barcode, FromFile: n,
		Files: []*ferryv1.TapeFile{{Number: n, Bytes: j.GetResult().GetBytes(), Sha256: j.GetResult().GetSha256(), JobId: j.GetId()}}}}
	return j
}

// withReason returns a copy of j with another state reason.
func withReason(j *ferryv1.Job, reason string) *ferryv1.Job {
	j = proto.Clone(j).(*ferryv1.Job)
	j.StateReason = reason
	return j
}
