package ndmpserver

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/internal/ndmjob"
)

// ndmjobShims builds ndmjob's shims (internal/ndmjob), which work around
// three bugs of ndmjob itself (the DMA) that stop its test-tape run
// whatever the server answers. Skips without a C compiler.
func ndmjobShims(t *testing.T) map[string]string {
	t.Helper()
	names := []string{ndmjob.ShimZeroWrite, ndmjob.ShimFillData, ndmjob.ShimSkipBWR}
	libs, err := ndmjob.BuildShims(context.Background(), t.TempDir(), names...)
	if errors.Is(err, ndmjob.ErrNoCompiler) {
		t.Skipf("ndmjob's shims: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, name := range names {
		out[name] = libs[i]
	}
	return out
}

// runNdmjobWith runs ndmjob with the given shims preloaded.
func runNdmjobWith(t *testing.T, preload []string, args ...string) (string, error) {
	t.Helper()
	if len(preload) > 0 {
		t.Setenv("LD_PRELOAD", strings.Join(preload, " "))
	}
	out, err := runNdmjob(t, t.TempDir(), args...)
	os.Unsetenv("LD_PRELOAD")
	return out, err
}

// TestTapeNdmjobConformance is ndmjob -o test-tape against the TAPE
// service over a cartridge. Unpatched, ndmjob stops at T-BW #6 without
// sending it (its own translation fails), which this test checks is the
// only step lost; with the zero-length write fixed in ndmjob, every step up
// to T-BWR #22 passes and #23 fails on ndmjob's signed-char compare; with
// that phase skipped and ndmjob's record pattern made deterministic, the
// whole run passes: FINAL test-tape Passed, fail=0.
func TestTapeNdmjobConformance(t *testing.T) {
	needNdmjob(t)
	c := tapeCluster(t, 1, 0)
	addr := serve(t, c)
	args := []string{"-v", "-v", "-o", "test-tape", "-T", addr + "/4m," + testUser + "," + testPassword, "-f", "lib/0"}

	// ndmjob as shipped.
	out, _ := runNdmjobWith(t, nil, args...)
	r := ndmjob.ParseTest([]byte(out))
	bw, ok := r.Get("T-BW")
	if fails := bw.Failures(); !ok || len(fails) != 1 || fails[0].Number != 6 || !strings.Contains(fails[0].Message, "error expected") {
		t.Fatalf("unpatched ndmjob: want only T-BW #6 lost (a request ndmjob cannot send), got %+v\n%s", bw, out)
	}
	for _, name := range []string{"T-OC", "T-BGS"} {
		if s, _ := r.Get(name); s.Status != "Passed" || s.Fail != 0 {
			t.Errorf("unpatched ndmjob: %s %s fail=%d", name, s.Status, s.Fail)
		}
	}

	shims := ndmjobShims(t)
	// The zero-length write sent: T-BWR runs up to its broken compare.
	out, _ = runNdmjobWith(t, []string{shims["zero_write"], shims["fill_data"]}, args...)
	r = ndmjob.ParseTest([]byte(out))
	for _, name := range []string{"T-OC", "T-BGS", "T-BW", "T-BR"} {
		if s, _ := r.Get(name); s.Status != "Passed" || s.Fail != 0 || s.Warn != 0 {
			t.Errorf("%s: %s pass=%d fail=%d\n%s", name, s.Status, s.Pass, s.Fail, out)
		}
	}
	bwr, _ := r.Get("T-BWR")
	fails := bwr.Failures()
	if len(fails) != 1 || fails[0].Number != 23 || bwr.Pass != 22 || !strings.Contains(fails[0].What+fails[0].Message, "compare") ||
		slices.ContainsFunc(bwr.Steps, func(s ndmjob.Step) bool { return s.Number < 23 && s.Outcome != ndmjob.Passed }) {
		t.Fatalf("T-BWR: want steps #1-#22 passed and #23 lost to ndmjob's compare, got %+v\n%s", bwr, out)
	}

	// T-BWR skipped: every other series passes, FINAL included.
	out, err := runNdmjobWith(t, []string{shims["zero_write"], shims["fill_data"], shims["skip_bwr"]}, args...)
	if err != nil {
		t.Fatalf("ndmjob -o test-tape: %v\n%s", err, out)
	}
	r = ndmjob.ParseTest([]byte(out))
	want := slices.DeleteFunc(slices.Clone(ndmjob.TapeSeries), func(s string) bool { return s == "T-BWR" })
	if err := r.Check(want); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("FINAL %s %s pass=%d fail=%d", r.Final.Program, r.Final.Status, r.Final.Pass, r.Final.Fail)
}

// TestMoverNdmjobConformance is ndmjob -o test-mover: every step of the
// M-* series, LOCAL and TCP.
func TestMoverNdmjobConformance(t *testing.T) {
	needNdmjob(t)
	c := tapeCluster(t, 1, 0)
	addr := serve(t, c)
	out, err := runNdmjob(t, t.TempDir(), "-v", "-v", "-o", "test-mover", "-T", addr+"/4m,"+testUser+","+testPassword, "-f", "lib/0")
	if err != nil {
		t.Fatalf("ndmjob -o test-mover: %v\n%s", err, out)
	}
	r := ndmjob.ParseTest([]byte(out))
	if err := r.Check(ndmjob.MoverSeries); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "LOCAL and TCP addressing tested") {
		t.Errorf("ndmjob did not test both LOCAL and TCP:\n%s", out)
	}
	t.Logf("FINAL %s %s pass=%d fail=%d", r.Final.Program, r.Final.Status, r.Final.Pass, r.Final.Fail)
}
