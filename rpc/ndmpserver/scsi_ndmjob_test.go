package ndmpserver

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/ndmjob"
	"github.com/ferry-san/ferry/storage/library"
)

// ndmjobPath is where Debian's amanda-server puts Amanda's DMA.
const ndmjobPath = "/usr/lib/amanda/ndmjob"

// TestSCSIWithNdmjob drives the robot with Amanda's ndmjob itself, the way
// an administrator would: -q lists the inventory, -o load=, unload,
// export=, import= and init-elem-status move cartridges, a move of a
// cartridge a copy job holds fails, -o init-labels and -l load, label and
// read cartridges through the robot and the tape service. It needs ndmjob
// (skipped without it).
func TestSCSIWithNdmjob(t *testing.T) {
	if _, err := os.Stat(ndmjobPath); err != nil {
		t.Skipf("ndmjob is not installed (%v)", err)
	}
	// ndmjob aborts unless it can write its debug log here.
	if err := os.MkdirAll("/var/log/amanda/client", 0o755); err != nil {
		t.Skipf("ndmjob's log directory: %v", err)
	}
	fc := newFakeCluster(t, "A00001L9", "A00002L9", "A00003L9")
	addr, _ := startServer(t, Config{Cluster: fc})
	agent := addr + "/4m," + testUser + "," + testPassword
	dir := t.TempDir()
	ndm := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, ndmjobPath, append(args, "-R", agent, "-r", "lib")...)
		cmd.Dir = dir
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(what string, args ...string) string {
		t.Helper()
		out, err := ndm(args...)
		if err != nil {
			t.Fatalf("ndmjob %s: %v\n%s", what, err, out)
		}
		return out
	}
	inventory := func() map[int]ndmjob.Element {
		t.Helper()
		out := must("-q", "-q")
		r := ndmjob.ParseQuery([]byte(out)).Robot
		if r == nil || len(r.Errors) > 0 {
			t.Fatalf("ndmjob -q shows no robot:\n%s", out)
		}
		want := ndmjob.Assignment{ArmAddr: 0, Arms: 1, SlotAddr: 1, Slots: 4, ImpExpAddr: 5, ImpExps: 1, DriveAddr: 6, Drives: 2}
		if r.Assign != want || !strings.HasPrefix(r.Ident, "FERRY") {
			t.Fatalf("ndmjob -q: ident %q, assignment %+v\n%s", r.Ident, r.Assign, out)
		}
		els := map[int]ndmjob.Element{}
		for _, e := range r.Elements {
			els[e.Addr] = e
		}
		if len(els) != 8 {
			t.Fatalf("ndmjob -q lists %d elements:\n%s", len(els), out)
		}
		return els
	}

	els := inventory()
	for addr, want := range map[int]string{1: "A00001L9", 2: "A00002L9", 3: "A00003L9"} {
		if e := els[addr]; e.Type != "SLOT" || !e.Full || e.Barcode != want {
			t.Errorf("@%d: %+v, want a SLOT with %s", addr, e, want)
		}
	}
	if e := els[6]; e.Type != "TAPE" || e.Full {
		t.Errorf("@6: %+v, want an empty TAPE", e)
	}

	must("load", "-v", "-o", "load=1")
	if b := cartridgeAt(fc, library.AtDrive(0)); b != "A00001L9" {
		t.Fatalf("after load=1 the cluster has %q in drive 0", b)
	}
	if e := inventory()[6]; !e.Full || e.Barcode != "A00001L9" || e.Source != 1 {
		t.Fatalf("drive @6 after load=1: %+v", e)
	}
	// A copy job takes the drive: the robot refuses to unload it.
	fc.mu.Lock()
	fc.held[0] = "copy job 7f3a"
	fc.mu.Unlock()
	// ndmjob exits 0 after a failed move, saying it "had problems".
	if out, err := ndm("-v", "-o", "unload"); err == nil && !strings.Contains(out, "had problems") {
		t.Fatalf("ndmjob unloaded a drive a copy job holds:\n%s", out)
	}
	if b := cartridgeAt(fc, library.AtDrive(0)); b != "A00001L9" {
		t.Fatalf("the held cartridge moved: drive 0 has %q", b)
	}
	fc.mu.Lock()
	delete(fc.held, 0)
	fc.mu.Unlock()

	must("unload", "-v", "-o", "unload")
	must("export", "-v", "-o", "export=2")
	if b := cartridgeAt(fc, library.AtIE(1)); b != "A00002L9" {
		t.Fatalf("after export=2 the mail slot has %q", b)
	}
	must("import", "-v", "-o", "import=4")
	must("init-elem-status", "-v", "-o", "init-elem-status")

	// Labels written through drive 0 and read through drive 1: ndmjob
	// loads into the first drive unless -o tape-addr= names the drive
	// that -f opens.
	must("init-labels", "-v", "-o", "init-labels", "-T", agent, "-f", "lib/0", "-m", "FERRY1@1", "-m", "FERRY3@3")
	out := must("-l", "-v", "-l", "-T", agent, "-f", "lib/1", "-o", "tape-addr=7", "-m", "@1", "-m", "@3")
	if got := ndmjob.Labels([]byte(out)); !slices.Equal(got, []string{"FERRY1", "FERRY3"}) {
		t.Errorf("-l read %q:\n%s", got, out)
	}
	els = inventory()
	for addr, want := range map[int]string{1: "A00001L9", 2: "", 3: "A00003L9", 4: "A00002L9", 5: "", 6: "", 7: ""} {
		if e := els[addr]; e.Full != (want != "") || e.Barcode != want {
			t.Errorf("@%d at the end: %+v, want %q", addr, e, want)
		}
	}
}
