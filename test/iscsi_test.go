package test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// iscsiTarget is the target name of the test clusters (cluster name ferry).
const iscsiTarget = "iqn.2026-11.io.ferry:ferry"

// conformanceSuites are the libiscsi suites the target must pass, each in
// one run. The copy suites must also run every test: CUnit counts a
// skipped test as passed.
var conformanceSuites = []struct {
	suite  string
	noSkip bool
}{
	{"SCSI.ExtendedCopy", true},
	{"SCSI.ReceiveCopyResults", true},
	{"SCSI.Inquiry", false},
	{"SCSI.ReadCapacity10", false},
	{"SCSI.ReadCapacity16", false},
	{"SCSI.Read10", false},
	{"SCSI.Read16", false},
	{"SCSI.Write10", false},
	{"SCSI.Write16", false},
	{"SCSI.TestUnitReady", false},
	{"SCSI.ReportSupportedOpcodes", false},
	{"SCSI.Verify10", false},
	{"SCSI.WriteSame10", false},
	{"iSCSI.*", false},
}

// summaryRE is CUnit's run summary line for tests: total, ran, passed,
// failed, inactive.
var summaryRE = regexp.MustCompile(`(?m)^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)

// TestISCSIConformance runs libiscsi's iscsi-test-cu against one node's
// portal of a 3-node cluster with two 64 MiB LUNs (the second for copies).
func TestISCSIConformance(t *testing.T) {
	tool, err := exec.LookPath("iscsi-test-cu")
	if err != nil {
		t.Skip("iscsi-test-cu is not installed (Debian libiscsi-bin); `make test` installs it when run as root")
	}
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m.addEmptyDisk(ctx, "lun1", 64<<20)
	m.addEmptyDisk(ctx, "lun2", 64<<20)
	node, err := m.c.Node("n2")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("iscsi://%s/%s/1", node.ISCSIAddr(), iscsiTarget)
	// Through this very portal: iscsi-ls would follow SendTargets to every
	// node's, and another node may present the disks first.
	waitFor(t, ctx, "LUNs 1 and 2 presented by n2", func() (bool, string) {
		for _, lun := range []int{1, 2} {
			out, err := exec.CommandContext(ctx, "iscsi-inq", fmt.Sprintf("iscsi://%s/%s/%d", node.ISCSIAddr(), iscsiTarget, lun)).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("DIRECT_ACCESS")) {
				return false, fmt.Sprintf("LUN %d: %v: %s", lun, err, out)
			}
		}
		return true, ""
	})
	for _, s := range conformanceSuites {
		t.Run(s.suite, func(t *testing.T) {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(sctx, tool, "--dataloss", "--test="+s.suite, url).CombinedOutput()
			if err != nil {
				t.Fatalf("iscsi-test-cu: %v\n%s", err, out)
			}
			m := summaryRE.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no run summary:\n%s", out)
			}
			ran, _ := strconv.Atoi(string(m[2]))
			failed, _ := strconv.Atoi(string(m[4]))
			skips := skipped(out)
			t.Logf("%s: %d tests ran, %d failed, %d skipped", s.suite, ran, failed, len(skips))
			for _, sk := range skips {
				t.Logf("  skipped: %s", sk)
			}
			if ran == 0 || failed > 0 {
				t.Errorf("%s: %d of %d tests failed:\n%s", s.suite, failed, ran, out)
			}
			if s.noSkip && len(skips) > 0 {
				t.Errorf("%s must run every test, but skipped %d:\n%s", s.suite, len(skips), strings.Join(skips, "\n"))
			}
		})
	}
}

// skipped lists the [SKIPPED] lines of an iscsi-test-cu run.
func skipped(out []byte) []string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "[SKIPPED]") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}
