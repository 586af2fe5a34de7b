package ndmpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/executor"
	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/internal/freeport"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scheduler"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/library"
	"github.com/ferry-san/ferry/storage/tape"
)

// realNode is a cluster node run in-process on loopback with what an agent
// runs beside it for NDMP: the scheduler (the LeaseService when it leads),
// the executor (its lease renewals, copies and NDMP sessions) and the
// Cluster the NDMP server uses.
type realNode struct {
	*cluster.Node
	exec *executor.Executor
	nc   *nodeCluster
	stop func()
	// freeze stops the executor's lease renewals (and its copies and
	// sessions), as a process stopped with SIGSTOP would, leaving the
	// node's Raft and gossip running.
	freeze func()
}

// freeGossipPort is a port free for both TCP and UDP, as memberlist needs.
func freeGossipPort(t *testing.T) int {
	t.Helper()
	port, err := freeport.TCPAndUDP()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// testLease is the scheduler's lease in these tests: a lapse shows within
// it, and renewals (every 50 ms) keep well inside it on a loaded machine.
const testLease = 1500 * time.Millisecond

func startRealNode(t *testing.T, name string, join []string) (*realNode, int) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gossip := freeGossipPort(t)
	cfg := cluster.Config{NodeName: name, Site: "east", Mover: true, DataDir: filepath.Join(t.TempDir(), name),
		GRPCAddr: ln.Addr().String(), GossipPort: gossip, Join: join, TickInterval: 20 * time.Millisecond, Logger: log}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	gs := grpc.NewServer(cluster.ServerOptions()...)
	ferryv1.RegisterRaftTransportServer(gs, n.Transport())
	sched := scheduler.New(n, scheduler.Config{Lease: testLease, Logger: log})
	ferryv1.RegisterLeaseServiceServer(gs, sched)
	go gs.Serve(ln)
	exec := executor.New(n, executor.Config{Logger: log, RenewInterval: 50 * time.Millisecond, RenewDeadline: time.Second})
	runCtx, stopRun := context.WithCancel(context.Background())
	execCtx, stopExec := context.WithCancel(runCtx)
	var wg sync.WaitGroup
	wg.Add(2)
	execDone := make(chan struct{})
	go func() { defer wg.Done(); sched.Run(runCtx) }()
	go func() { defer wg.Done(); exec.Run(execCtx); close(execDone) }()
	var once sync.Once
	rn := &realNode{Node: n, exec: exec, nc: newNodeCluster(n, exec, log)}
	rn.freeze = func() { stopExec(); <-execDone }
	rn.stop = func() {
		once.Do(func() {
			stopRun()
			wg.Wait()
			gs.Stop()
			n.Stop()
		})
	}
	t.Cleanup(rn.stop)
	return rn, gossip
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustPropose(t *testing.T, n *realNode, cmd *ferryv1.Command) fsm.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := n.Propose(ctx, cmd)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("%T: %v", cmd.GetOp(), err)
	}
	return res
}

// labelled makes a cartridge image with its VOL1 label.
func labelled(t *testing.T, dir, barcode string) string {
	t.Helper()
	path := filepath.Join(dir, barcode+".tap")
	c, err := tape.Create(path, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.WriteLabel(c, barcode); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNodeClusterSessionsAcrossNodes runs three real nodes: a copy job
// waits for a cartridge a DMA loaded, naming the DMA, and runs once the
// DMA unloads it; a DMA's move of a cartridge a session holds is refused;
// the session of a node that dies ends within a lease with its cartridge
// home, and the next session (through another node) finds the
// interrupted file's tail gone.
func TestNodeClusterSessionsAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	n1, g1 := startRealNode(t, "n1", nil)
	join := []string{fmt.Sprintf("127.0.0.1:%d", g1)}
	n2, _ := startRealNode(t, "n2", join)
	n3, _ := startRealNode(t, "n3", join)
	nodes := []*realNode{n1, n2, n3}
	waitFor(t, 30*time.Second, "three voters", func() bool { return len(n1.ConfState().GetVoters()) == 3 })
	waitFor(t, 10*time.Second, "a leader", func() bool { return n1.IsLeader() || n2.IsLeader() || n3.IsLeader() })

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db01.img")
	if err := disk.Create(dbPath, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	mustPropose(t, n1, &ferryv1.Command{Op: &ferryv1.Command_RegisterDisk{RegisterDisk: &ferryv1.RegisterDiskOp{Disk: &ferryv1.Disk{
		Name: "db01", Naa: "3000000000000001", Path: dbPath, SizeBytes: 1 << 20, BlockSize: 512, Site: "east"}}}})
	mustPropose(t, n1, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "libA", Dir: dir, Site: "east", Slots: 4, Drives: 2, IeSlots: 1, CartridgeCapacityBytes: 1 << 30}}}})
	for i, b := range []string{"A00001L9", "A00002L9"} {
		mustPropose(t, n1, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
			Barcode: b, Library: "libA", Naa: fmt.Sprintf("300000000000001%d", i), Path: labelled(t, dir, b), CapacityBytes: 1 << 30,
			Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: uint32(i + 1)}}}}})
	}
	ctx := context.Background()
	// A session on a node that is not the leader: its death is a lease
	// lapse, not a new election.
	var victim, other *realNode
	for _, n := range nodes[1:] {
		if !n.IsLeader() && victim == nil {
			victim = n
		} else if other == nil {
			other = n
		}
	}
	if victim == nil || other == nil {
		victim, other = n2, n3
	}

	// Every node's robot shows the same library.
	for _, n := range nodes {
		libs, err := n.nc.Libraries(ctx)
		if err != nil || len(libs) != 1 || len(libs[0].State.Cartridges) != 2 {
			t.Fatalf("%s's libraries: %v, %v", n.Name(), libs, err)
		}
	}

	// A copy job waits for the cartridge a DMA loaded, and says why.
	const dma = "10.0.0.5:41234"
	if err := other.nc.Move(ctx, "libA", library.AtSlot(2), library.AtDrive(1), dma); err != nil {
		t.Fatal(err)
	}
	ref := func(name string) *ferryv1.DeviceRef {
		return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}
	}
	mustPropose(t, n1, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{JobId: "copy1", Spec: &ferryv1.JobSpec{
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: ref("db01")},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: ref("A00002L9")},
	}}}})
	want := "cartridge A00002L9 is in drive libA/1, loaded through NDMP by " + dma
	waitFor(t, 10*time.Second, "the copy's wait reason", func() bool {
		j, _ := n1.FSM().Job("copy1")
		return strings.Contains(j.GetStateReason(), want)
	})
	if err := other.nc.Move(ctx, "libA", library.AtDrive(1), library.AtSlot(2), dma); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the copy to succeed once the DMA unloaded", func() bool {
		j, _ := n1.FSM().Job("copy1")
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED
	})

	// A session through the victim writes one file and half of another.
	if err := victim.nc.Move(ctx, "libA", library.AtSlot(1), library.AtDrive(0), dma); err != nil {
		t.Fatal(err)
	}
	d, err := victim.nc.OpenDrive(ctx, DriveRequest{Library: "libA", Drive: 0, DMA: dma, ReadWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.nc.OpenDrive(ctx, DriveRequest{Library: "libA", Drive: 0, DMA: "10.0.0.6:1", ReadWrite: false}); !errors.Is(err, ErrHeld) {
		t.Fatalf("a second session on the held drive: %v", err)
	}
	if err := other.nc.Move(ctx, "libA", library.AtDrive(0), library.AtSlot(1), "10.0.0.6:1"); !errors.Is(err, ErrHeld) {
		t.Fatalf("a DMA's move of the session's cartridge: %v", err)
	}
	for i := range 5 {
		if _, err := d.WriteRecord(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := d.WriteFilemarks(1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	libs, _ := other.nc.Libraries(ctx)
	if h := libs[0].Holders[0]; !strings.Contains(h, "NDMP session from "+dma+" on "+victim.Name()) {
		t.Fatalf("drive 0's holder as another node's robot shows it: %q", h)
	}
	var sessionID string
	for _, j := range mustJobs(n1) {
		if fsm.IsNDMP(j) && j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING {
			sessionID = j.GetId()
		}
	}

	// The victim dies: NDMP has no reconnect.
	died := time.Now()
	victim.stop()
	waitFor(t, 4*testLease, "the session to end with its cartridge home", func() bool {
		j, _ := other.FSM().Job(sessionID)
		c, _ := other.FSM().Cartridge("A00001L9")
		return j.GetState() == ferryv1.JobState_JOB_STATE_FAILED && c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_SLOT
	})
	t.Logf("the dead node's session ended and its cartridge was home %v after the node stopped (lease %v)", time.Since(died).Round(10*time.Millisecond), testLease)
	j, _ := other.FSM().Job(sessionID)
	if !strings.HasPrefix(j.GetStateReason(), "node "+victim.Name()+" died; NDMP has no reconnect") {
		t.Fatalf("the session's reason: %q", j.GetStateReason())
	}

	// The next session, through another node, finds end of data at the
	// interrupted file's start.
	if err := other.nc.Move(ctx, "libA", library.AtSlot(1), library.AtDrive(0), dma); err != nil {
		t.Fatal(err)
	}
	d, err = other.nc.OpenDrive(ctx, DriveRequest{Library: "libA", Drive: 0, DMA: dma, ReadWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Space(tape.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	if p, _ := d.ReadPosition(); p.File != 1 || p.ObjectID != 4 {
		t.Fatalf("end of data at %+v, want after the first file's filemark (object 4, file 1)", p)
	}
	if _, err := d.WriteRecord([]byte("next backup")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteFilemarks(1); err != nil {
		t.Fatal(err)
	}
	if err := d.Release(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := other.FSM().Cartridge("A00001L9")
	if n := len(c.GetFiles()); n != 2 || c.GetFiles()[1].GetBytes() != uint64(len("next backup")) ||
		c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
		t.Fatalf("cartridge after the second session: %v", c)
	}
}

func mustJobs(n *realNode) []*ferryv1.Job {
	jobs, _ := n.FSM().Jobs(fsm.Query{})
	return jobs
}

// TestNodeClusterLeaseLapse: a node that stops renewing its lease (frozen,
// cut off from the leader) while gossip still sees it loses its session
// when the lease lapses: the leader ends it FAILED with the cartridge
// home, and the frozen session writes nothing more.
func TestNodeClusterLeaseLapse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	n1, g1 := startRealNode(t, "n1", nil)
	join := []string{fmt.Sprintf("127.0.0.1:%d", g1)}
	n2, _ := startRealNode(t, "n2", join)
	n3, _ := startRealNode(t, "n3", join)
	waitFor(t, 30*time.Second, "three voters", func() bool { return len(n1.ConfState().GetVoters()) == 3 })
	var victim, other *realNode
	waitFor(t, 10*time.Second, "a leader", func() bool {
		victim, other = nil, nil
		for _, n := range []*realNode{n1, n2, n3} {
			switch {
			case n.IsLeader():
				other = n
			case victim == nil:
				victim = n
			}
		}
		return victim != nil && other != nil
	})
	dir := t.TempDir()
	mustPropose(t, other, &ferryv1.Command{Op: &ferryv1.Command_RegisterLibrary{RegisterLibrary: &ferryv1.RegisterLibraryOp{Library: &ferryv1.Library{
		Name: "libA", Dir: dir, Site: "east", Slots: 2, Drives: 1, CartridgeCapacityBytes: 1 << 30}}}})
	mustPropose(t, other, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: &ferryv1.Cartridge{
		Barcode: "A00001L9", Library: "libA", Naa: "3000000000000011", Path: labelled(t, dir, "A00001L9"), CapacityBytes: 1 << 30,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1}}}}})
	ctx := context.Background()
	if err := victim.nc.Move(ctx, "libA", library.AtSlot(1), library.AtDrive(0), "10.0.0.5:1"); err != nil {
		t.Fatal(err)
	}
	d, err := victim.nc.OpenDrive(ctx, DriveRequest{Library: "libA", Drive: 0, DMA: "10.0.0.5:1", ReadWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteRecord(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	// Renewals carry the session: it outlives several leases.
	waitFor(t, 10*time.Second, "a renewal with the session's bytes", func() bool {
		j, _ := other.FSM().Job(d.(nodeDrive).Job().GetId())
		return j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING
	})
	frozen := time.Now()
	victim.freeze()
	id := d.(nodeDrive).Job().GetId()
	waitFor(t, 6*testLease, "the leader to end the session", func() bool {
		j, _ := other.FSM().Job(id)
		c, _ := other.FSM().Cartridge("A00001L9")
		return j.GetState() == ferryv1.JobState_JOB_STATE_FAILED && c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_SLOT
	})
	t.Logf("lease lapse: the session ended, its cartridge home, %v after renewals stopped (lease %v)", time.Since(frozen).Round(10*time.Millisecond), testLease)
	j, _ := other.FSM().Job(id)
	if !strings.Contains(j.GetStateReason(), "NDMP has no reconnect") || !strings.Contains(j.GetStateReason(), "lease expired") {
		t.Fatalf("reason %q", j.GetStateReason())
	}
	if _, err := d.WriteRecord(make([]byte, 512)); err == nil {
		t.Fatal("the frozen session wrote after its job ended")
	}
	_ = d.Close()
}
