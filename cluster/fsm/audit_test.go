package fsm

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func auditCmd(step int, recs ...*ferryv1.AuditRecord) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "audit", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_Audit{Audit: &ferryv1.AuditOp{Records: recs}}}
}

func pruneAuditCmd(step int, before *timestamppb.Timestamp) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "prune", Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_PruneAudit{PruneAudit: &ferryv1.PruneAuditOp{Before: before}}}
}

// auditRec is a record of a call at step whose id is n.
func auditRec(n int, who, code string) *ferryv1.AuditRecord {
	id := make([]byte, auditIDLen)
	id[0], id[1], id[2] = byte(n), byte(n>>8), byte(n>>16)
	return &ferryv1.AuditRecord{Id: id, Time: stamp(n), Who: who, Addr: "127.0.0.1:5000", Node: "node-a",
		Method: "/ferry.v1.JobService/Submit", Request: "spec.source=disk:src", Code: code}
}

// seqs lists the records' seq numbers and ids' first bytes.
func seqs(recs []*ferryv1.AuditRecord) (seq, ids []int) {
	for _, r := range recs {
		seq, ids = append(seq, int(r.GetSeq())), append(ids, int(r.GetId()[0])|int(r.GetId()[1])<<8|int(r.GetId()[2])<<16)
	}
	return seq, ids
}

func TestAuditApplyAndList(t *testing.T) {
	f := New()
	for _, c := range []*ferryv1.Command{
		auditCmd(10, auditRec(1, "token:backup-app", "OK"), auditRec(2, "certificate:spiffe://ferry/client/cli", "UNAUTHENTICATED")),
		auditCmd(11, auditRec(3, "token:monitor", "PERMISSION_DENIED")),
		// A retry of the first batch after a leader change: kept once.
		auditCmd(12, auditRec(1, "token:backup-app", "OK"), auditRec(2, "certificate:spiffe://ferry/client/cli", "UNAUTHENTICATED")),
		auditCmd(13, auditRec(4, "token:backup-app", "NOT_FOUND")),
	} {
		if r := apply(f, c); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	page := f.AuditRecords(AuditFilter{})
	if seq, ids := seqs(page.Records); !slices.Equal(seq, []int{1, 2, 3, 4}) || !slices.Equal(ids, []int{1, 2, 3, 4}) {
		t.Fatalf("seq %v ids %v", seq, ids)
	}
	if got := page.Records[0]; got.GetWho() != "token:backup-app" || got.GetCode() != "OK" || got.GetRequest() != "spec.source=disk:src" || !got.GetTime().AsTime().Equal(stamp(1).AsTime()) {
		t.Errorf("record 1: %v", got)
	}
	page.Records[0].Who = "changed"
	if f.AuditRecords(AuditFilter{}).Records[0].GetWho() != "token:backup-app" {
		t.Fatal("AuditRecords aliases the state")
	}
	for _, tc := range []struct {
		name    string
		filter  AuditFilter
		seq     []int
		omitted int
	}{
		{"by name", AuditFilter{Who: "backup-app"}, []int{1, 4}, 0},
		{"by full string", AuditFilter{Who: "token:monitor"}, []int{3}, 0},
		{"by certificate", AuditFilter{Who: "spiffe://ferry/client/cli"}, []int{2}, 0},
		{"no such caller", AuditFilter{Who: "token"}, nil, 0},
		{"since", AuditFilter{Since: stamp(3).AsTime()}, []int{3, 4}, 0},
		{"since and who", AuditFilter{Since: stamp(2).AsTime(), Who: "backup-app"}, []int{4}, 0},
		{"newest two", AuditFilter{Limit: 2}, []int{3, 4}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := f.AuditRecords(tc.filter)
			if seq, _ := seqs(page.Records); !slices.Equal(seq, tc.seq) || page.Omitted != tc.omitted {
				t.Errorf("seq %v omitted %d, want %v and %d", seq, page.Omitted, tc.seq, tc.omitted)
			}
		})
	}
}

func TestAuditRefused(t *testing.T) {
	long := auditRec(9, "token:x", "OK")
	long.Request = strings.Repeat("r", MaxAuditText+1)
	many := make([]*ferryv1.AuditRecord, MaxAuditBatch+1)
	for i := range many {
		many[i] = auditRec(i+10, "token:x", "OK")
	}
	for _, tc := range []struct {
		name  string
		cmd   *ferryv1.Command
		field string
	}{
		{"no records", auditCmd(1), "records"},
		{"too many", auditCmd(1, many...), "records"},
		{"short id", auditCmd(1, &ferryv1.AuditRecord{Id: []byte{1}, Time: stamp(1), Method: "/m", Code: "OK"}), "records[0].id"},
		{"no time", auditCmd(1, &ferryv1.AuditRecord{Id: make([]byte, 16), Method: "/m", Code: "OK"}), "records[0].time"},
		{"no method", auditCmd(1, &ferryv1.AuditRecord{Id: make([]byte, 16), Time: stamp(1), Code: "OK"}), "records[0].method"},
		{"no code", auditCmd(1, &ferryv1.AuditRecord{Id: make([]byte, 16), Time: stamp(1), Method: "/m"}), "records[0].code"},
		{"long request", auditCmd(1, auditRec(1, "token:x", "OK"), long), "records[1].request"},
		{"nil record", auditCmd(1, nil), "records[0]"},
		{"prune without a time", pruneAuditCmd(1, nil), "before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			r := apply(f, tc.cmd)
			var ve *ValidationError
			if !errors.As(r.Err, &ve) || !errors.Is(r.Err, ErrInvalid) || ve.Violations[0].Field != tc.field {
				t.Fatalf("err %v, want a violation of %s", r.Err, tc.field)
			}
			if n := len(f.AuditRecords(AuditFilter{}).Records); n != 0 {
				t.Fatalf("a refused op kept %d records", n)
			}
		})
	}
}

func TestAuditPrune(t *testing.T) {
	f := New()
	var recs []*ferryv1.AuditRecord
	for i := 1; i <= 6; i++ {
		recs = append(recs, auditRec(i, "token:x", "OK"))
	}
	// Records are kept in the order applied, not by time: a node's clock
	// may be behind another's.
	recs[2].Time = stamp(10)
	applyAll(t, f, auditCmd(20, recs...))
	if !f.AuditOlderThan(stamp(2).AsTime()) || f.AuditOlderThan(stamp(1).AsTime()) {
		t.Fatal("AuditOlderThan")
	}
	applyAll(t, f, pruneAuditCmd(21, stamp(5)))
	if seq, ids := seqs(f.AuditRecords(AuditFilter{}).Records); !slices.Equal(seq, []int{3, 5, 6}) || !slices.Equal(ids, []int{3, 5, 6}) {
		t.Fatalf("after the prune: seq %v ids %v", seq, ids)
	}
	if f.AuditOlderThan(stamp(5).AsTime()) {
		t.Fatal("AuditOlderThan after the prune")
	}
	// New records go on from the last seq; a pruned id is free again.
	applyAll(t, f, auditCmd(22, auditRec(7, "token:x", "OK"), auditRec(1, "token:x", "OK")))
	if seq, _ := seqs(f.AuditRecords(AuditFilter{}).Records); !slices.Equal(seq, []int{3, 5, 6, 7, 8}) {
		t.Fatalf("after more: seq %v", seq)
	}
	if page := f.AuditRecords(AuditFilter{}); page.Capped != 0 {
		t.Fatalf("a prune counted as capped: %d", page.Capped)
	}
}

// TestAuditCap fills the trail to the cap with records of a copy's submit
// (what it costs is logged: go test -v -run TestAuditCap ./cluster/fsm/),
// then goes past it.
func TestAuditCap(t *testing.T) {
	f := New()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	for n < MaxAuditRecords {
		var batch []*ferryv1.AuditRecord
		for range min(MaxAuditBatch, MaxAuditRecords-n) {
			n++
			r := auditRec(n, "token:backup-app", "OK")
			r.Addr = "10.20.30.40:51234"
			r.Request = `spec.name="db01 → A00001L9" spec.source.kind=DEVICE_KIND_DISK spec.source.device.name=db01 ` +
				`spec.destination.kind=DEVICE_KIND_TAPE spec.destination.device.name=A00001L9 idempotency_key=cli-PPCXHLEXC2XKXRBN2MCWRJ7CNG`
			batch = append(batch, r)
		}
		applyAll(t, f, auditCmd(1, batch...))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if page := f.AuditRecords(AuditFilter{Limit: 1}); page.Omitted != MaxAuditRecords-1 || page.Capped != 0 {
		t.Fatalf("at the cap: omitted %d capped %d", page.Omitted, page.Capped)
	}
	if data, _, err := f.Snapshot(); err == nil {
		t.Logf("%d records: a snapshot of %.1f MB (%d bytes a record), %.1f MB more heap", MaxAuditRecords,
			float64(len(data))/1e6, len(data)/MaxAuditRecords, float64(after.HeapAlloc-before.HeapAlloc)/1e6)
	}
	// One more drops the oldest tenth.
	applyAll(t, f, auditCmd(2, auditRec(n+1, "token:x", "OK")))
	page := f.AuditRecords(AuditFilter{})
	wantLen := MaxAuditRecords + 1 - (1 + MaxAuditRecords/10)
	if len(page.Records) != wantLen || page.Capped != uint64(1+MaxAuditRecords/10) {
		t.Fatalf("past the cap: %d records, capped %d", len(page.Records), page.Capped)
	}
	if first, last := page.Records[0].GetSeq(), page.Records[len(page.Records)-1].GetSeq(); first != uint64(MaxAuditRecords/10+2) || last != uint64(MaxAuditRecords+1) {
		t.Fatalf("past the cap: seq %d to %d", first, last)
	}
	// A dropped record's id is free; a kept one's is not.
	applyAll(t, f, auditCmd(3, auditRec(1, "token:x", "OK"), auditRec(n, "token:x", "OK")))
	if got := len(f.AuditRecords(AuditFilter{}).Records); got != wantLen+1 {
		t.Fatalf("%d records, want %d", got, wantLen+1)
	}
	snapshotRoundTrip(t, f)
}

// snapshotRoundTrip restores f's snapshot into a new state machine and
// checks that it snapshots to the same bytes.
func snapshotRoundTrip(t *testing.T, f *FSM) *FSM {
	t.Helper()
	g := restored(t, f)
	want, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := g.Snapshot(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the restored state snapshots differently (%v)", err)
	}
	return g
}

func TestAuditSnapshot(t *testing.T) {
	f := New()
	applyAll(t, f,
		auditCmd(1, auditRec(1, "token:a", "OK"), auditRec(2, "token:b", "OK"), auditRec(3, "token:c", "OK")),
		pruneAuditCmd(2, stamp(2)),
	)
	g := snapshotRoundTrip(t, f)
	// The restored state numbers on and still knows the kept ids.
	applyAll(t, g, auditCmd(3, auditRec(3, "token:c", "OK"), auditRec(4, "token:d", "OK")))
	if seq, ids := seqs(g.AuditRecords(AuditFilter{}).Records); !slices.Equal(seq, []int{2, 3, 4}) || !slices.Equal(ids, []int{2, 3, 4}) {
		t.Fatalf("restored: seq %v ids %v", seq, ids)
	}

	data, idx, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ferryv1.StateSnapshot)
	}{
		{"seq out of order", func(s *ferryv1.StateSnapshot) { s.AuditRecords[0].Seq, s.AuditRecords[1].Seq = 3, 2 }},
		{"seq past audit_seq", func(s *ferryv1.StateSnapshot) { s.AuditSeq = 2 }},
		{"seq zero", func(s *ferryv1.StateSnapshot) { s.AuditRecords[0].Seq = 0 }},
		{"a repeated id", func(s *ferryv1.StateSnapshot) { s.AuditRecords[1].Id = s.AuditRecords[0].Id }},
		{"a bad record", func(s *ferryv1.StateSnapshot) { s.AuditRecords[1].Code = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var snap ferryv1.StateSnapshot
			if err := proto.Unmarshal(data, &snap); err != nil {
				t.Fatal(err)
			}
			tc.edit(&snap)
			bad, err := proto.Marshal(&snap)
			if err != nil {
				t.Fatal(err)
			}
			h := New()
			if err := h.Restore(bad, idx); !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("Restore: %v", err)
			}
		})
	}
}

// TestAuditDoesNotWakeReaders: the trail is no job's nor device's
// business, so the change feed reports nothing for it.
func TestAuditDoesNotWakeReaders(t *testing.T) {
	f := New()
	_, c := f.ChangesSince(Cursor{})
	applyAll(t, f, auditCmd(1, auditRec(1, "token:a", "OK")), pruneAuditCmd(2, stamp(5)))
	if ch, _ := f.ChangesSince(c); ch.All || ch.Tapes || ch.Registry || len(ch.Jobs)+len(ch.Disks) > 0 {
		t.Fatalf("changes after audit ops: %+v", ch)
	}
}
