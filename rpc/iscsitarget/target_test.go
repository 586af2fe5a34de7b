package iscsitarget

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sbc"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/storage/disk"
)

// fakeNode is a state machine without a cluster around it.
type fakeNode struct {
	fsm *fsm.FSM

	mu      sync.Mutex
	applied chan struct{} // closed by the next Propose
}

func (f *fakeNode) WatchApplied() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applied == nil {
		f.applied = make(chan struct{})
	}
	return f.applied
}

func (f *fakeNode) FSM() *fsm.FSM                             { return f.fsm }
func (f *fakeNode) LinearizableRead(context.Context) error    { return nil }
func (f *fakeNode) WatchJob(string) (<-chan struct{}, func()) { return make(chan struct{}), func() {} }
func (f *fakeNode) Propose(_ context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	cmd.Time, cmd.Node = timestamppb.Now(), "n1"
	res := f.fsm.Apply(f.fsm.AppliedIndex()+1, cmd)
	f.mu.Lock()
	if f.applied != nil {
		close(f.applied)
		f.applied = nil
	}
	f.mu.Unlock()
	return res, nil
}

func TestPortalsListEveryNodeOfTheTarget(t *testing.T) {
	f := &fakeNode{fsm: fsm.New()}
	for i, n := range []*ferryv1.NodeInfo{
		{Name: "n2", IscsiPortal: "10.0.0.2:3260", IscsiTarget: "iqn.2026-11.io.ferry:ferry"},
		{Name: "n1", IscsiPortal: "10.0.0.1:3260", IscsiTarget: "iqn.2026-11.io.ferry:ferry"},
		{Name: "n3"}, // its port was taken: no portal
		{Name: "n4", IscsiPortal: "10.0.0.4:3260", IscsiTarget: "iqn.2026-11.io.ferry:other"},
	} {
		n.RaftId = uint64(i + 1)
		f.fsm.AddNode(uint64(i+1), n)
	}
	tg, err := New(f, Config{TargetName: "iqn.2026-11.io.ferry:ferry", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1:3260,1", "10.0.0.2:3260,1"}
	if got := tg.portals(); !slices.Equal(got, want) {
		t.Fatalf("portals %q, want %q", got, want)
	}
}

// registerDisk creates a 1 MiB image in dir and registers it.
func registerDisk(t *testing.T, f *fakeNode, dir, name, naa string) {
	t.Helper()
	path := filepath.Join(dir, name+".img")
	if err := disk.Create(path, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	res, _ := f.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
		Name: name, Naa: naa, Path: path, SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
}

// reportLUNs returns the LUN numbers the server reports.
func reportLUNs(t *testing.T, server *sbc.Server) []int {
	t.Helper()
	cdb := make([]byte, 12)
	cdb[0] = 0xA0
	cdb[9] = 0xff
	res := server.Execute(context.Background(), &task.Task{LUN: 0, CDB: cdb, AllocationLength: 255})
	if res.Status != task.Good {
		t.Fatalf("REPORT LUNS: %+v", res)
	}
	var got []int
	for off := 8; off+8 <= len(res.DataIn); off += 8 {
		got = append(got, int(res.DataIn[off])<<8&0x3f00|int(res.DataIn[off+1]))
	}
	return got
}

func TestDisksBecomeLUNsUnderTheirClusterNumbers(t *testing.T) {
	dir := t.TempDir()
	f := &fakeNode{fsm: fsm.New()}
	registerDisk(t, f, dir, "db01", "3000000000000001")
	registerDisk(t, f, dir, "gone", "3000000000000002")
	registerDisk(t, f, dir, "db03", "3000000000000003")
	if err := os.Remove(filepath.Join(dir, "gone.img")); err != nil { // not reachable from this node
		t.Fatal(err)
	}
	server := sbc.New(sbc.Config{}, nil)
	luns := newLUNSet(server, slog.New(slog.DiscardHandler))
	defer luns.close()
	luns.sync(f.fsm.Disks())
	luns.sync(f.fsm.Disks()) // again: nothing twice

	if got, want := reportLUNs(t, server), []int{1, 3}; !slices.Equal(got, want) {
		t.Fatalf("LUNs %v, want %v (db01 and db03; the unreachable disk left out)", got, want)
	}
}

// TestLUNsFollowTheAppliedState: a disk is a LUN as soon as its
// registration is applied, long before the retry timer, and is dropped as
// soon as its removal is.
func TestLUNsFollowTheAppliedState(t *testing.T) {
	dir := t.TempDir()
	f := &fakeNode{fsm: fsm.New()}
	registerDisk(t, f, dir, "db01", "3000000000000001")
	tg, err := New(f, Config{TargetName: "iqn.2026-11.io.ferry:ferry", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tg.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	waitLUNs := func(what string, want []int) {
		t.Helper()
		// Well under lunRetry: only the applied change can have done it.
		deadline := time.Now().Add(lunRetry / 2)
		for {
			got := reportLUNs(t, tg.luns.server)
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: LUNs %v, want %v", what, got, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitLUNs("registered before Serve", []int{1})
	registerDisk(t, f, dir, "db02", "3000000000000002")
	waitLUNs("db02 registered", []int{1, 2})
	res, _ := f.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_RemoveDevice{RemoveDevice: &ferryv1.RemoveDeviceOp{Disk: "db01"}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	waitLUNs("db01 removed", []int{2})
}
