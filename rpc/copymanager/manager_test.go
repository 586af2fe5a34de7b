package copymanager

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// fakeNode applies proposals straight to a state machine and wakes job
// watchers after each one, as a one-node cluster would.
type fakeNode struct {
	mu      sync.Mutex
	fsm     *fsm.FSM
	changed chan struct{}
	// onSubmit runs, outside the lock, after a job is submitted: the test's
	// stand-in for the scheduler and a mover.
	onSubmit func(id string)
}

func newFakeNode(t *testing.T) *fakeNode {
	f := &fakeNode{fsm: fsm.New(), changed: make(chan struct{})}
	f.fsm.AddNode(1, &ferryv1.NodeInfo{Name: "n1", RaftId: 1, Site: "east", Mover: true})
	for i, naa := range []string{"3000000000000001", "3000000000000002"} {
		f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
			Name: []string{"db01", "db02"}[i], Naa: naa, Path: "/luns/" + naa, SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	}
	return f
}

func (f *fakeNode) setOnSubmit(hook func(id string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onSubmit = hook
}

func (f *fakeNode) FSM() *fsm.FSM                          { return f.fsm }
func (f *fakeNode) LinearizableRead(context.Context) error { return nil }

func (f *fakeNode) WatchJob(string) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed, func() {}
}

func (f *fakeNode) Propose(_ context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	f.mu.Lock()
	cmd.Time, cmd.Node = timestamppb.Now(), "n1"
	res := f.fsm.Apply(f.fsm.AppliedIndex()+1, cmd)
	close(f.changed)
	f.changed = make(chan struct{})
	hook := f.onSubmit
	f.mu.Unlock()
	if sub := cmd.GetSubmitJob(); sub != nil && res.Err == nil && !res.Existing && hook != nil {
		go hook(res.Job.GetId())
	}
	return res, nil
}

func (f *fakeNode) must(t *testing.T, cmd *ferryv1.Command) fsm.Result {
	t.Helper()
	res, _ := f.Propose(context.Background(), cmd)
	if res.Err != nil {
		t.Fatalf("%v: %v", cmd.GetOp(), res.Err)
	}
	return res
}

// runs plays the scheduler and a mover: the job is placed, started and
// ended as the test says, once release is closed.
func (f *fakeNode) runs(release <-chan struct{}, finish func(id string, epoch uint64) *ferryv1.FinishJobOp) func(string) {
	return func(id string) {
		placed, _ := f.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_PlaceJob{PlaceJob: &ferryv1.PlaceJobOp{JobId: id, Node: "n1"}}})
		epoch := placed.Job.GetEpoch()
		<-release
		f.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_FinishJob{FinishJob: finish(id, epoch)}})
	}
}

func succeed(id string, epoch uint64) *ferryv1.FinishJobOp {
	return &ferryv1.FinishJobOp{JobId: id, Epoch: epoch, State: ferryv1.JobState_JOB_STATE_SUCCEEDED, Result: &ferryv1.JobResult{
		Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Bytes: 4096,
		Segments: []*ferryv1.SegmentResult{{Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Bytes: 4096}}}}
}

func failUnreachable(id string, epoch uint64) *ferryv1.FinishJobOp {
	return &ferryv1.FinishJobOp{JobId: id, Epoch: epoch, State: ferryv1.JobState_JOB_STATE_FAILED, Error: &ferryv1.JobError{
		Message: "copy target not reachable", Sense: sense.New(sense.CopyAborted, sense.CopyTargetNotReachable).Fixed()}}
}

// list is a one-segment block→block parameter list between the two disks.
func list(t *testing.T, id byte, usage xcopy.ListIDUsage) []byte {
	t.Helper()
	pl := &xcopy.ParameterList{ListID: id, ListIDUsage: usage,
		Targets: []xcopy.TargetDescriptor{
			{DeviceType: xcopy.DeviceBlock, NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 1}, BlockLength: 512},
			{DeviceType: xcopy.DeviceBlock, NAA: []byte{0x30, 0, 0, 0, 0, 0, 0, 2}, BlockLength: 512},
		},
		Segments: []xcopy.Segment{{Type: xcopy.BlockToBlock, Src: 0, Dst: 1, Blocks: 8}},
	}
	b, err := pl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rcr(action xcopy.ResultsAction, id byte) []byte {
	return xcopy.ReceiveCopyResultsCDB{Action: action, ListID: id, AllocationLength: 1024}.Encode()
}

const initiator = "iqn.1994-05.com.example:host1,i,0x23d000000001"

func TestExtendedCopyRunsAJobAndReportsItsEnd(t *testing.T) {
	f := newFakeNode(t)
	release := make(chan struct{})
	f.setOnSubmit(f.runs(release, succeed))
	m := New(f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	done := make(chan task.Result, 1)
	go func() { done <- m.ExtendedCopy(ctx, initiator, list(t, 7, xcopy.ListIDHeld)) }()

	// While the copy runs: COPY STATUS says so, and the same list
	// identifier is refused. Another I_T nexus (another ISID) has no copy
	// under it: SPC-4 scopes list identifiers to the I_T nexus.
	other := "iqn.1994-05.com.example:host1,i,0x23d000000002"
	waitFor(t, func() bool {
		r := m.ReceiveCopyResults(ctx, initiator, rcr(xcopy.ActionCopyStatus, 7), 1024)
		cs, err := xcopy.DecodeCopyStatus(r.DataIn)
		return r.Status == task.Good && err == nil && cs.Status == xcopy.StatusInProgress
	})
	if r := m.ExtendedCopy(ctx, initiator, list(t, 7, xcopy.ListIDHeld)); r.Status != task.CheckCondition ||
		r.Sense.Key != sense.IllegalRequest || r.Sense.Code() != sense.OperationInProgress {
		t.Fatalf("second copy under list 7 while the first runs: %+v, want OPERATION IN PROGRESS", r)
	}
	if r := m.ReceiveCopyResults(ctx, other, rcr(xcopy.ActionCopyStatus, 7), 1024); r.Status != task.CheckCondition ||
		r.Sense.Key != sense.IllegalRequest || r.Sense.Code() != sense.InvalidFieldInCDB {
		t.Fatalf("COPY STATUS of list 7 through another I_T nexus: %+v, want INVALID FIELD IN CDB", r)
	}
	close(release)
	if r := <-done; r.Status != task.Good {
		t.Fatalf("EXTENDED COPY ended %+v, want GOOD", r)
	}
	r := m.ReceiveCopyResults(ctx, initiator, rcr(xcopy.ActionCopyStatus, 7), 1024)
	cs, err := xcopy.DecodeCopyStatus(r.DataIn)
	if err != nil || cs.Status != xcopy.StatusCompleted || cs.SegmentsProcessed != 1 {
		t.Fatalf("COPY STATUS after the copy: %+v, %v", cs, err)
	}
	// The list identifier is free again.
	f.setOnSubmit(f.runs(closed(), succeed))
	if r := m.ExtendedCopy(ctx, initiator, list(t, 7, xcopy.ListIDHeld)); r.Status != task.Good {
		t.Fatalf("reusing list 7 after the copy: %+v", r)
	}
}

func TestAFailedCopyCarriesItsSense(t *testing.T) {
	f := newFakeNode(t)
	f.setOnSubmit(f.runs(closed(), failUnreachable))
	m := New(f, nil)
	ctx := context.Background()
	r := m.ExtendedCopy(ctx, initiator, list(t, 3, xcopy.ListIDHeld))
	if r.Status != task.CheckCondition || r.Sense.Key != sense.CopyAborted || r.Sense.Code() != sense.CopyTargetNotReachable {
		t.Fatalf("failed copy: %+v, want COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE", r)
	}
	fsd := m.ReceiveCopyResults(ctx, initiator, rcr(xcopy.ActionFailedSegmentDetails, 3), 1024)
	d, err := xcopy.DecodeFailedSegmentDetails(fsd.DataIn)
	if err != nil || d == nil || d.CommandStatus != byte(task.CheckCondition) {
		t.Fatalf("FAILED SEGMENT DETAILS: %+v, %v", d, err)
	}
}

func TestRefusals(t *testing.T) {
	f := newFakeNode(t)
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
		Name: "ro", Naa: "3000000000000003", Path: "/luns/ro", SizeBytes: 1 << 20, BlockSize: 512, ReadOnly: true, Site: "east"}}}})
	// refusedBy edits the one-segment list between db01 and db02.
	refusedBy := func(edit func(*xcopy.ParameterList)) []byte {
		pl, err := xcopy.Decode(list(t, 3, xcopy.ListIDNone), xcopy.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		edit(pl)
		b, err := pl.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m := New(f, nil)
	ctx := context.Background()
	bad := rcr(xcopy.ActionCopyStatus, 1)
	bad[1] = 0x02 // RECEIVE DATA: no held data here
	tests := []struct {
		name string
		run  func() task.Result
		key  sense.Key
		code sense.Code
	}{
		{"a garbled parameter list", func() task.Result { return m.ExtendedCopy(ctx, initiator, []byte{1, 2, 3}) },
			sense.IllegalRequest, 0},
		// The state machine's refusals on the devices a list names reach
		// the initiator with their sense, and no job is left behind.
		{"a destination range past the end of a LUN", func() task.Result {
			return m.ExtendedCopy(ctx, initiator, refusedBy(func(pl *xcopy.ParameterList) { pl.Segments[0].DstLBA = 2045 }))
		}, sense.CopyAborted, sense.NoAdditionalSense},
		{"a write to a read-only disk", func() task.Result {
			return m.ExtendedCopy(ctx, initiator, refusedBy(func(pl *xcopy.ParameterList) { pl.Targets[1].NAA = []byte{0x30, 0, 0, 0, 0, 0, 0, 3} }))
		}, sense.DataProtect, sense.WriteProtected},
		{"status of a list identifier never used", func() task.Result {
			return m.ReceiveCopyResults(ctx, initiator, rcr(xcopy.ActionCopyStatus, 9), 1024)
		}, sense.IllegalRequest, sense.InvalidFieldInCDB},
		{"an unsupported service action", func() task.Result { return m.ReceiveCopyResults(ctx, initiator, bad, 1024) },
			sense.IllegalRequest, sense.InvalidFieldInCDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.run()
			if r.Status != task.CheckCondition || r.Sense == nil || r.Sense.Key != tt.key || (tt.code != 0 && r.Sense.Code() != tt.code) {
				t.Fatalf("got %+v, want CHECK CONDITION %v %v", r, tt.key, tt.code)
			}
			if jobs, _ := f.fsm.Jobs(fsm.Query{}); len(jobs) > 0 {
				t.Fatalf("a refused command left job %v", jobs[0])
			}
		})
	}
}

func TestOperatingParametersNeedNoCopy(t *testing.T) {
	m := New(newFakeNode(t), nil)
	r := m.ReceiveCopyResults(context.Background(), initiator, rcr(xcopy.ActionOperatingParameters, 0), 1024)
	op, err := xcopy.DecodeOperatingParameters(r.DataIn)
	if r.Status != task.Good || err != nil || op.MaxTargetDescriptors == 0 {
		t.Fatalf("OPERATING PARAMETERS: %+v, %v", op, err)
	}
}

func closed() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestExtendedCopyToAReservedLUN: a copy into a LUN an initiator reserved
// would wait for the release; the command is refused at once with
// RESERVATION CONFLICT and no job is left behind. Reading it is fine.
func TestExtendedCopyToAReservedLUN(t *testing.T) {
	f := newFakeNode(t)
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_Reserve{Reserve: &ferryv1.ReserveOp{
		Disk: "db02", Nexus: &ferryv1.PRNexus{Initiator: "iqn.1994-05.com.example:other,i,0x1", TargetPort: 1}, Cdb: []byte{0x16, 0, 0, 0, 0, 0}}}})
	m := New(f, nil)
	if r := m.ExtendedCopy(context.Background(), initiator, list(t, 4, xcopy.ListIDNone)); r.Status != task.ReservationConflict {
		t.Fatalf("copy into a reserved LUN: %+v, want RESERVATION CONFLICT", r)
	}
	if jobs, _ := f.fsm.Jobs(fsm.Query{}); len(jobs) > 0 {
		t.Fatalf("a refused command left job %v", jobs[0])
	}
}
