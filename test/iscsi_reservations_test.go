package test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/cunit"
	"github.com/ferry-san/ferry/internal/localcluster"
	"github.com/ferry-san/ferry/iscsi/initiator"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr/prtest"
)

// The two initiators of the reservation test.
const (
	prInitiatorA = "iqn.2026-11.io.ferry:pr-test-a"
	prInitiatorB = "iqn.2026-11.io.ferry:pr-test-b"
)

// SCSI status bytes the test expects.
const (
	statusGood                = 0x00
	statusCheckCondition      = 0x02
	statusReservationConflict = 0x18
)

// prPath is one initiator's session through one node's portal.
type prPath struct {
	t    *testing.T
	name string // "A through n1", for messages
	s    *initiator.Session
	lun  uint64
}

// dialPR logs initiator in through node with isid (zero: a new one) and
// waits until the portal presents lun.
func dialPR(t *testing.T, ctx context.Context, node *localcluster.Node, initiatorName, who string, isid [6]byte, lun uint32) *prPath {
	t.Helper()
	s, err := initiator.DialOptions(ctx, node.ISCSIAddr(), initiatorName, iscsiTarget, initiator.Options{ISID: isid})
	if err != nil {
		t.Fatalf("%s: login: %v", who, err)
	}
	t.Cleanup(func() { s.Close() })
	waitLUNs(t, ctx, s, lun)
	return &prPath{t: t, name: who, s: s, lun: uint64(lun)}
}

// do sends a command and returns its status, past unit attentions (which
// report reservation changes and resets, and are answered once each).
func (p *prPath) do(ctx context.Context, cdb, out []byte, alloc uint32) initiator.Result {
	p.t.Helper()
	for range 8 {
		res, err := p.s.Command(ctx, p.lun, cdb, out, alloc)
		if err != nil {
			p.t.Fatalf("%s: % x: %v", p.name, cdb, err)
		}
		if res.Status == statusCheckCondition && len(res.Sense) > 2 && res.Sense[2]&0x0f == 0x6 {
			p.t.Logf("%s: unit attention %02x/%02x", p.name, res.Sense[12], res.Sense[13])
			continue
		}
		return res
	}
	p.t.Fatalf("%s: % x: unit attentions without end", p.name, cdb)
	return initiator.Result{}
}

// want sends a command and fails the test unless it ends with status.
func (p *prPath) want(ctx context.Context, status byte, what string, cdb, out []byte, alloc uint32) initiator.Result {
	p.t.Helper()
	res := p.do(ctx, cdb, out, alloc)
	if res.Status != status {
		p.t.Fatalf("%s: %s: status %#02x (sense % x), want %#02x", p.name, what, res.Status, res.Sense, status)
	}
	return res
}

func write10(lba uint32) []byte {
	cdb := []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	binary.BigEndian.PutUint32(cdb[2:6], lba)
	return cdb
}

func read10(lba uint32) []byte {
	cdb := []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	binary.BigEndian.PutUint32(cdb[2:6], lba)
	return cdb
}

var (
	proutCDB  = prtest.OutCDB
	proutKeys = prtest.Keys
)

const (
	saRegister       = 0x00
	saReserve        = 0x01
	saPreempt        = 0x04
	typWriteExcl     = 0x01
	writeExclusiveTy = typWriteExcl
)

// readReservation is PERSISTENT RESERVE IN, READ RESERVATION: the
// holder's key and the type, ok false when none is held.
func (p *prPath) readReservation(ctx context.Context) (key uint64, typ byte, ok bool) {
	p.t.Helper()
	res := p.want(ctx, statusGood, "READ RESERVATION", []byte{0x5E, 0x01, 0, 0, 0, 0, 0, 0, 255, 0}, nil, 255)
	if len(res.Data) < 8 || binary.BigEndian.Uint32(res.Data[4:8]) == 0 {
		return 0, 0, false
	}
	if len(res.Data) < 24 {
		p.t.Fatalf("%s: READ RESERVATION: % x", p.name, res.Data)
	}
	return binary.BigEndian.Uint64(res.Data[8:16]), res.Data[21] & 0x0f, true
}

func (p *prPath) wantHolder(ctx context.Context, key uint64) {
	p.t.Helper()
	got, typ, ok := p.readReservation(ctx)
	if !ok || got != key || typ != writeExclusiveTy {
		p.t.Fatalf("%s: READ RESERVATION: key %#x type %d held %v, want key %#x Write Exclusive", p.name, got, typ, ok, key)
	}
}

// TestISCSIReservationsAcrossNodes: persistent reservations are the
// cluster's, whichever node's portal an initiator goes through. On a
// 3-node cluster, libiscsi's reservation suites pass with n1's and n2's
// URLs of one LUN (the tool's second sessions go through n2); A registers and reserves (Write Exclusive) through n1; B's
// write through n2 is refused with RESERVATION CONFLICT and its read
// succeeds; B preempts A through n2 and A's next write through n1 is
// refused; the reservation survives A logging in through n3 and a kill -9
// of n1 (A's node and the Raft leader), and n1's restart. A copy job and iSCSI writes never interleave: a copy
// to the reserved disk waits, saying why, and while a copy writes a disk
// an initiator's writes to it are refused.
func TestISCSIReservationsAcrossNodes(t *testing.T) {
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m.addEmptyDisk(ctx, "pr1", 16<<20)
	disk := m.disk(ctx, "pr1")
	lun := disk.GetLun()
	n1, n2, n3 := mustNode(t, m.c, "n1"), mustNode(t, m.c, "n2"), mustNode(t, m.c, "n3")
	block := make([]byte, blockSize)

	t.Run("LibiscsiThroughTwoNodes", func(t *testing.T) {
		tool, err := exec.LookPath("iscsi-test-cu")
		if err != nil {
			t.Skip("iscsi-test-cu is not installed (Debian libiscsi-bin)")
		}
		m.addEmptyDisk(ctx, "prtool", 16<<20)
		toolLUN := m.disk(ctx, "prtool").GetLun()
		url := func(n *localcluster.Node) string {
			return fmt.Sprintf("iscsi://%s/%s/%d", n.ISCSIAddr(), iscsiTarget, toolLUN)
		}
		for _, n := range []*localcluster.Node{n1, n2} {
			dialPR(t, ctx, n, prInitiatorA, "LUN presented", [6]byte{}, toolLUN).s.Close()
		}
		// Given two URLs, the tool's second initiator logs in through the
		// second: the reservation one takes is enforced on the other.
		for _, suite := range []string{"SCSI.PrinReadKeys", "SCSI.ProutRegister", "SCSI.ProutReserve", "SCSI.ProutClear", "SCSI.ProutPreempt", "SCSI.Reserve6"} {
			out, err := exec.CommandContext(ctx, tool, "--dataloss", "--test="+suite, url(n1), url(n2)).CombinedOutput()
			run, perr := cunit.Parse(out)
			if perr != nil || len(run.Tests) == 0 {
				t.Fatalf("%s (%v): %v\n%s", suite, err, perr, out)
			}
			for _, tc := range run.Tests {
				if tc.Outcome == cunit.Failed {
					t.Errorf("%s: %v: %s", tc.ID(), tc.Outcome, tc.Reason)
				}
			}
			t.Logf("%s through n1 and n2: %d tests", suite, len(run.Tests))
		}
		// The tool gives some of its sessions the second URL: n2 must have
		// seen them, or nothing was tested across nodes.
		logs, err := m.c.Tail("n2", 10000)
		if err != nil {
			t.Fatal(err)
		}
		if logins := strings.Count(logs, "initiator=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test"); logins == 0 {
			t.Errorf("iscsi-test-cu never logged in through n2, the second URL")
		} else {
			t.Logf("iscsi-test-cu logged in %d times through n2", logins)
		}
	})

	a1 := dialPR(t, ctx, n1, prInitiatorA, "A through n1", [6]byte{}, lun)
	b2 := dialPR(t, ctx, n2, prInitiatorB, "B through n2", [6]byte{}, lun)

	a1.want(ctx, statusGood, "REGISTER 0xA", proutCDB(saRegister, 0), proutKeys(0, 0xA), 0)
	a1.want(ctx, statusGood, "RESERVE Write Exclusive", proutCDB(saReserve, typWriteExcl), proutKeys(0xA, 0), 0)
	a1.want(ctx, statusGood, "WRITE(10) by the holder", write10(0), block, 0)
	b2.wantHolder(ctx, 0xA)
	b2.want(ctx, statusReservationConflict, "WRITE(10) under A's reservation", write10(1), block, 0)
	b2.want(ctx, statusGood, "READ(10) under A's Write Exclusive", read10(0), nil, blockSize)

	b2.want(ctx, statusGood, "REGISTER 0xB", proutCDB(saRegister, 0), proutKeys(0, 0xB), 0)
	b2.want(ctx, statusGood, "PREEMPT A", proutCDB(saPreempt, typWriteExcl), proutKeys(0xB, 0xA), 0)
	// B's PREEMPT is answered once every node applied it: A's very next
	// write through n1 is refused, with no wait.
	a1.want(ctx, statusReservationConflict, "WRITE(10) after B preempted A", write10(2), block, 0)
	b2.want(ctx, statusGood, "WRITE(10) by the new holder", write10(3), block, 0)

	// A logs in through n3, with the ISID of its session through n1.
	a3 := dialPR(t, ctx, n3, prInitiatorA, "A through n3", a1.s.ISID(), lun)
	t.Run("SurvivesLoginElsewhere", func(t *testing.T) {
		a3.wantHolder(ctx, 0xB)
		a3.want(ctx, statusReservationConflict, "WRITE(10) under B's reservation", write10(4), block, 0)
	})

	t.Run("SurvivesKill9OfTheNodeAWentThrough", func(t *testing.T) {
		// n1 is the node A reserved through, and the Raft leader.
		if err := m.c.Kill("n1"); err != nil {
			t.Fatal(err)
		}
		m.shun("n1", true)
		// A node without a leader refuses writes to a LUN with
		// reservations (it might be cut off from a preempt): B's writes
		// succeed again once n2 and n3 have elected one.
		waitFor(t, ctx, "B writes through n2 under a new leader", func() (bool, string) {
			res := b2.do(ctx, write10(5), block, 0)
			return res.Status == statusGood, fmt.Sprintf("status %#02x sense % x", res.Status, res.Sense)
		})
		a3.wantHolder(ctx, 0xB)
		a3.want(ctx, statusReservationConflict, "WRITE(10) after n1 died", write10(6), block, 0)
		if err := m.c.Restart(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		m.shun("n1", false)
		var back *prPath
		waitFor(t, ctx, "A logs in through n1 again", func() (bool, string) {
			s, err := initiator.DialOptions(ctx, n1.ISCSIAddr(), prInitiatorA, iscsiTarget, initiator.Options{ISID: a1.s.ISID()})
			if err != nil {
				return false, err.Error()
			}
			t.Cleanup(func() { s.Close() })
			back = &prPath{t: t, name: "A through n1 restarted", s: s, lun: uint64(lun)}
			return true, ""
		})
		waitLUNs(t, ctx, back.s, lun)
		back.wantHolder(ctx, 0xB)
		back.want(ctx, statusReservationConflict, "WRITE(10) through n1 restarted", write10(7), block, 0)
		b2.want(ctx, statusGood, "WRITE(10) by the holder", write10(8), block, 0)
	})

	t.Run("CopiesAndISCSIWritesNeverInterleave", func(t *testing.T) {
		m.addDisk(ctx, "src", 16<<20)
		// A copy to the disk B holds waits, saying so.
		job := m.submit(ctx, "to-reserved", copySpec("into pr1", diskEndpoint("src", 0, 16<<20/blockSize), diskEndpoint("pr1", 0, 16<<20/blockSize), 0))
		m.waitJob(ctx, job.GetId(), "queued because pr1 is reserved", func(j *ferryv1.Job) (bool, string) {
			return j.GetState() == ferryv1.JobState_JOB_STATE_QUEUED && strings.Contains(j.GetStateReason(), "disk pr1 is reserved"),
				j.GetState().String() + ": " + j.GetStateReason()
		})
		err := m.call(ctx, "cancel "+job.GetId(), func(ctx context.Context, node string) error {
			cl, err := m.c.Client(node)
			if err != nil {
				return err
			}
			_, err = cl.Jobs.Cancel(ctx, &ferryv1.CancelJobRequest{Id: job.GetId(), Reason: "test: the reservation is not released"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// While a copy writes pr2, B's writes to it are refused.
		m.addEmptyDisk(ctx, "pr2", 16<<20)
		pr2 := m.disk(ctx, "pr2")
		b1 := dialPR(t, ctx, n1, prInitiatorB, "B through n1 to pr2", [6]byte{}, pr2.GetLun())
		b1.want(ctx, statusGood, "WRITE(10) before the copy", write10(0), block, 0)
		copyJob := m.submit(ctx, "to-pr2", copySpec("into pr2", diskEndpoint("src", 0, 16<<20/blockSize), diskEndpoint("pr2", 0, 16<<20/blockSize), 4<<20))
		m.waitJob(ctx, copyJob.GetId(), "running", func(j *ferryv1.Job) (bool, string) { return running(j, 0) })
		b1.want(ctx, statusReservationConflict, "WRITE(10) while a copy writes the disk", write10(0), block, 0)
		b1.want(ctx, statusGood, "READ(10) while a copy writes the disk", read10(0), nil, blockSize)
		m.waitJob(ctx, copyJob.GetId(), "succeeded", func(j *ferryv1.Job) (bool, string) {
			return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, j.GetState().String() + ": " + j.GetStateReason()
		})
		waitFor(t, ctx, "B writes pr2 after the copy", func() (bool, string) {
			res := b1.do(ctx, write10(0), block, 0)
			return res.Status == statusGood, fmt.Sprintf("status %#02x", res.Status)
		})
	})
}
