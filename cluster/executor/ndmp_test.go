package executor

import (
	"context"
	"errors"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// openSession has a DMA load the fixture's cartridge into drive 0 (unless
// it is there) and opens a read-write session on it through n1.
func openSession(t *testing.T, f *fixture, r *runner, id string) *Session {
	t.Helper()
	n := f.node("n1")
	if c, _ := f.fsm.Cartridge(barcode); c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		if res, err := n.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{
			Library: "libA", DmaAddress: "10.0.0.5:1",
			From: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1},
			To:   &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 0}}}}); err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
	}
	res, err := n.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_OpenNdmpSession{OpenNdmpSession: &ferryv1.OpenNdmpSessionOp{
		JobId: id, Session: &ferryv1.NdmpSession{DmaAddress: "10.0.0.5:1", Library: "libA", Drive: 0, ReadWrite: true}}}})
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	s, err := r.OpenSession(context.Background(), res.Job)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, s *Session, records int, mark bool) {
	t.Helper()
	// The first record alone, the others in one batch (as a mover writes).
	var batch [][]byte
	for i := range records {
		if i == 0 {
			if _, err := s.WriteRecord(make([]byte, 1000+i)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		batch = append(batch, make([]byte, 1000+i))
	}
	if len(batch) > 0 {
		if n, _, err := s.WriteRecords(batch); err != nil || n != len(batch) {
			t.Fatalf("WriteRecords: %d of %d: %v", n, len(batch), err)
		}
	}
	if mark {
		if _, err := s.WriteFilemarks(1); err != nil {
			t.Fatal(err)
		}
	}
}

// A session sees the tape from the first data file, writes under its
// epoch, renews its lease, and its end puts its files in the catalog; a
// session interrupted mid-file (its node gone) has its unterminated tail
// cut by the next writer.
func TestSessionWritesAndCatalogs(t *testing.T) {
	f := setup(t, clusterOptions{})
	r := run(t, f.node("n1"), Config{})
	s := openSession(t, f, r, "s1")
	if p, err := s.ReadPosition(); err != nil || !p.BOP || p.File != 0 || p.ObjectID != 0 {
		t.Fatalf("session starts at %+v (%v), want the DMA's beginning of tape", p, err)
	}
	if err := s.Space(tape.SpaceRecords, -1); !errors.Is(err, tape.ErrBeginningOfMedium) {
		t.Fatalf("spacing back from the DMA's BOT: %v", err)
	}
	writeFile(t, s, 3, true)
	writeFile(t, s, 2, true)
	eventually(t, "the session in the lease report", func() bool {
		for _, l := range r.leaseReport() {
			if l.GetJobId() == "s1" && l.GetBytesDone() > 0 {
				return true
			}
		}
		return false
	}, func() string { return "not reported" })
	if err := s.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := f.job(t, "s1")
	c, _ := f.fsm.Cartridge(barcode)
	if j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED || len(c.GetFiles()) != 2 || c.GetFiles()[0].GetRecords() != 3 ||
		c.GetFiles()[1].GetBytes() != 2001 || c.GetFiles()[0].GetSha256() == "" || c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		t.Fatalf("job %v, cartridge %v", j.GetState(), c)
	}
	if r.isRunning("s1") {
		t.Fatal("the ended session is still in the lease report")
	}

	// A second session appends a file and dies mid-way through the next.
	s2 := openSession(t, f, r, "s2")
	if err := s2.Space(tape.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s2, 4, true)
	writeFile(t, s2, 5, false)
	if err := s2.Flush(); err != nil {
		t.Fatal(err)
	}
	f.must(t, &ferryv1.Command{Op: &ferryv1.Command_EndNdmpSession{EndNdmpSession: &ferryv1.EndNdmpSessionOp{
		JobId: "s2", Epoch: s2.Job().GetEpoch(), Reason: "node n1 died; NDMP has no reconnect"}}})
	eventually(t, "the lost session stops", func() bool {
		select {
		case <-s2.Lost():
			return true
		default:
			return false
		}
	}, func() string { return "still writing" })
	if _, err := s2.WriteRecord(make([]byte, 10)); err == nil {
		t.Fatal("a session whose job ended wrote")
	}
	_ = s2.End(context.Background())

	// The next writer: end of data is after file 3's filemark.
	s3 := openSession(t, f, r, "s3")
	if err := s3.Space(tape.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s3.ReadPosition(); p.File != 3 || p.ObjectID != 3+1+2+1+4+1 {
		t.Fatalf("end of data at %+v, want after the third file's filemark", p)
	}
	if err := s3.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ = f.fsm.Cartridge(barcode)
	if len(c.GetFiles()) != 3 {
		t.Fatalf("catalog after the cut: %v", c.GetFiles())
	}
}

// What one session writes at the DMA's beginning of tape, the next reads
// there, read-only.
func TestSessionReadsWhatTheLastWrote(t *testing.T) {
	f := setup(t, clusterOptions{})
	r := run(t, f.node("n1"), Config{})
	s := openSession(t, f, r, "s1")
	if _, err := s.WriteRecord([]byte("NDMP01 label")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteFilemarks(1); err != nil {
		t.Fatal(err)
	}
	if err := s.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := f.node("n1").Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_OpenNdmpSession{OpenNdmpSession: &ferryv1.OpenNdmpSessionOp{
		JobId: "s2", Session: &ferryv1.NdmpSession{DmaAddress: "10.0.0.5:2", Library: "libA", Drive: 0}}}})
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	s2, err := r.OpenSession(context.Background(), res.Job)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Rewind(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10240)
	n, err := s2.ReadRecord(buf)
	if err != nil || string(buf[:n]) != "NDMP01 label" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if _, err := s2.ReadRecord(buf); !errors.Is(err, tape.ErrFilemark) {
		t.Fatalf("after the record: %v", err)
	}
}

// A session writing without pause holds its fence only briefly: a new
// owner's claim gets through, and from then on the session writes nothing.
func TestSessionYieldsToAClaim(t *testing.T) {
	f := setup(t, clusterOptions{})
	r := run(t, f.node("n1"), Config{})
	s := openSession(t, f, r, "s1")
	stop := make(chan struct{})
	refused := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				refused <- nil
				return
			default:
			}
			if _, err := s.WriteRecord(make([]byte, 1024)); err != nil {
				refused <- err
				return
			}
		}
	}()
	fc, err := fence.Open(f.tape, "test-cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fc.Claim(ctx, s.Job().GetEpoch()+1); err != nil {
		t.Fatalf("a newer claim during the session's writes: %v", err)
	}
	t.Logf("the claim got through in %v", time.Since(start))
	select {
	case err := <-refused:
		if !errors.Is(err, fence.ErrFenced) {
			t.Fatalf("the session's write after the claim: %v, want fenced", err)
		}
	case <-time.After(10 * time.Second):
		close(stop)
		t.Fatal("the session went on writing after the claim")
	}
	_ = s.Close()
}
