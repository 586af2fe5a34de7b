package test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// updateNDMPGolden re-records the golden NDMP traffic that ndmp's
// TestGolden decodes and re-encodes byte for byte.
var updateNDMPGolden = flag.Bool("update", false, "record ndmjob's NDMP sessions into ../ndmp/testdata/golden (TestNDMPRecordGolden)")

// ndmpGoldenDir is where the recorded sessions go: beside the codec.
var ndmpGoldenDir = filepath.Join("..", "ndmp", "testdata", "golden")

// TestNDMPRecordGolden records ndmjob's NDMP sessions, through a proxy
// that keeps every byte, with ndmjob's own daemon and with a Ferry node:
// queries (CONNECT, CONFIG, SCSI with the robot), and conformance runs
// (TAPE, MOVER, DATA and their notifications). Each connection becomes
// two files, NAME-N.client and NAME-N.server, of raw record-marked bytes.
// It runs only with -update: `go test ./test -run TestNDMPRecordGolden
// -update`.
func TestNDMPRecordGolden(t *testing.T) {
	if !*updateNDMPGolden {
		t.Skip("records the golden NDMP traffic only with -update")
	}
	needNdmjob(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := os.MkdirAll(ndmpGoldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	record := func(name, target string, args func(agent string) []string) {
		t.Helper()
		rec := newRecorder(t, target)
		run := runNdmjob(ctx, t, work, name, args(rec.Addr())...)
		rec.Close()
		t.Logf("%s: %s", name, exitText(run.err))
		for i, s := range rec.Sessions() {
			for side, b := range map[string][]byte{"client": s[0], "server": s[1]} {
				path := filepath.Join(ndmpGoldenDir, fmt.Sprintf("%s-%d.%s", name, i+1, side))
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("  %s: %d bytes", path, len(b))
			}
		}
	}

	ref := startRefDaemon(t, ctx)
	refAgent := func(addr string) string { return addr + "/4m,ndmp,ndmp" }
	record("ndmjobd-query", ref.addr, func(a string) []string { return []string{"-q", "-D", refAgent(a), "-T", refAgent(a)} })
	record("ndmjobd-test-tape", ref.addr, func(a string) []string {
		return []string{"-v", "-o", "test-tape", "-T", refAgent(a), "-f", ref.tape(t)}
	})
	record("ndmjobd-test-data", ref.addr, func(a string) []string { return []string{"-v", "-o", "test-data", "-D", refAgent(a)} })

	nc := startNDMPCluster(t, 1, "A00001L9", "A00002L9")
	ferryAgent := func(addr string) string { return addr + "/4m," + ndmpUser + "," + ndmpPassword }
	record("ferry-query", nc.addr("n1"), func(a string) []string {
		return []string{"-q", "-D", ferryAgent(a), "-T", ferryAgent(a), "-R", ferryAgent(a), "-r", ndmpLibrary}
	})
	record("ferry-test-data", nc.addr("n1"), func(a string) []string { return []string{"-v", "-o", "test-data", "-D", ferryAgent(a)} })
	// A short test-tape: Debian's ndmjob stops it at T-BW #6 by itself.
	r, run := nc.robot(ctx, "n1")
	if r == nil || len(r.Of("SLOT")) == 0 {
		t.Fatalf("n1's robot gives no element status:\n%s", run.tail(20))
	}
	slot := strconv.Itoa(r.Of("SLOT")[0].Addr)
	record("ferry-test-tape", nc.addr("n1"), func(a string) []string {
		return []string{"-v", "-o", "test-tape", "-T", ferryAgent(a), "-R", ferryAgent(a), "-r", ndmpLibrary, "-m", "@" + slot, "-f", ndmpLibrary + "/0"}
	})
}
