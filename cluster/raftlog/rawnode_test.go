package raftlog

import (
	"io"
	"log"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// fsm is the smallest useful state machine: the payloads of applied entries.
type fsm struct {
	rn      *raft.RawNode
	store   *Store
	applied uint64
	cs      *pb.ConfState
	data    []string
}

// drain handles every pending Ready the way a raft node must: persist first,
// then apply, then Advance. A single voter sends no messages to peers.
func (f *fsm) drain(t *testing.T) {
	t.Helper()
	for f.rn.HasReady() {
		rd := f.rn.Ready()
		if err := f.store.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
			t.Fatalf("Save: %v", err)
		}
		for _, m := range rd.Messages {
			if m.GetTo() != 1 {
				t.Fatalf("single node sent %v to %d", m.GetType(), m.GetTo())
			}
		}
		for _, e := range rd.CommittedEntries {
			switch e.GetType() {
			case pb.EntryConfChange:
				cc := &pb.ConfChange{}
				if err := proto.Unmarshal(e.GetData(), cc); err != nil {
					t.Fatalf("decode conf change at %d: %v", e.GetIndex(), err)
				}
				f.cs = f.rn.ApplyConfChange(cc)
			case pb.EntryNormal:
				if len(e.GetData()) > 0 {
					f.data = append(f.data, string(e.GetData()))
				}
			}
			f.applied = e.GetIndex()
		}
		f.rn.Advance(rd)
	}
}

func (f *fsm) propose(t *testing.T, payloads ...string) {
	t.Helper()
	for _, p := range payloads {
		if err := f.rn.Propose([]byte(p)); err != nil {
			t.Fatalf("Propose(%q): %v", p, err)
		}
		f.drain(t)
	}
}

func raftConfig(s *Store, applied uint64) *raft.Config {
	return &raft.Config{
		ID:              1,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         s,
		Applied:         applied,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	}
}

func (f *fsm) campaign(t *testing.T) {
	t.Helper()
	if err := f.rn.Campaign(); err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	f.drain(t)
	if st := f.rn.BasicStatus().RaftState; st != raft.StateLeader {
		t.Fatalf("after Campaign the single node is %v, want leader", st)
	}
}

// TestRawNodeRestart drives a real single-node raft.RawNode on a Store,
// snapshots and compacts, restarts it from the file and checks the log and
// the replayed state are unchanged.
func TestRawNodeRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rn, err := raft.NewRawNode(raftConfig(s, 0))
	if err != nil {
		t.Fatalf("NewRawNode: %v", err)
	}
	if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	f := &fsm{rn: rn, store: s}
	f.drain(t)
	f.campaign(t)
	f.propose(t, "a", "b", "c")

	snapIndex := f.applied
	if _, err := s.CreateSnapshot(snapIndex, f.cs, []byte(strings.Join(f.data, ","))); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if err := s.Compact(snapIndex - 1); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	f.propose(t, "d", "e")
	wantData := slices.Clone(f.data)
	if !slices.Equal(wantData, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("applied %v before restart", wantData)
	}
	wantFirst, _ := s.FirstIndex()
	wantLast, _ := s.LastIndex()
	wantLog, err := s.Entries(wantFirst, wantLast+1, noLimit)
	if err != nil {
		t.Fatal(err)
	}
	wantHS, _, _ := s.InitialState()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart as a raft node does: restore the state machine from the
	// snapshot and let raft replay the committed entries after it.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.GetMetadata().GetIndex() != snapIndex {
		t.Fatalf("snapshot index after restart = %d, want %d", snap.GetMetadata().GetIndex(), snapIndex)
	}
	hs, _, _ := s.InitialState()
	if !proto.Equal(hs, wantHS) {
		t.Fatalf("HardState after restart = %v, want %v", hs, wantHS)
	}
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	gotLog, err := s.Entries(first, last+1, noLimit)
	if err != nil {
		t.Fatal(err)
	}
	if first != wantFirst || last != wantLast || !sameEntries(gotLog, wantLog) {
		t.Fatalf("log after restart = [%d,%d] %s, want [%d,%d] %s",
			first, last, fmtEntries(gotLog), wantFirst, wantLast, fmtEntries(wantLog))
	}

	rn, err = raft.NewRawNode(raftConfig(s, snapIndex))
	if err != nil {
		t.Fatalf("NewRawNode after restart: %v", err)
	}
	_, cs, _ := s.InitialState()
	f = &fsm{rn: rn, store: s, applied: snapIndex, cs: cs, data: strings.Split(string(snap.GetData()), ",")}
	f.drain(t)
	f.campaign(t)
	if !slices.Equal(f.data, wantData) {
		t.Fatalf("state after restart and replay = %v, want %v", f.data, wantData)
	}
	f.propose(t, "f")
	if want := append(wantData, "f"); !slices.Equal(f.data, want) {
		t.Fatalf("state after a new proposal = %v, want %v", f.data, want)
	}
	if last, _ := s.LastIndex(); last <= wantLast {
		t.Fatalf("LastIndex = %d, want > %d after a new proposal", last, wantLast)
	}
}
