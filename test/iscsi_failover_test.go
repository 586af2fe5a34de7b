package test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/iscsi/initiator"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

const (
	// failoverInitiator is the initiator name of the ISCSIFailover test's
	// sessions, the same through both portals.
	failoverInitiator = "iqn.2026-11.io.ferry:failover-test"
	// failoverListID is the copy's LIST IDENTIFIER.
	failoverListID = 5
	// failoverLUNBytes is the size of both LUNs.
	failoverLUNBytes = 128 << 20
	// segmentBlocks is how many blocks one block→block segment moves: its
	// BLOCK DEVICE NUMBER OF BLOCKS field is 16 bits wide.
	segmentBlocks = 32768
)

// TestISCSIFailoverExtendedCopy sends EXTENDED COPY through n1's portal of
// a 3-node cluster, kills n1 with SIGKILL while the copy runs, and follows
// the copy to its end with RECEIVE COPY RESULTS through n2's portal from
// the same I_T nexus (initiator name and ISID, as a reinstated session
// keeps them); the destination LUN must then hold the source's bytes.
func TestISCSIFailoverExtendedCopy(t *testing.T) {
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*failoverTimeout)
	defer cancel()
	data := m.addDisk(ctx, "lun1", failoverLUNBytes)
	m.addEmptyDisk(ctx, "lun2", failoverLUNBytes)
	src, dst := m.disk(ctx, "lun1"), m.disk(ctx, "lun2")
	t.Logf("lun1 is LUN %d (NAA %s), lun2 is LUN %d (NAA %s)", src.GetLun(), src.GetNaa(), dst.GetLun(), dst.GetNaa())

	n1, err := m.c.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	s1, err := initiator.Dial(ctx, n1.ISCSIAddr(), failoverInitiator, iscsiTarget)
	if err != nil {
		t.Fatal(err)
	}
	waitLUNs(t, ctx, s1, src.GetLun(), dst.GetLun())

	list := failoverCopyList(t, src, dst)
	sent := make(chan error, 1)
	go func() {
		cdb := xcopy.ExtendedCopyCDB{ParameterListLength: uint32(len(list))}.Encode()
		res, err := s1.Command(ctx, uint64(src.GetLun()), cdb, list, 0)
		if err == nil {
			err = fmt.Errorf("EXTENDED COPY completed through n1 (status %#02x, sense % x) before n1 died", res.Status, res.Sense)
		}
		sent <- err
	}()
	// The copy must have reached the cluster before n1 dies, or there is
	// nothing to fail over: wait for its job, not for the command's answer.
	job := waitXcopyJob(t, ctx, m)
	t.Logf("copy job %s is %v on %q; killing n1", job.GetId(), job.GetState(), job.GetOwner())
	if err := m.c.Kill("n1"); err != nil {
		t.Fatal(err)
	}
	m.shun("n1", true)
	select {
	case err := <-sent:
		t.Logf("EXTENDED COPY through n1 ended: %v", err)
	case <-ctx.Done():
		t.Fatal("EXTENDED COPY through n1 did not end when n1 died")
	}

	n2, err := m.c.Node("n2")
	if err != nil {
		t.Fatal(err)
	}
	status := followCopy(t, ctx, n2.ISCSIAddr(), s1.ISID(), uint64(src.GetLun()))
	t.Logf("COPY STATUS through n2: %+v", status)

	got, err := os.ReadFile(filepath.Join(m.dir, "lun2.img"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("lun2 (sha256 %s) does not hold lun1's bytes (sha256 %s)", sum(got), sum(data))
	}
	if final, err := m.job(ctx, job.GetId()); err == nil {
		t.Logf("copy job %s ended %v on %q:\n%s", final.GetId(), final.GetState(), final.GetOwner(), history(final))
	}
}

// disk returns a registered disk by name.
func (m *moverCluster) disk(ctx context.Context, name string) *ferryv1.Disk {
	m.t.Helper()
	var found *ferryv1.Disk
	err := m.call(ctx, "list disks", func(ctx context.Context, node string) error {
		dev, err := m.devices(node)
		if err != nil {
			return err
		}
		resp, err := dev.ListDisks(ctx, &ferryv1.ListDisksRequest{})
		if err != nil {
			return err
		}
		for _, d := range resp.GetDisks() {
			if d.GetName() == name {
				found = d
				return nil
			}
		}
		return fmt.Errorf("disk %s is not listed", name)
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return found
}

// waitLUNs polls TEST UNIT READY until the portal presents every LUN.
func waitLUNs(t *testing.T, ctx context.Context, s *initiator.Session, luns ...uint32) {
	t.Helper()
	for _, lun := range luns {
		waitFor(t, ctx, fmt.Sprintf("LUN %d presented", lun), func() (bool, string) {
			res, err := s.Command(ctx, uint64(lun), make([]byte, 6), nil, 0)
			if err != nil {
				t.Fatalf("TEST UNIT READY on LUN %d: %v", lun, err)
			}
			return res.Status == 0, fmt.Sprintf("status %#02x sense % x", res.Status, res.Sense)
		})
	}
}

// failoverCopyList is an EXTENDED COPY parameter list copying the whole of
// src onto dst in block→block segments, under failoverListID.
func failoverCopyList(t *testing.T, src, dst *ferryv1.Disk) []byte {
	t.Helper()
	block := func(d *ferryv1.Disk) xcopy.TargetDescriptor {
		naa, err := hex.DecodeString(d.GetNaa())
		if err != nil {
			t.Fatalf("NAA of %s: %v", d.GetName(), err)
		}
		return xcopy.TargetDescriptor{DeviceType: xcopy.DeviceBlock, NAA: naa, BlockLength: d.GetBlockSize()}
	}
	pl := &xcopy.ParameterList{ListID: failoverListID, ListIDUsage: xcopy.ListIDHeld,
		Targets: []xcopy.TargetDescriptor{block(src), block(dst)}}
	blocks := src.GetSizeBytes() / uint64(src.GetBlockSize())
	for lba := uint64(0); lba < blocks; lba += segmentBlocks {
		n := min(segmentBlocks, blocks-lba)
		pl.Segments = append(pl.Segments, xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1,
			Blocks: uint32(n), SrcLBA: lba, DstLBA: lba})
	}
	list, err := pl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// waitXcopyJob waits until the cluster records the copy as a job, asking
// the nodes that survive n1.
func waitXcopyJob(t *testing.T, ctx context.Context, m *moverCluster) *ferryv1.Job {
	t.Helper()
	var job *ferryv1.Job
	waitFor(t, ctx, "the copy's job", func() (bool, string) {
		jobs, err := listJobs(ctx, m.c, "n2", true)
		if err != nil {
			return false, err.Error()
		}
		for _, j := range jobs {
			if strings.HasPrefix(j.GetIdempotencyKey(), "xcopy:") {
				job = j
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d jobs, none from EXTENDED COPY", len(jobs))
	})
	return job
}

// followCopy logs in to addr under the I_T nexus of the lost session and
// polls COPY STATUS of failoverListID on lun until the copy completed. The first
// successful answer counts: a copy manager may forget a finished copy's
// results once it reported them (INVALID FIELD IN CDB afterwards).
func followCopy(t *testing.T, ctx context.Context, addr string, isid [6]byte, lun uint64) xcopy.CopyStatus {
	t.Helper()
	var (
		s      *initiator.Session
		status xcopy.CopyStatus
		polls  int
	)
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	cdb := xcopy.ReceiveCopyResultsCDB{Action: xcopy.ActionCopyStatus, ListID: failoverListID, AllocationLength: 12}.Encode()
	// Each change of answer is logged, so a run shows what the surviving
	// node said while it took the copy over.
	last := ""
	waitFor(t, ctx, "COPY STATUS completed through n2", func() (bool, string) {
		done, why := pollCopyStatus(t, ctx, &s, addr, isid, lun, cdb, &status)
		polls++
		if why != last {
			t.Logf("poll %d: %s", polls, why)
			last = why
		}
		return done, why
	})
	t.Logf("%d RECEIVE COPY RESULTS polls through %s", polls, addr)
	return status
}

// pollCopyStatus asks for COPY STATUS once, logging in first when *s is
// nil; it reports whether the copy completed, and what it was told.
func pollCopyStatus(t *testing.T, ctx context.Context, s **initiator.Session, addr string, isid [6]byte, lun uint64, cdb []byte, status *xcopy.CopyStatus) (bool, string) {
	t.Helper()
	if *s == nil {
		var err error
		if *s, err = initiator.DialOptions(ctx, addr, failoverInitiator, iscsiTarget, initiator.Options{ISID: isid}); err != nil {
			return false, fmt.Sprintf("login: %v", err)
		}
	}
	res, err := (*s).Command(ctx, lun, cdb, nil, 12)
	if errors.Is(err, initiator.ErrClosed) || errors.Is(err, initiator.ErrProtocol) {
		(*s).Close()
		*s = nil
		return false, fmt.Sprintf("RECEIVE COPY RESULTS: %v", err)
	}
	if err != nil {
		return false, err.Error()
	}
	if res.Status != 0 {
		return false, fmt.Sprintf("RECEIVE COPY RESULTS: status %#02x sense % x", res.Status, res.Sense)
	}
	cs, err := xcopy.DecodeCopyStatus(res.Data)
	if err != nil {
		t.Fatalf("COPY STATUS % x: %v", res.Data, err)
	}
	switch cs.Status {
	case xcopy.StatusCompleted:
		*status = cs
		return true, fmt.Sprintf("COPY STATUS %+v", cs)
	case xcopy.StatusFailed:
		t.Fatalf("the copy failed: %+v", cs)
	}
	return false, fmt.Sprintf("COPY STATUS %+v", cs)
}
