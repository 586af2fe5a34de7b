package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/cunit"
	"github.com/ferry-san/ferry/internal/localcluster"
	"github.com/ferry-san/ferry/iscsi/initiator"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// multipathInitiator is the initiator name of the multipath test's own
// sessions.
const multipathInitiator = "iqn.2026-11.io.ferry:multipath-test"

// TestISCSIMultipath: on a 3-node cluster, a disk created through one node
// is a LUN of that node's portal as soon as `ferry disk create` returns;
// the same LUN seen through two nodes' portals has one identity (NAA and
// serial) and two relative target ports; and libiscsi's SCSI.MultipathIO
// suite, given both nodes' URLs, runs its four tests and passes them all
// (Reset: a LUN reset through either node raises its unit attention on
// both paths; the CompareAndWrite ones: COMPARE AND WRITE is atomic across
// the nodes).
func TestISCSIMultipath(t *testing.T) {
	tool, err := exec.LookPath("iscsi-test-cu")
	if err != nil {
		t.Skip("iscsi-test-cu is not installed (Debian libiscsi-bin); `make test` installs it when run as root")
	}
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n1, n2 := mustNode(t, m.c, "n1"), mustNode(t, m.c, "n2")

	t.Run("LUNServedAtOnce", func(t *testing.T) {
		// The cluster's first disk, LUN 1, created through n2 (what `ferry
		// disk create` does, without the client's start-up time, so that the
		// login follows the disk's registration within milliseconds).
		dev, err := m.devices("n2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dev.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "mp1", Path: filepath.Join(m.dir, "mp1.img"), SizeBytes: 64 << 20, BlockSize: 512}); err != nil {
			t.Fatal(err)
		}
		s, err := initiator.Dial(ctx, n2.ISCSIAddr(), multipathInitiator, iscsiTarget)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.Command(ctx, 1, []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil, 8) // READ CAPACITY(10)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 0 {
			t.Fatalf("READ CAPACITY(10) right after disk create: status %#02x sense % x (LOGICAL UNIT NOT SUPPORTED is 05/25/00)", res.Status, res.Sense)
		}
		if last := binary.BigEndian.Uint32(res.Data); last != 64<<20/512-1 {
			t.Fatalf("READ CAPACITY(10): last LBA %d, want %d", last, 64<<20/512-1)
		}
	})

	t.Run("OneIdentityTwoPorts", func(t *testing.T) {
		var ids [2]lunIdentity
		for i, n := range []*localcluster.Node{n1, n2} {
			s, err := initiator.Dial(ctx, n.ISCSIAddr(), multipathInitiator, iscsiTarget)
			if err != nil {
				t.Fatal(err)
			}
			waitLUNs(t, ctx, s, 1)
			ids[i] = readIdentity(t, ctx, s, 1)
			s.Close()
		}
		t.Logf("through n1: %+v; through n2: %+v", ids[0], ids[1])
		if !bytes.Equal(ids[0].naa, ids[1].naa) || len(ids[0].naa) == 0 {
			t.Errorf("NAA designators differ between the portals: % x and % x", ids[0].naa, ids[1].naa)
		}
		if ids[0].serial != ids[1].serial || ids[0].serial == "" {
			t.Errorf("unit serial numbers differ between the portals: %q and %q", ids[0].serial, ids[1].serial)
		}
		if ids[0].relPort == ids[1].relPort || ids[0].relPort == 0 || ids[1].relPort == 0 {
			t.Errorf("relative target ports %d and %d: each node's portal must be a port of its own", ids[0].relPort, ids[1].relPort)
		}
	})

	t.Run("SCSI.MultipathIO", func(t *testing.T) {
		url := func(n *localcluster.Node) string { return fmt.Sprintf("iscsi://%s/%s/1", n.ISCSIAddr(), iscsiTarget) }
		// The exit status only says that some test failed: the report tells.
		out, err := exec.CommandContext(ctx, tool, "--dataloss", "--test=SCSI.MultipathIO", url(n1), url(n2)).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("iscsi-test-cu: %v\n%s", ctx.Err(), out)
		}
		run, perr := cunit.Parse(out)
		if perr != nil {
			t.Fatalf("iscsi-test-cu (%v): %v\n%s", err, perr, out)
		}
		if len(run.Tests) != 4 {
			t.Fatalf("SCSI.MultipathIO ran %d tests, want 4:\n%s", len(run.Tests), out)
		}
		for _, tc := range run.Tests {
			if tc.Outcome != cunit.Passed {
				t.Errorf("%s: %v: %s", tc.ID(), tc.Outcome, tc.Reason)
			}
		}
		if t.Failed() {
			t.Logf("iscsi-test-cu said:\n%s", out)
		}
	})
}

func mustNode(t *testing.T, c *localcluster.Cluster, name string) *localcluster.Node {
	t.Helper()
	n, err := c.Node(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lunIdentity is what a multipath initiator compares to know two paths
// reach one LUN, and what tells the paths apart.
type lunIdentity struct {
	naa     []byte // VPD 83h NAA designator of the logical unit
	serial  string // VPD 80h
	relPort uint16 // VPD 83h relative target port designator
}

// readIdentity reads VPD pages 80h and 83h of lun.
func readIdentity(t *testing.T, ctx context.Context, s *initiator.Session, lun uint64) lunIdentity {
	t.Helper()
	vpd := func(page byte) []byte {
		res, err := s.Command(ctx, lun, []byte{0x12, 1, page, 0x10, 0, 0}, nil, 0x1000)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 0 || len(res.Data) < 4 {
			t.Fatalf("INQUIRY VPD %#02x: status %#02x sense % x", page, res.Status, res.Sense)
		}
		end := min(4+int(binary.BigEndian.Uint16(res.Data[2:])), len(res.Data))
		return res.Data[4:end]
	}
	id := lunIdentity{serial: string(bytes.TrimRight(vpd(0x80), " \x00"))}
	for d := vpd(0x83); len(d) >= 4; {
		n := min(4+int(d[3]), len(d))
		assoc, typ, body := d[1]>>4&3, d[1]&0xf, d[4:n]
		switch {
		case assoc == 0 && typ == 3: // logical unit, NAA
			id.naa = bytes.Clone(body)
		case assoc == 1 && typ == 4 && len(body) >= 4: // target port, relative target port
			id.relPort = binary.BigEndian.Uint16(body[2:4])
		}
		d = d[n:]
	}
	return id
}
