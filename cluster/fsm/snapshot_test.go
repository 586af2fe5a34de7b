package fsm

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// buildHistory drives f through jobs, cancels, failures and membership
// changes, deliberately in an order that map iteration would not preserve.
func buildHistory(f *FSM) {
	idx := uint64(0)
	next := func() uint64 { idx++; return idx }
	for i := range 20 {
		f.AddNode(next(), &ferryv1.NodeInfo{Name: fmt.Sprintf("node-%02d", 19-i), RaftId: uint64(100 - i), Site: "east"})
	}
	for i := range 30 {
		key := ""
		if i%3 == 0 {
			key = fmt.Sprintf("key-%d", i)
		}
		f.Apply(next(), submitCmd(i, fmt.Sprintf("job-%02d", (i*7)%30), key, validSpec()))
	}
	f.Apply(next(), submitCmd(40, "dup", "key-0", validSpec()))
	f.Apply(next(), submitCmd(41, "", "", nil))
	f.Apply(next(), nil)
	for i := 0; i < 30; i += 4 {
		f.Apply(next(), cancelCmd(50+i, fmt.Sprintf("job-%02d", i), ""))
	}
	for _, id := range []uint64{95, 82, 99, 7} {
		f.RemoveNode(next(), id)
	}
	buildDevices(f, next)
}

// buildDevices registers devices in an order map iteration would not
// preserve and runs jobs on them, leaving some cartridges loaded.
func buildDevices(f *FSM, next func() uint64) {
	for i := range 12 {
		n := (i * 5) % 12
		f.Apply(next(), diskCmd(60+i, validDisk(fmt.Sprintf("disk-%02d", n), n)))
	}
	for _, name := range []string{"libC", "libA", "libB"} {
		f.Apply(next(), libraryCmd(70, validLibrary(name)))
	}
	for i := range 18 {
		n := (i * 7) % 18
		lib := []string{"libA", "libB", "libC"}[n%3]
		c := validCartridge(fmt.Sprintf("T%05dL9", n), lib, uint32(24-n/3), 100+n)
		if n == 17 {
			c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
		}
		f.Apply(next(), cartridgeCmd(80+i, c))
	}
	// job-01 (one cartridge imported from the import/export slot) is taken
	// over from node-03 by node-06, one cartridge staying in its drive and
	// one moving; job-05 holds a cartridge too; job-02's are freed by its
	// finish and job-09's by its cancel; job-03 waits for a drive.
	run := func(step int, node, id string, tapes ...*ferryv1.TapeAssignment) uint64 {
		epoch := next()
		f.Apply(epoch, placeCmd(step, id, node, 0, tapes...))
		f.Apply(next(), startCmd(step, node, id, epoch))
		return epoch
	}
	first := run(90, "node-03", "job-01", tape("T00000L9", "libA", 0), tape("T00017L9", "libC", 0), tape("T00001L9", "libB", 0))
	f.Apply(next(), checkpointCmd(91, "node-03", "job-01", first, 4096))
	f.Apply(next(), checkpointCmd(92, "node-03", "job-01", first, 8192))
	epoch := run(93, "node-04", "job-02", tape("T00004L9", "libB", 1), tape("T00002L9", "libC", 1))
	// job-02 leaves two files on T00004L9's catalog, after one it never
	// heard of.
	done := succeedCmd(94, "node-04", "job-02", epoch)
	done.GetFinishJob().Result.TapeWrites = []*ferryv1.TapeWrite{{Barcode: "T00004L9", FromFile: 2, UsedBytes: 3 << 20,
		Files: []*ferryv1.TapeFile{{Number: 2, Bytes: 1 << 20, Records: 4, Sha256: testSHA256, JobId: "job-02"},
			{Number: 3, Bytes: 2 << 20, Records: 8, Sha256: testSHA256, JobId: "job-02"}}}}
	f.Apply(next(), done)
	run(95, "node-05", "job-05", tape("T00003L9", "libA", 1))
	f.Apply(next(), placeCmd(96, "job-03", "node-05", 0, tape("T00006L9", "libA", 0), tape("T00009L9", "libA", 1)))
	f.Apply(next(), waitCmd(96, "job-03", "no free drive in library libA"))
	run(97, "node-05", "job-09", tape("T00005L9", "libC", 1))
	f.Apply(next(), cancelCmd(98, "job-09", ""))
	second := next()
	f.Apply(second, takeoverCmd(99, "job-01", "node-06", first, "owner node-03 lost: lease expired", 12288,
		tape("T00000L9", "libA", 0), tape("T00017L9", "libC", 1), tape("T00001L9", "libB", 0)))
	f.Apply(next(), resumeCmd(100, "node-06", "job-01", second, 8192))
	f.Apply(next(), checkpointCmd(101, "node-03", "job-01", first, 12288))
	f.Apply(next(), batchCmd(102, "node-06", checkpointOp("job-01", second, 16384)))
	f.Apply(next(), setNodeCmd(103, "node-06", node06))
}

// node06 is what node-06 says about itself in buildDevices.
var node06 = &ferryv1.NodeInfo{Name: "node-06", Site: "east", Reach: []string{"libA", "libB", "libC"}, Mover: true}

func TestSnapshotIsDeterministic(t *testing.T) {
	a, b := New(), New()
	buildHistory(a)
	buildHistory(b)
	dataA, idxA, errA := a.Snapshot()
	dataB, idxB, errB := b.Snapshot()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !bytes.Equal(dataA, dataB) || idxA != idxB {
		t.Fatalf("replicas disagree: %d bytes at %d vs %d bytes at %d", len(dataA), idxA, len(dataB), idxB)
	}
	// Map iteration order changes from call to call, so repeating the
	// snapshot catches an order that leaks from a map.
	for range 20 {
		again, _, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, dataA) {
			t.Fatal("two snapshots of the same state differ")
		}
	}
}

func TestSnapshotOrder(t *testing.T) {
	f := New()
	buildHistory(f)
	data, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var snap ferryv1.StateSnapshot
	if err := proto.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.GetJobs()) != 30 || len(snap.GetNodes()) != 17 {
		t.Fatalf("snapshot has %d jobs and %d nodes, want 30 and 17", len(snap.GetJobs()), len(snap.GetNodes()))
	}
	if !slices.IsSortedFunc(snap.GetJobs(), compareJobs) {
		t.Error("jobs are not sorted by created_index")
	}
	if !slices.IsSortedFunc(snap.GetNodes(), func(a, b *ferryv1.NodeInfo) int { return cmp.Compare(a.GetRaftId(), b.GetRaftId()) }) {
		t.Error("nodes are not sorted by raft id")
	}
	if want := []uint64{7, 82, 95, 99}; !slices.Equal(snap.GetRemoved(), want) {
		t.Errorf("removed = %v, want %v", snap.GetRemoved(), want)
	}
	if len(snap.GetDisks()) != 12 || len(snap.GetLibraries()) != 3 || len(snap.GetCartridges()) != 18 {
		t.Fatalf("snapshot has %d disks, %d libraries, %d cartridges, want 12, 3, 18",
			len(snap.GetDisks()), len(snap.GetLibraries()), len(snap.GetCartridges()))
	}
	if !slices.IsSortedFunc(snap.GetDisks(), func(a, b *ferryv1.Disk) int { return cmp.Compare(a.GetName(), b.GetName()) }) {
		t.Error("disks are not sorted by name")
	}
	if !slices.IsSortedFunc(snap.GetLibraries(), func(a, b *ferryv1.Library) int { return cmp.Compare(a.GetName(), b.GetName()) }) {
		t.Error("libraries are not sorted by name")
	}
	if !slices.IsSortedFunc(snap.GetCartridges(), func(a, b *ferryv1.Cartridge) int { return cmp.Compare(a.GetBarcode(), b.GetBarcode()) }) {
		t.Error("cartridges are not sorted by barcode")
	}
	for _, l := range snap.GetLibraries() {
		if len(l.GetElements()) > 0 {
			t.Errorf("library %s carries its elements; the cartridges are the placement", l.GetName())
		}
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	src := New()
	buildHistory(src)
	data, idx, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	dst := New()
	// Restore must replace, not merge: this job and node must disappear.
	applyAll(t, dst, submitCmd(0, "stale", "key-stale", validSpec()))
	dst.AddNode(2, &ferryv1.NodeInfo{Name: "stale", RaftId: 5})
	if err := dst.Restore(data, idx); err != nil {
		t.Fatal(err)
	}

	again, againIdx, err := dst.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) || againIdx != idx || dst.AppliedIndex() != idx {
		t.Errorf("restored state differs: %d bytes at %d, want %d bytes at %d", len(again), againIdx, len(data), idx)
	}
	if _, ok := dst.Job("stale"); ok {
		t.Error("Restore kept a job that was not in the snapshot")
	}
	if _, ok := dst.Node(5); ok {
		t.Error("Restore kept a node that was not in the snapshot")
	}
	if !dst.IsRemoved(99) || dst.IsRemoved(100) {
		t.Error("removed ids not restored")
	}
	srcJobs, _ := src.Jobs(Query{})
	dstJobs, _ := dst.Jobs(Query{})
	if !slices.EqualFunc(srcJobs, dstJobs, func(a, b *ferryv1.Job) bool { return proto.Equal(a, b) }) {
		t.Error("restored jobs differ")
	}
	if !slices.EqualFunc(src.Nodes(), dst.Nodes(), func(a, b *ferryv1.NodeInfo) bool { return proto.Equal(a, b) }) {
		t.Error("restored nodes differ")
	}

	if !slices.EqualFunc(src.Disks(), dst.Disks(), func(a, b *ferryv1.Disk) bool { return proto.Equal(a, b) }) {
		t.Error("restored disks differ")
	}
	if !slices.EqualFunc(src.Cartridges(""), dst.Cartridges(""), func(a, b *ferryv1.Cartridge) bool { return proto.Equal(a, b) }) {
		t.Error("restored cartridges differ")
	}
	for _, l := range src.Libraries() {
		want, _ := src.Library(l.GetName())
		got, ok := dst.Library(l.GetName())
		if !ok || !proto.Equal(got, want) {
			t.Errorf("restored inventory of %s differs:\n%v\nwant\n%v", l.GetName(), got, want)
		}
	}
	// The placement and who holds what are rebuilt exactly: both machines
	// take the same further commands the same way.
	job01, _ := src.Job("job-01")
	job05, _ := src.Job("job-05")
	more := []*ferryv1.Command{
		placeCmd(110, "job-03", "node-05", 0, tape("T00006L9", "libA", 0), tape("T00009L9", "libA", 1)),
		succeedCmd(111, "node-06", "job-01", job01.GetEpoch()),
		placeCmd(112, "job-03", "node-05", 0, tape("T00006L9", "libA", 0)),
		placeCmd(113, "job-06", "node-06", 0, tape("T00017L9", "libC", 0), tape("T00003L9", "libA", 1)),
		takeoverCmd(114, "job-05", "node-04", job05.GetEpoch(), "", 0, tape("T00003L9", "libA", 1)),
		cartridgeCmd(115, validCartridge("T00099L9", "libC", 1, 199)),
		cancelCmd(116, "job-05", ""),
		setNodeCmd(117, "node-06", node06),
	}
	for i, c := range more {
		rs, rd := src.Apply(idx+uint64(i)+1, c), dst.Apply(idx+uint64(i)+1, c)
		if !sameResult(rs, rd) {
			t.Errorf("command %d after restore: %+v / %+v, want the same outcome", i, rs, rd)
		}
	}
	srcData, _, _ := src.Snapshot()
	dstData, _, _ := dst.Snapshot()
	if !bytes.Equal(srcData, dstData) {
		t.Error("the original and the restored machine diverged on the same commands")
	}
	if j, _ := dst.Job("job-03"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Errorf("job-03 is %v after job-01 freed its drive, want RUNNING", j.GetState())
	}
	idx += uint64(len(more))

	// The idempotency index is derived, not stored: it must be rebuilt.
	r := dst.Apply(idx+1, submitCmd(99, "job-new", "key-3", validSpec()))
	if r.Err != nil || !r.Existing {
		t.Errorf("submit with a restored key: existing=%v err=%v, want the existing job", r.Existing, r.Err)
	}
	r = dst.Apply(idx+2, submitCmd(99, "job-new", "key-stale", validSpec()))
	if r.Err != nil || r.Existing {
		t.Errorf("submit with a key from before Restore: existing=%v err=%v, want a new job", r.Existing, r.Err)
	}
}

func TestRestoreEmpty(t *testing.T) {
	f := New()
	applyAll(t, f, submitCmd(0, "j1", "", validSpec()))
	if err := f.Restore(nil, 7); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := f.Jobs(Query{}); len(jobs) != 0 || f.AppliedIndex() != 7 {
		t.Errorf("after restoring nothing: %d jobs at index %d, want 0 at 7", len(jobs), f.AppliedIndex())
	}
}

func TestRestoreSortsJobs(t *testing.T) {
	snap := &ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{
		{Id: "c", CreatedIndex: 30}, {Id: "a", CreatedIndex: 10}, {Id: "b", CreatedIndex: 20},
	}}
	data, err := proto.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Restore(data, 30); err != nil {
		t.Fatal(err)
	}
	jobs, next := f.Jobs(Query{Limit: 2})
	if len(jobs) != 2 || jobs[0].GetId() != "a" || jobs[1].GetId() != "b" || next != 20 {
		t.Errorf("Jobs = %v next %d, want a, b next 20", jobs, next)
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	marshal := func(s *ferryv1.StateSnapshot) []byte {
		b, err := proto.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"job without id", marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{{CreatedIndex: 1}}})},
		{"duplicate job id", marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{{Id: "a"}, {Id: "a"}}})},
		{"duplicate idempotency key", marshal(&ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{
			{Id: "a", IdempotencyKey: "k"}, {Id: "b", IdempotencyKey: "k"},
		}})},
		{"node without raft id", marshal(&ferryv1.StateSnapshot{Nodes: []*ferryv1.NodeInfo{{Name: "a"}}})},
		{"duplicate node", marshal(&ferryv1.StateSnapshot{Nodes: []*ferryv1.NodeInfo{{RaftId: 1}, {RaftId: 1}}})},
		{"node both member and removed", marshal(&ferryv1.StateSnapshot{
			Nodes: []*ferryv1.NodeInfo{{RaftId: 1}}, Removed: []uint64{1},
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			applyAll(t, f, submitCmd(0, "j1", "", validSpec()))
			before, idx, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Restore(tc.data, 100); !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("Restore = %v, want ErrBadSnapshot", err)
			}
			after, afterIdx, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) || idx != afterIdx {
				t.Error("a failed Restore changed the state")
			}
		})
	}
}

// deviceSnapshot is a consistent snapshot: disk db01, library libA (4
// slots, 1 drive, 1 import/export slot), A00001L9 at home in slot 1 and
// A00002L9 loaded in drive 0 from slot 2 for running job j1.
func deviceSnapshot() *ferryv1.StateSnapshot {
	slot := func(i uint32) *ferryv1.Element {
		return &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: i}
	}
	a1 := validCartridge("A00001L9", "libA", 1, 101)
	a1.HomeSlot = 1
	a2 := validCartridge("A00002L9", "libA", 2, 102)
	a2.Location, a2.HomeSlot = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 0}, 2
	a1.Location = slot(1)
	return &ferryv1.StateSnapshot{
		Jobs: []*ferryv1.Job{{
			Id: "j1", CreatedIndex: 1, State: ferryv1.JobState_JOB_STATE_RUNNING, Owner: "node-a", Epoch: 2,
			Tapes: []*ferryv1.TapeAssignment{tape("A00002L9", "libA", 0)},
		}},
		Disks:      []*ferryv1.Disk{validDisk("db01", 1)},
		Libraries:  []*ferryv1.Library{libraryWith(func(l *ferryv1.Library) { l.Slots, l.Drives = 4, 1 })},
		Cartridges: []*ferryv1.Cartridge{a1, a2},
	}
}

func TestRestoreDevices(t *testing.T) {
	data, err := proto.Marshal(deviceSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Restore(data, 2); err != nil {
		t.Fatal(err)
	}
	wantDrive(t, f, "libA", 0, "A00002L9", "j1")
	wantAt(t, f, "A00001L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 1, "")
	// Slot 2 is A00002L9's home: taken, though empty.
	if r := f.Apply(3, cartridgeCmd(1, validCartridge("A00003L9", "libA", 2, 103))); !errors.Is(r.Err, ErrBusy) {
		t.Errorf("adding into a loaded cartridge's home: %v, want ErrBusy", r.Err)
	}
	// Finishing the job sends A00002L9 home.
	applyAll(t, f, submitCmd(4, "j2", "", validSpec()), succeedCmd(5, "node-a", "j1", 2))
	wantAt(t, f, "A00002L9", ferryv1.ElementKind_ELEMENT_KIND_SLOT, 2, "")
}

func TestRestoreRejectsBadDevices(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *ferryv1.StateSnapshot)
		want string
	}{
		{"duplicate disk name", func(s *ferryv1.StateSnapshot) {
			s.Disks = append(s.Disks, diskWith(func(d *ferryv1.Disk) { d.Naa, d.Path = testNAA(9), "/san/other" }))
		}, `the name belongs to disk "db01"`},
		{"disk without a name", func(s *ferryv1.StateSnapshot) { s.Disks[0].Name = "" }, "a disk has no name"},
		{"disk named like a cartridge", func(s *ferryv1.StateSnapshot) { s.Disks[0].Name = "A00001L9" }, `the name belongs to disk "A00001L9"`},
		{"NAA shared by a disk and a cartridge, in another case", func(s *ferryv1.StateSnapshot) {
			s.Disks[0].Naa = strings.ToUpper(testNAA(102))
		}, "belongs to"},
		{"path shared", func(s *ferryv1.StateSnapshot) { s.Cartridges[0].Path = s.Disks[0].Path }, `belongs to "db01"`},
		{"duplicate library", func(s *ferryv1.StateSnapshot) { s.Libraries = append(s.Libraries, s.Libraries[0]) }, `library name "libA"`},
		{"library without drives", func(s *ferryv1.StateSnapshot) { s.Libraries[0].Drives = 0 }, "0 drives"},
		{"cartridge in an unknown library", func(s *ferryv1.StateSnapshot) { s.Cartridges[0].Library = "libZ" }, `unknown library "libZ"`},
		{"cartridge outside the library", func(s *ferryv1.StateSnapshot) {
			s.Cartridges[0].Location.Index, s.Cartridges[0].HomeSlot = 5, 5
		}, "in slot 5, which library libA does not have"},
		{"cartridge nowhere", func(s *ferryv1.StateSnapshot) { s.Cartridges[0].Location = nil }, "which library libA does not have"},
		{"two cartridges in one element", func(s *ferryv1.StateSnapshot) {
			s.Cartridges[1].Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1}
			s.Cartridges[1].HomeSlot = 1
			s.Jobs[0].State = ferryv1.JobState_JOB_STATE_SUCCEEDED
		}, "slot 1 of library libA is claimed by both A00001L9 and A00002L9"},
		{"a loaded cartridge's home holds another", func(s *ferryv1.StateSnapshot) { s.Cartridges[1].HomeSlot = 1 }, "claimed by both"},
		{"a loaded cartridge without a home", func(s *ferryv1.StateSnapshot) { s.Cartridges[1].HomeSlot = 0 }, "origin"},
		{"a cartridge away from its home slot", func(s *ferryv1.StateSnapshot) { s.Cartridges[0].HomeSlot = 3 }, "its home is slot 3"},
		{"an import/export cartridge with a home", func(s *ferryv1.StateSnapshot) {
			s.Cartridges[0].Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
		}, "has home slot 1"},
		{"an invalid barcode", func(s *ferryv1.StateSnapshot) { s.Cartridges[0].Barcode = "A00001X9" }, "media type"},
		{"a loaded cartridge no job holds", func(s *ferryv1.StateSnapshot) {
			s.Jobs[0].State = ferryv1.JobState_JOB_STATE_SUCCEEDED
		}, "no running job holds it"},
		{"a running job holding a cartridge in a slot", func(s *ferryv1.StateSnapshot) {
			s.Jobs[0].Tapes = append(s.Jobs[0].Tapes, tape("A00001L9", "libA", 0))
		}, "holds A00001L9 in libA drive 0, but it is in libA slot 1"},
		{"a running job holding an unknown cartridge", func(s *ferryv1.StateSnapshot) {
			s.Jobs[0].Tapes[0].Barcode = "Z00001L9"
		}, `unknown cartridge "Z00001L9"`},
		{"two running jobs holding one cartridge", func(s *ferryv1.StateSnapshot) {
			j2 := proto.Clone(s.Jobs[0]).(*ferryv1.Job)
			j2.Id, j2.CreatedIndex = "j2", 2
			s.Jobs = append(s.Jobs, j2)
		}, `held by both job "j1" and job "j2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := deviceSnapshot()
			tc.edit(snap)
			data, err := proto.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			f := deviceFixture(t)
			before, idx, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			err = f.Restore(data, 100)
			if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore = %v, want ErrBadSnapshot containing %q", err, tc.want)
			}
			after, afterIdx, err := f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) || idx != afterIdx {
				t.Error("a failed Restore changed the state")
			}
		})
	}
}

// TestRestoreKeepsPlacementsAndTakeovers: after a snapshot round trip the
// drives, what each holds and for which job, and the epochs are as they
// were, so that every conflicting command is still refused.
func TestRestoreKeepsPlacementsAndTakeovers(t *testing.T) {
	src := deviceFixture(t)
	first := runJob(t, src, 1, "node-a", "j1", tape("A00001L9", "libA", 0), tape("B00001L9", "libB", 0))
	applyAll(t, src, checkpointCmd(3, "node-a", "j1", first, 4096))
	second := src.AppliedIndex() + 1
	applyAll(t, src,
		takeoverCmd(4, "j1", "node-b", first, "", 8192, tape("A00001L9", "libA", 1), tape("B00001L9", "libB", 0)),
		resumeCmd(5, "node-b", "j1", second, 4096),
	)
	runJob(t, src, 6, "node-c", "j2", tape("A00002L9", "libA", 0))
	nodeC := &ferryv1.NodeInfo{Name: "node-c", Site: "west", Reach: []string{"libA"}, Mover: true}
	applyAll(t, src, setNodeCmd(8, "node-c", nodeC))

	data, idx, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	dst := New()
	if err := dst.Restore(data, idx); err != nil {
		t.Fatal(err)
	}
	if observe(t, dst) != observe(t, src) {
		t.Error("the restored machine holds its cartridges differently")
	}
	wantDrive(t, dst, "libA", 0, "A00002L9", "j2")
	wantDrive(t, dst, "libA", 1, "A00001L9", "j1")
	wantDrive(t, dst, "libB", 0, "B00001L9", "j1")
	if n, _ := dst.NodeByName("node-c"); !slices.Equal(n.GetReach(), nodeC.GetReach()) || !n.GetMover() {
		t.Errorf("node-c = %v, want its own description kept", n)
	}

	conflicts := []struct {
		name    string
		cmd     *ferryv1.Command
		wantErr error
	}{
		{"a cartridge the taken-over job holds", placeCmd(10, "j3", "node-a", 0, tape("A00001L9", "libA", 0)), ErrBusy},
		{"the drive the takeover moved a cartridge to", placeCmd(10, "j3", "node-a", 0, tape("A00003L9", "libA", 1)), ErrBusy},
		{"a cartridge the takeover kept in its drive", placeCmd(10, "j3", "node-a", 0, tape("B00001L9", "libB", 1)), ErrBusy},
		{"a drive another job holds", placeCmd(10, "j3", "node-a", 0, tape("A00003L9", "libA", 0)), ErrBusy},
		{"a takeover decided before the takeover", placeCmd(10, "j1", "node-c", first), ErrFenced},
		{"the lost owner's checkpoint", checkpointCmd(10, "node-a", "j1", first, 8192), ErrFenced},
		{"the new owner's start under the old epoch", startCmd(10, "node-b", "j1", first), ErrFenced},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			idx++
			rs, rd := src.Apply(idx, tc.cmd), dst.Apply(idx, tc.cmd)
			if !errors.Is(rd.Err, tc.wantErr) || !sameResult(rs, rd) {
				t.Errorf("after restore: %v; before: %v; want %v from both", rd.Err, rs.Err, tc.wantErr)
			}
		})
	}

	// The new owner's finish sends the cartridges home, to their homes of
	// before the snapshot.
	applyAll(t, dst, succeedCmd(11, "node-b", "j1", second))
	wantHome(t, dst, "A00001L9", 1)
	wantHome(t, dst, "B00001L9", 5)
	runJob(t, dst, 12, "node-a", "j3", tape("A00001L9", "libA", 1))
}
