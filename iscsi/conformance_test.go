package iscsi

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// summaryTests matches CUnit's run summary line for tests:
// "tests  Total  Ran  Passed  Failed  Inactive".
var summaryTests = regexp.MustCompile(`(?m)^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)`)

// TestLibiscsiConformance runs libiscsi's iSCSI protocol tests against the
// target serving an in-memory LUN. It needs Debian's libiscsi-bin.
func TestLibiscsiConformance(t *testing.T) {
	tool, err := exec.LookPath("iscsi-test-cu")
	if err != nil {
		t.Skip("iscsi-test-cu not installed (Debian package libiscsi-bin): libiscsi conformance not checked")
	}
	if testing.Short() {
		t.Skip("libiscsi conformance skipped in -short mode")
	}
	addr, _ := startTarget(t, func(c *Config) { c.Logger = discardLogger() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "--dataloss", "--test=iSCSI.*",
		"iscsi://"+addr+"/"+testIQN+"/0").CombinedOutput()
	m := summaryTests.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no CUnit summary (exit %v):\n%s", err, out)
	}
	ran, _ := strconv.Atoi(string(m[2]))
	failed, _ := strconv.Atoi(string(m[4]))
	// CUnit counts a skipped test as passed: show the skips.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "[SKIPPED]") && !strings.Contains(line, "PERSISTENT RESERVE") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if ran == 0 || failed > 0 {
		t.Fatalf("iscsi-test-cu iSCSI.*: %d ran, %d failed:\n%s", ran, failed, out)
	}
	t.Logf("iscsi-test-cu iSCSI.*: %d tests ran, none failed", ran)
}
