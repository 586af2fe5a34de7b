package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func tapeByName(barcode string) *ferryv1.Endpoint {
	return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: barcode}}}
}

// streamsCmd submits a multi-stream job with the stream specs given.
func streamsCmd(step int, id string, spec *ferryv1.JobSpec, given ...*ferryv1.JobSpec) *ferryv1.Command {
	c := submitCmd(step, id, "key-"+id, spec)
	c.GetSubmitJob().Streams = given
	return c
}

// diskToTapes is db01's 1001 blocks from LBA 8 to one cartridge per stream.
func diskToTapes(barcodes ...string) (*ferryv1.JobSpec, []*ferryv1.JobSpec) {
	spec := &ferryv1.JobSpec{Name: "db01 → tapes", Source: diskByName("db01", 8, 1001), Destination: tapeByName(barcodes[0]),
		Options: &ferryv1.JobOptions{Priority: 3}, Streams: uint32(len(barcodes))}
	var given []*ferryv1.JobSpec
	for _, b := range barcodes {
		given = append(given, &ferryv1.JobSpec{Destination: tapeByName(b)})
	}
	return spec, given
}

func mustJob(t *testing.T, f *FSM, id string) *ferryv1.Job {
	t.Helper()
	j, ok := f.Job(id)
	if !ok {
		t.Fatalf("job %s not found", id)
	}
	return j
}

func TestSubmitStreamsSplitsAtomically(t *testing.T) {
	f := deviceFixture(t)
	spec, given := diskToTapes("A00001L9", "A00002L9", "A00003L9")
	idx := f.AppliedIndex() + 1
	r := f.Apply(idx, streamsCmd(1, "p", spec, given...))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := r.Job.GetStreams(); len(got) != 3 || got[0] != "p-s1" || got[2] != "p-s3" {
		t.Fatalf("streams = %v", got)
	}
	// 1001 blocks in 3: 334, 334, 333, back to back from LBA 8.
	want := []struct{ lba, blocks uint64 }{{8, 334}, {342, 334}, {676, 333}}
	for i, w := range want {
		c := mustJob(t, f, StreamJobID("p", i+1))
		src := c.GetSpec().GetSource()
		if src.GetLba() != w.lba || src.GetBlocks() != w.blocks {
			t.Errorf("stream %d source = %d+%d, want %d+%d", i+1, src.GetLba(), src.GetBlocks(), w.lba, w.blocks)
		}
		if got := c.GetSpec().GetDestination().GetDevice().GetName(); got != given[i].GetDestination().GetDevice().GetName() {
			t.Errorf("stream %d destination = %s", i+1, got)
		}
		if c.GetParent() != "p" || c.GetState() != ferryv1.JobState_JOB_STATE_QUEUED || c.GetCreatedIndex() != idx {
			t.Errorf("stream %d = parent %q state %s index %d", i+1, c.GetParent(), c.GetState(), c.GetCreatedIndex())
		}
		if c.GetSpec().GetOptions().GetPriority() != 3 || c.GetSpec().GetStreams() != 0 {
			t.Errorf("stream %d options %v streams %d: want the parent's options, no streams", i+1, c.GetSpec().GetOptions(), c.GetSpec().GetStreams())
		}
	}
	// A retry of the entry changes nothing; the snapshot keeps the links.
	if r := f.Apply(idx+1, streamsCmd(1, "p", spec, given...)); r.Err != nil || !r.Existing {
		t.Fatalf("retry: existing %v err %v", r.Existing, r.Err)
	}
	g := restored(t, f)
	if j := mustJob(t, g, "p-s2"); j.GetParent() != "p" {
		t.Fatalf("restored stream's parent = %q", j.GetParent())
	}
}

func TestSubmitStreamsDiskToDiskSplitsBothRanges(t *testing.T) {
	f := deviceFixture(t)
	spec := &ferryv1.JobSpec{Source: diskByName("db01", 0, 1000), Destination: diskByName("db02", 4000, 1000), Streams: 4}
	applyAll(t, f, streamsCmd(1, "p", spec))
	for i := range 4 {
		c := mustJob(t, f, StreamJobID("p", i+1))
		s, d := c.GetSpec().GetSource(), c.GetSpec().GetDestination()
		if s.GetLba() != uint64(i*250) || d.GetLba() != 4000+uint64(i*250) || s.GetBlocks() != 250 || d.GetBlocks() != 250 {
			t.Errorf("stream %d: %d+%d → %d+%d", i+1, s.GetLba(), s.GetBlocks(), d.GetLba(), d.GetBlocks())
		}
	}
}

func TestSubmitStreamsRefusals(t *testing.T) {
	ro := func(f *FSM) {
		applyAll(t, f, diskCmd(0, diskWith(func(d *ferryv1.Disk) {
			d.Name, d.Naa, d.Path, d.Lun, d.ReadOnly = "ro01", testNAA(9), "/san/east/ro01.img", 3, true
		})))
	}
	tests := []struct {
		name  string
		setup func(*FSM)
		spec  *ferryv1.JobSpec
		given []*ferryv1.JobSpec
		field string
		want  string
	}{
		{name: "one cartridge for every stream",
			spec:  &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: tapeByName("A00001L9"), Streams: 2},
			field: "streams[1].destination", want: "both use cartridge A00001L9"},
		{name: "a cartridge given twice",
			spec:  &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: tapeByName("A00001L9"), Streams: 2},
			given: []*ferryv1.JobSpec{{Destination: tapeByName("A00002L9")}, {Destination: tapeByName("A00002L9")}},
			field: "streams[1].destination", want: "both use cartridge A00002L9"},
		{name: "stream ranges that overlap",
			spec: &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: diskByName("db02", 0, 100), Streams: 2},
			given: []*ferryv1.JobSpec{
				{Source: diskByName("db01", 0, 50), Destination: diskByName("db02", 10, 50)},
				{Source: diskByName("db01", 50, 50), Destination: diskByName("db02", 50, 50)}},
			field: "streams[1]", want: "overlap on disk db02"},
		{name: "one stream breaks a rule of its own", setup: ro,
			spec:  &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: diskByName("ro01", 0, 100), Streams: 2},
			field: "streams[0].destination.device", want: "read-only"},
		{name: "a stream reads a cartridge another writes",
			spec: &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: tapeByName("A00001L9"), Streams: 2},
			given: []*ferryv1.JobSpec{{Destination: tapeByName("A00001L9")},
				{Source: tapeByName("A00001L9"), Destination: tapeByName("A00002L9")}},
			field: "streams[1].destination", want: "both use cartridge A00001L9"},
		{name: "more streams than blocks",
			spec:  &ferryv1.JobSpec{Source: diskByName("db01", 0, 3), Destination: diskByName("db02", 0, 3), Streams: 4},
			field: "spec.streams", want: "at least one block"},
		{name: "too many streams",
			spec:  &ferryv1.JobSpec{Source: diskByName("db01", 0, 300), Destination: diskByName("db02", 0, 300), Streams: MaxStreams + 1},
			field: "spec.streams", want: "limit"},
		{name: "stream specs not one per stream",
			spec:  &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: tapeByName("A00001L9"), Streams: 3},
			given: []*ferryv1.JobSpec{{Destination: tapeByName("A00001L9")}, {Destination: tapeByName("A00002L9")}},
			field: "streams", want: "one per stream"},
		{name: "a tape source is not split",
			spec:  &ferryv1.JobSpec{Source: tapeByName("A00001L9"), Destination: diskByName("db02", 0, 100), Streams: 2},
			field: "spec.source", want: "splits a registered disk"},
		{name: "a tape file destination",
			spec: &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: func() *ferryv1.Endpoint {
				e := tapeByName("A00001L9")
				e.TapeFile = proto.Uint32(1)
				return e
			}(), Streams: 2},
			field: "spec.destination.tape_file", want: "new file"},
		{name: "explicit segments",
			spec: &ferryv1.JobSpec{Source: diskByName("db01", 0, 100), Destination: diskByName("db02", 0, 100), Streams: 2,
				Segments: []*ferryv1.Segment{{Length: 512}}},
			field: "spec.streams", want: "one stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := deviceFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			before := len(mustJobs(f))
			r := f.Apply(f.AppliedIndex()+1, streamsCmd(1, "p", tt.spec, tt.given...))
			var verr *ValidationError
			if !errors.As(r.Err, &verr) || !errors.Is(r.Err, ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError", r.Err)
			}
			found := false
			for _, fv := range verr.Violations {
				if fv.Field == tt.field && strings.Contains(fv.Description, tt.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("violations %v, want %s: …%s…", verr.Violations, tt.field, tt.want)
			}
			if got := len(mustJobs(f)); got != before {
				t.Fatalf("%d jobs after a refused submit, want %d: nothing may be created", got, before)
			}
		})
	}
}

func mustJobs(f *FSM) []*ferryv1.Job {
	jobs, _ := f.Jobs(Query{})
	return jobs
}

// runStreams submits p as three streams to A00001L9..A00003L9 and places
// and starts each (two on node-a, one on node-b), returning their epochs.
func runStreams(t *testing.T) (*FSM, []uint64) {
	t.Helper()
	f := deviceFixture(t)
	spec, given := diskToTapes("A00001L9", "A00002L9", "B00001L9")
	applyAll(t, f, streamsCmd(1, "p", spec, given...))
	epochs := []uint64{
		runJob(t, f, 2, "node-a", "p-s1", tape("A00001L9", "libA", 0)),
		runJob(t, f, 4, "node-a", "p-s2", tape("A00002L9", "libA", 1)),
		runJob(t, f, 6, "node-b", "p-s3", tape("B00001L9", "libB", 0)),
	}
	return f, epochs
}

func TestStreamsParentFollowsChildren(t *testing.T) {
	f, epochs := runStreams(t)
	p := mustJob(t, f, "p")
	if p.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || p.GetOwner() != "" {
		t.Fatalf("parent %s owner %q while its streams run", p.GetState(), p.GetOwner())
	}
	if got := p.GetStateReason(); got != "3 of 3 streams running, 0 succeeded" {
		t.Fatalf("reason %q", got)
	}
	var placed int
	for _, e := range p.GetHistory() {
		if strings.Contains(e.GetMessage(), ": placed on ") {
			placed++
		}
	}
	if placed != 3 {
		t.Fatalf("parent history %v: want each stream's placement", p.GetHistory())
	}
	applyAll(t, f, batchCmd(8, "node-a", checkpointOp("p-s1", epochs[0], 100), checkpointOp("p-s2", epochs[1], 200)))
	if got := mustJob(t, f, "p").GetProgress().GetBytesDone(); got != 300 {
		t.Fatalf("parent bytes done %d, want the streams' sum 300", got)
	}
	// A stream taken over stays a stream of the job, and the takeover is
	// the parent's event too, batched (PlaceJobsOp, as the scheduler
	// proposes) as much as single.
	take := takeoverCmd(9, "p-s3", "node-c", epochs[2], "owner node-b lost", 0, tape("B00001L9", "libB", 0))
	take.Op = &ferryv1.Command_PlaceJobs{PlaceJobs: &ferryv1.PlaceJobsOp{Places: []*ferryv1.PlaceJobOp{take.GetPlaceJob()}}}
	applyAll(t, f, take)
	epochs[2] = f.AppliedIndex()
	if h := mustJob(t, f, "p").GetHistory(); !strings.Contains(h[len(h)-1].GetMessage(), "stream 3: taken over by node-c") {
		t.Fatalf("the parent's last event %q, want stream 3's takeover", h[len(h)-1].GetMessage())
	}
	applyAll(t, f, succeedCmd(10, "node-a", "p-s1", epochs[0]), succeedCmd(11, "node-a", "p-s2", epochs[1]))
	if p := mustJob(t, f, "p"); p.GetState() != ferryv1.JobState_JOB_STATE_RUNNING || p.GetStateReason() != "2 of 3 streams succeeded, 1 running" {
		t.Fatalf("parent %s %q with one stream left", p.GetState(), p.GetStateReason())
	}
	applyAll(t, f, succeedCmd(12, "node-c", "p-s3", epochs[2]))
	p = mustJob(t, f, "p")
	if p.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("parent %s after every stream succeeded", p.GetState())
	}
	m := p.GetResult().GetStreams()
	if len(m) != 3 || p.GetResult().GetBytes() != 3<<20 {
		t.Fatalf("manifest %v, bytes %d", m, p.GetResult().GetBytes())
	}
	if m[2].GetIndex() != 3 || m[2].GetJobId() != "p-s3" || m[2].GetSha256() != testSHA256 || m[2].GetSource().GetLba() != 676 ||
		m[2].GetDestination().GetDevice().GetName() != "B00001L9" {
		t.Fatalf("manifest stream 3 = %v", m[2])
	}
}

func TestStreamFailureEndsTheJobAndCancelsTheOthers(t *testing.T) {
	f, epochs := runStreams(t)
	applyAll(t, f, failCmd(8, "node-b", "p-s3", epochs[2], "medium error"))
	p := mustJob(t, f, "p")
	if p.GetState() != ferryv1.JobState_JOB_STATE_FAILED || !strings.Contains(p.GetError().GetMessage(), "stream 3 (job p-s3) failed: medium error") {
		t.Fatalf("parent %s %v", p.GetState(), p.GetError())
	}
	for _, id := range []string{"p-s1", "p-s2"} {
		c := mustJob(t, f, id)
		if c.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED || !strings.Contains(c.GetStateReason(), "its job p ended") {
			t.Fatalf("%s %s %q", id, c.GetState(), c.GetStateReason())
		}
	}
	// Their cartridges went home: a new job may load them.
	lib, _ := f.Library("libA")
	for _, el := range lib.GetElements() {
		if el.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE && el.GetBarcode() != "" {
			t.Fatalf("drive %d still holds %s", el.GetIndex(), el.GetBarcode())
		}
	}
	// The owner of a cancelled stream is fenced.
	if r := f.Apply(f.AppliedIndex()+1, succeedCmd(9, "node-a", "p-s1", epochs[0])); !errors.Is(r.Err, ErrFenced) {
		t.Fatalf("finish of a cancelled stream: %v", r.Err)
	}
}

func TestCancelStreamsJob(t *testing.T) {
	f, _ := runStreams(t)
	applyAll(t, f, cancelCmd(8, "p", "window closed"))
	if p := mustJob(t, f, "p"); p.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED || p.GetStateReason() != "window closed" {
		t.Fatalf("parent %s %q", p.GetState(), p.GetStateReason())
	}
	for i := range 3 {
		if c := mustJob(t, f, StreamJobID("p", i+1)); c.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED {
			t.Fatalf("stream %d %s after its job was cancelled", i+1, c.GetState())
		}
	}
	// Cancelling one stream cancels the job and the others.
	f, _ = runStreams(t)
	applyAll(t, f, cancelCmd(8, "p-s2", "operator"))
	if p := mustJob(t, f, "p"); p.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED || !strings.Contains(p.GetStateReason(), "stream 2 (job p-s2) was cancelled") {
		t.Fatalf("parent %s %q", p.GetState(), p.GetStateReason())
	}
	if c := mustJob(t, f, "p-s1"); c.GetState() != ferryv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("sibling %s", c.GetState())
	}
}

func TestStreamsParentIsNeverPlaced(t *testing.T) {
	f := deviceFixture(t)
	spec, given := diskToTapes("A00001L9", "A00002L9")
	applyAll(t, f, streamsCmd(1, "p", spec, given...))
	if r := f.Apply(f.AppliedIndex()+1, placeCmd(2, "p", "node-a", 0)); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("placing the parent: %v", r.Err)
	}
}

// The scheduler follows the change feed: a submit lists every stream, and
// a stream's end lists the streams it cancelled.
func TestStreamsInChangeFeed(t *testing.T) {
	f := deviceFixture(t)
	_, cur := f.ChangesSince(Cursor{})
	spec, given := diskToTapes("A00001L9", "A00002L9", "B00001L9")
	applyAll(t, f, streamsCmd(1, "p", spec, given...))
	ch, cur := f.ChangesSince(cur)
	for _, id := range []string{"p", "p-s1", "p-s2", "p-s3"} {
		if !slices.Contains(ch.Jobs, id) {
			t.Fatalf("after the submit the feed lists %v, without %s", ch.Jobs, id)
		}
	}
	epoch := runJob(t, f, 2, "node-a", "p-s1", tape("A00001L9", "libA", 0))
	_, cur = f.ChangesSince(cur)
	applyAll(t, f, failCmd(4, "node-a", "p-s1", epoch, "medium error"))
	if ch, _ := f.ChangesSince(cur); !slices.Contains(ch.Jobs, "p-s2") || !slices.Contains(ch.Jobs, "p-s3") {
		t.Fatalf("after a stream failed the feed lists %v, not the streams it cancelled", ch.Jobs)
	}
}

// The streams of one job share their disks, each fenced by the range it
// writes; nothing else shares with them, and a job that is not a stream
// fences the whole disk.
func TestStreamsShareDisksByRange(t *testing.T) {
	f := deviceFixture(t)
	spec := &ferryv1.JobSpec{Source: diskByName("db01", 0, 1000), Destination: diskByName("db02", 4000, 1000), Streams: 4}
	applyAll(t, f, streamsCmd(1, "p", spec), streamsCmd(2, "q", proto.Clone(spec).(*ferryv1.JobSpec)))
	var prev ByteRange
	for i := range 4 {
		c := mustJob(t, f, StreamJobID("p", i+1))
		acc, err := f.JobAccess(c.GetSpec())
		if err != nil {
			t.Fatal(err)
		}
		bs := uint64(acc.Devices[1].Device.Disk.GetBlockSize())
		if r, ok := DiskFenceRange(c, acc.Devices[0]); ok {
			t.Errorf("stream %d's source is fenced by %v: it only reads it", i+1, r)
		}
		r, ok := DiskFenceRange(c, acc.Devices[1])
		if want := (ByteRange{Offset: (4000 + uint64(i)*250) * bs, Length: 250 * bs}); !ok || r != want {
			t.Errorf("stream %d fenced by %v (%v), want %v", i+1, r, ok, want)
		}
		if r.Overlaps(prev) {
			t.Errorf("stream %d's range %v overlaps the last one's, %v", i+1, r, prev)
		}
		prev = r
		for j := range 4 {
			if got, want := SharesDisks(c, mustJob(t, f, StreamJobID("p", j+1))), i != j; got != want {
				t.Errorf("SharesDisks(p-s%d, p-s%d) = %v, want %v", i+1, j+1, got, want)
			}
		}
		if SharesDisks(c, mustJob(t, f, StreamJobID("q", i+1))) || SharesDisks(c, mustJob(t, f, "p")) {
			t.Errorf("stream %d shares its disks with another job's stream or its parent", i+1)
		}
	}
	plain := &ferryv1.Job{Id: "j", Spec: &ferryv1.JobSpec{Source: diskByName("db01", 0, 1000), Destination: diskByName("db02", 4000, 1000)}}
	acc, err := f.JobAccess(plain.GetSpec())
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := DiskFenceRange(plain, acc.Devices[1]); ok {
		t.Errorf("a plain job's write is fenced by %v, want the whole disk", r)
	}
	if SharesDisks(plain, plain) || SharesDisks(plain, mustJob(t, f, "p-s1")) {
		t.Error("a plain job shares its disks")
	}
}
