package fsm

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func history(j *ferryv1.Job) string {
	var b strings.Builder
	for _, e := range j.GetHistory() {
		b.WriteString(e.GetMessage() + "\n")
	}
	return b.String()
}

func spanCmd(step int, node, id string, epoch uint64, full string, used uint64, next string) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "span-" + id, Time: stamp(step), Node: node,
		Op: &ferryv1.Command_SpanJob{SpanJob: &ferryv1.SpanJobOp{JobId: id, Epoch: epoch, FullBarcode: full, FullUsedBytes: used, NextBarcode: next,
			Checkpoint: checkpointOp(id, epoch, used)}}}
}

// A copy to a pool spans: fenced like a checkpoint, onto a usable member
// only, the full cartridge home and the next in the same drive, the spec
// and the assignment following, and the state surviving a snapshot.
func TestSpanJob(t *testing.T) {
	f := deviceFixture(t)
	capacity := validLibrary("libA").GetCartridgeCapacityBytes()
	applyAll(t, f,
		poolCmd(1, "east-daily", "libA", "A00001L9", "A00002L9", "A00003L9"),
		submitCmd(2, "p1", "", poolSpec("east-daily")),
		submitCmd(2, "q1", "", specWith(func(s *ferryv1.JobSpec) {
			s.Source, s.Destination = diskByName("db02", 0, 8), &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00003L9"}}}
		})),
	)
	epoch := runJob(t, f, 3, "node-a", "p1", tape("A00001L9", "libA", 0))
	runJob(t, f, 5, "node-b", "q1", tape("A00003L9", "libA", 1))
	used := capacity - 1<<20 // in the early-warning zone

	for _, tc := range []struct {
		name string
		cmd  *ferryv1.Command
		is   error
	}{
		{"stale epoch", spanCmd(7, "node-a", "p1", epoch-1, "A00001L9", used, "A00002L9"), ErrFenced},
		{"not the owner", spanCmd(7, "node-b", "p1", epoch, "A00001L9", used, "A00002L9"), ErrFenced},
		{"not its destination", spanCmd(7, "node-a", "p1", epoch, "A00002L9", used, "A00001L9"), ErrInvalid},
		{"not a member", spanCmd(7, "node-a", "p1", epoch, "A00001L9", used, "B00001L9"), ErrInvalid},
		{"member in use", spanCmd(7, "node-a", "p1", epoch, "A00001L9", used, "A00003L9"), ErrBusy},
		{"no next", spanCmd(7, "node-a", "p1", epoch, "A00001L9", used, ""), ErrInvalid},
		{"not a pool copy", spanCmd(7, "node-b", "q1", epoch+2, "A00003L9", used, "A00002L9"), ErrInvalid},
		{"no checkpoint", func() *ferryv1.Command {
			c := spanCmd(7, "node-a", "p1", epoch, "A00001L9", used, "A00002L9")
			c.GetSpanJob().Checkpoint = nil
			return c
		}(), ErrInvalid},
		{"checkpoint of another epoch", func() *ferryv1.Command {
			c := spanCmd(7, "node-a", "p1", epoch, "A00001L9", used, "A00002L9")
			c.GetSpanJob().Checkpoint.Epoch = epoch + 1
			return c
		}(), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.Apply(f.AppliedIndex()+1, tc.cmd); !errors.Is(r.Err, tc.is) {
				t.Fatalf("err = %v, want %v", r.Err, tc.is)
			}
		})
	}

	r := f.Apply(f.AppliedIndex()+1, spanCmd(8, "node-a", "p1", epoch, "A00001L9", used, "A00002L9"))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	j := r.Job
	if got := j.GetSpec().GetDestination().GetDevice().GetName(); got != "A00002L9" {
		t.Errorf("destination %s after the span, want A00002L9", got)
	}
	if got := j.GetTapes(); len(got) != 1 || got[0].GetBarcode() != "A00002L9" || got[0].GetDrive() != 0 || got[0].GetVolume() != 2 {
		t.Errorf("tapes after the span: %v, want A00002L9 in drive 0 as volume 2", got)
	}
	if !strings.Contains(history(j), "spanned: A00001L9 is full") || !strings.Contains(history(j), "volume 2 is A00002L9") {
		t.Errorf("no span event:\n%s", history(j))
	}
	if j.GetProgress().GetCheckpointOffset() != used || len(j.GetCheckpoint()) == 0 {
		t.Errorf("the span's checkpoint was not committed: %v", j.GetProgress())
	}
	full, _ := f.Cartridge("A00001L9")
	if full.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_SLOT || UseOf(full) != Full {
		t.Errorf("the full cartridge: %v, %v; want home and full", full.GetLocation(), UseOf(full))
	}
	if next, _ := f.Cartridge("A00002L9"); next.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE || next.GetLocation().GetJobId() != "p1" {
		t.Errorf("the next cartridge is at %v, want in a drive for p1", next.GetLocation())
	}
	if p, _ := f.Pool("east-daily"); p.GetFull() != 1 {
		t.Errorf("pool counts %v: want 1 full", p)
	}
	// The span is in the snapshot; a takeover keeps the volume's drive.
	g := restored(t, f)
	if j2, _ := g.Job("p1"); j2.GetTapes()[0].GetVolume() != 2 || j2.GetSpec().GetDestination().GetDevice().GetName() != "A00002L9" {
		t.Errorf("restored job: %v", j2.GetTapes())
	}
	applyAll(t, f, takeoverCmd(9, "p1", "node-b", epoch, "owner node-a lost", 0, tape("A00002L9", "libA", 0)))
	if j2, _ := f.Job("p1"); j2.GetTapes()[0].GetBarcode() != "A00002L9" || j2.GetTapes()[0].GetVolume() != 2 {
		t.Errorf("after the takeover: %v", j2.GetTapes())
	}
	// The old owner's span of the old epoch is refused.
	if r := f.Apply(f.AppliedIndex()+1, spanCmd(10, "node-a", "p1", epoch, "A00002L9", used, "A00001L9")); !errors.Is(r.Err, ErrFenced) {
		t.Errorf("stale owner's span: %v", r.Err)
	}
}

// A span records the part on the full cartridge (Job.volumes) and its
// catalog at once; the result of the copy lists every volume in order,
// the last one's part being the rest of the copy's bytes.
func TestSpanVolumesInResult(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f,
		poolCmd(1, "east-daily", "libA", "A00001L9", "A00002L9", "A00003L9"),
		submitCmd(2, "p1", "", poolSpec("east-daily")),
	)
	epoch := runJob(t, f, 3, "node-a", "p1", tape("A00001L9", "libA", 0))
	const part, total = 90 << 20, 200 << 20
	span := func(step int, full, next string, file uint32, offset uint64) *ferryv1.Command {
		c := spanCmd(step, "node-a", "p1", epoch, full, part+(1<<20), next)
		c.GetSpanJob().FullVolume = &ferryv1.TapeVolume{File: file, Bytes: part, Offset: offset}
		c.GetSpanJob().FullWrite = &ferryv1.TapeWrite{Barcode: full, FromFile: file, UsedBytes: part + (1 << 20),
			Files: []*ferryv1.TapeFile{{Number: file, Bytes: part, Records: part >> 18, Sha256: testSHA256, JobId: "p1"}}}
		return c
	}
	bad := span(5, "A00001L9", "A00002L9", 1, 0)
	bad.GetSpanJob().FullWrite.Barcode = "A00003L9"
	wantViolation(t, f.Apply(f.AppliedIndex()+1, bad).Err, "full_write.barcode", "full_barcode")
	applyAll(t, f, span(6, "A00001L9", "A00002L9", 1, 0), span(7, "A00002L9", "A00003L9", 1, part))
	j, _ := f.Job("p1")
	if len(j.GetVolumes()) != 2 || j.GetVolumes()[1].GetBarcode() != "A00002L9" || j.GetVolumes()[1].GetVolume() != 2 || j.GetTapes()[0].GetVolume() != 3 {
		t.Fatalf("volumes after two spans: %v, tapes %v", j.GetVolumes(), j.GetTapes())
	}
	if c, _ := f.Cartridge("A00001L9"); len(c.GetFiles()) != 1 || c.GetFiles()[0].GetJobId() != "p1" || c.GetFiles()[0].GetBytes() != part {
		t.Errorf("the full cartridge's catalog: %v", c.GetFiles())
	}
	r := f.Apply(f.AppliedIndex()+1, finishCmd(8, "node-a", "p1", epoch, &ferryv1.FinishJobOp{State: ferryv1.JobState_JOB_STATE_SUCCEEDED,
		Result: &ferryv1.JobResult{Sha256: testSHA256, Bytes: total, TapeWrites: []*ferryv1.TapeWrite{{Barcode: "A00003L9", FromFile: 1,
			Files: []*ferryv1.TapeFile{{Number: 1, Bytes: total - 2*part, JobId: "p1"}}}}}}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := r.Job.GetResult().GetVolumes()
	want := []*ferryv1.TapeVolume{
		{Volume: 1, Barcode: "A00001L9", File: 1, Bytes: part},
		{Volume: 2, Barcode: "A00002L9", File: 1, Bytes: part, Offset: part},
		{Volume: 3, Barcode: "A00003L9", File: 1, Bytes: total - 2*part, Offset: 2 * part},
	}
	if len(got) != len(want) {
		t.Fatalf("result volumes %v, want %v", got, want)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("volume %d: %v, want %v", i+1, got[i], want[i])
		}
	}
}

// A copy that finds no member to span to says why, once per reason, and
// only its owner at its epoch can; the span that follows ends the wait.
func TestSpanWait(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f,
		poolCmd(1, "east-daily", "libA", "A00001L9", "A00002L9"),
		submitCmd(2, "p1", "", poolSpec("east-daily")),
	)
	epoch := runJob(t, f, 3, "node-a", "p1", tape("A00001L9", "libA", 0))
	wait := func(step int, node string, epoch uint64, reason string) *ferryv1.Command {
		return &ferryv1.Command{RequestId: "wait-p1", Time: stamp(step), Node: node,
			Op: &ferryv1.Command_SpanWait{SpanWait: &ferryv1.SpanWaitOp{JobId: "p1", Epoch: epoch, Reason: reason}}}
	}
	if r := f.Apply(f.AppliedIndex()+1, wait(5, "node-b", epoch, "pool east-daily has no scratch cartridge")); !errors.Is(r.Err, ErrFenced) {
		t.Fatalf("another node's wait: %v", r.Err)
	}
	wantViolation(t, f.Apply(f.AppliedIndex()+1, wait(5, "node-a", epoch, "")).Err, "reason", "required")
	for range 2 {
		if r := f.Apply(f.AppliedIndex()+1, wait(6, "node-a", epoch, "pool east-daily has no scratch cartridge (1 full)")); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	j, _ := f.Job("p1")
	if !strings.Contains(j.GetStateReason(), "pool east-daily has no scratch cartridge") || strings.Count(history(j), "waiting for a cartridge") != 1 {
		t.Errorf("reason %q, history:\n%s", j.GetStateReason(), history(j))
	}
	applyAll(t, f, spanCmd(7, "node-a", "p1", epoch, "A00001L9", 90<<20, "A00002L9"))
	if j, _ := f.Job("p1"); strings.Contains(j.GetStateReason(), "waiting") {
		t.Errorf("still waiting after the span: %q", j.GetStateReason())
	}
}
