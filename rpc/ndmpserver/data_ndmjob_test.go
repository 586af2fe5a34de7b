package ndmpserver

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/ndmjob"
	"github.com/ferry-san/ferry/storage/library"
)

// runNdmjob runs Amanda's ndmjob with args in dir and returns its output.
func runNdmjob(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ndmjobPath, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func needNdmjob(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ndmjobPath); err != nil {
		t.Skipf("ndmjob is not installed (%v)", err)
	}
	// ndmjob aborts unless it can write its debug log here.
	if err := os.MkdirAll("/var/log/amanda/client", 0o755); err != nil {
		t.Skipf("ndmjob's log directory: %v", err)
	}
}

// TestDataNdmjobConformance is ndmjob -o test-data: every step of D-IDLE,
// D-LISTEN (TCP and LOCAL) and D-LISTEN/bogus-args passes.
func TestDataNdmjobConformance(t *testing.T) {
	needNdmjob(t)
	addr, _ := startServer(t, Config{DataRoots: []string{"/"}})
	out, err := runNdmjob(t, t.TempDir(), "-o", "test-data", "-D", addr+"/4m,"+testUser+","+testPassword)
	if err != nil {
		t.Fatalf("ndmjob -o test-data: %v\n%s", err, out)
	}
	r := ndmjob.ParseTest([]byte(out))
	if err := r.Check(ndmjob.DataSeries); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "LOCAL and TCP addressing tested") {
		t.Errorf("ndmjob did not test both LOCAL and TCP:\n%s", out)
	}
	t.Logf("FINAL %s pass=%d fail=%d", r.Final.Status, r.Final.Pass, r.Final.Fail)
}

// recoverBytesRE is the DATA service's closing LOG_MESSAGE of a recover.
var recoverBytesRE = regexp.MustCompile(`recover into \S+ on \S+: (\d+) entries, (\d+) bytes read`)

// TestDataNdmjobBackupRecover drives DATA and MOVER of one session (LOCAL)
// with ndmjob as the DMA: -c with an index, -t, -x of everything and -x of
// one small file by direct access, which reads a small part of the tape.
func TestDataNdmjobBackupRecover(t *testing.T) {
	needNdmjob(t)
	fc := newFakeCluster(t, "A00001L9")
	if err := fc.lib.Move("A00001L9", library.AtDrive(0)); err != nil {
		t.Fatal(err)
	}
	addr, _ := startServer(t, Config{Cluster: fc, DataRoots: []string{"/"}})
	agent := addr + "/4m," + testUser + "," + testPassword
	work := t.TempDir()
	src := filepath.Join(work, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeDataTree(t, src)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB, before the small file
	if err := os.WriteFile(filepath.Join(src, "sub", "a-big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(work, "index")
	ndm := func(what string, args ...string) string {
		t.Helper()
		out, err := runNdmjob(t, work, append(args, "-D", agent, "-f", "lib/0", "-v")...)
		if err != nil || !strings.Contains(out, "Operation ended OKAY") {
			t.Fatalf("ndmjob %s: %v\n%s", what, err, out)
		}
		return out
	}

	ndm("-c", "-c", "-C", src, "-I", index)
	idx, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(idx), "DHf /sub/deeper/c.txt UNIX f- m0640") {
		t.Fatalf("the index lacks /sub/deeper/c.txt:\n%s", idx)
	}

	toc := ndm("-t", "-t")
	if !strings.Contains(toc, "DHf /sub/b.txt UNIX") {
		t.Errorf("ndmjob -t does not list /sub/b.txt:\n%s", toc)
	}

	dst := filepath.Join(work, "dst")
	ndm("-x (all)", "-x", "-C", dst)
	for _, name := range []string{"a.txt", "sub/b.txt", "sub/a-big", "sub/deeper/c.txt", strings.Repeat("L", 150)} {
		want, _ := os.ReadFile(filepath.Join(src, name))
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after -x: %v", name, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dst, "sub", "hard")); err != nil || fi.Sys() == nil {
		t.Errorf("hard link: %v", err)
	}

	one := filepath.Join(work, "one")
	out := ndm("-x -J", "-x", "-C", one, "-J", index, "/sub/deeper/c.txt")
	if got, err := os.ReadFile(filepath.Join(one, "sub", "deeper", "c.txt")); err != nil || string(got) != "charlie\n" {
		t.Fatalf("direct recover: %q %v\n%s", got, err, out)
	}
	if _, err := os.Stat(filepath.Join(one, "sub", "a-big")); err == nil {
		t.Error("direct recover of one file restored another")
	}
	m := recoverBytesRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no recover summary:\n%s", out)
	}
	read, _ := strconv.Atoi(m[2])
	if read > 64<<10 {
		t.Errorf("direct recover of a 8-byte file read %d bytes of a stream of more than %d", read, len(big))
	}
	if !strings.Contains(out, "LOG_FILE messages: 1 OK, 0 ERROR, total 1 of 1") {
		t.Errorf("ndmjob did not count one LOG_FILE OK:\n%s", out)
	}
	t.Logf("direct recover of one file read %d bytes", read)
}
