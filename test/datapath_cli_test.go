package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// cliTimeout bounds one ferry client command, copies included; the disks
// are a few MiB, so this is a hang detector, not an expectation.
const cliTimeout = 2 * time.Minute

// diskBytes is the size of the test disks: 8192 blocks of 512 bytes.
const diskBytes = 4 << 20

// cliResult is what one run of the ferry client printed and returned.
type cliResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("ferry %s: exit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// cli runs ferry client commands against one node, with an environment
// free of FERRY_* variables so the caller's settings cannot leak in.
type cli struct {
	t    *testing.T
	addr string
	// netns runs the client in that network namespace, where addr is.
	netns string
	// env is added to the client's environment: the cluster's client
	// certificate (localcluster's ClientEnv) on a secure cluster.
	env []string
}

// nodeCLI is a cli for the cluster's node, with the harness's client
// certificate when the cluster is secure.
func nodeCLI(t *testing.T, c *localcluster.Cluster, n *localcluster.Node) cli {
	t.Helper()
	env, err := c.ClientEnv()
	if err != nil {
		t.Fatal(err)
	}
	return cli{t: t, addr: n.GRPCAddr(), netns: n.Netns, env: env}
}

func (c cli) run(args ...string) cliResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	name, argv := ferryBinary, append(args, "-addr", c.addr)
	if c.netns != "" {
		name, argv = "ip", append([]string{"netns", "exec", c.netns, ferryBinary}, argv...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FERRY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		r.code = exit.ExitCode()
	default:
		c.t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(r.stderr, bad) {
			c.t.Fatalf("ferry crashed:\n%s", r)
		}
	}
	return r
}

// ok runs a command that must succeed.
func (c cli) ok(args ...string) cliResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// fails runs a command that must exit with code and mention every one of
// want (case-insensitively) on stderr.
func (c cli) fails(code int, want []string, args ...string) cliResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Errorf("want exit %d:\n%s", code, r)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(w)) {
			c.t.Errorf("stderr does not mention %q:\n%s", w, r)
		}
	}
	return r
}

// copyResultRE is the line a successful copy ends with.
var copyResultRE = regexp.MustCompile(`(?m)^sha256 ([0-9a-f]{64})  (\d+) bytes in \S+ \([0-9.-]+ MiB/s\)$`)

// copied runs a copy that must succeed and checks the SHA-256 and byte
// count it reports.
func (c cli) copied(wantSum string, wantBytes int, args ...string) {
	c.t.Helper()
	r := c.ok(append([]string{"copy"}, args...)...)
	m := copyResultRE.FindStringSubmatch(r.stdout)
	if m == nil {
		c.t.Fatalf("no result line:\n%s", r)
	}
	if m[1] != wantSum || m[2] != fmt.Sprint(wantBytes) {
		c.t.Errorf("copy %s reported sha256 %s of %s bytes, want %s of %d:\n%s", strings.Join(args, " "), m[1], m[2], wantSum, wantBytes, r)
	}
}

// verified runs verify, which must succeed and report wantSum for both sides.
func (c cli) verified(wantSum string, src, dst string) {
	c.t.Helper()
	r := c.ok("verify", src, dst)
	if n := strings.Count(r.stdout, "sha256 "+wantSum+" "); n != 2 {
		c.t.Errorf("verify %s %s: want both sides hashed as %s:\n%s", src, dst, wantSum, r)
	}
}

// startDataCluster starts a one-node cluster that runs its jobs (newCluster's
// nodes do not), without the sample devices, whose names (db01, A00001L9)
// the tests create themselves, and returns it with its node.
func startDataCluster(t *testing.T) (*localcluster.Cluster, *localcluster.Node) {
	t.Helper()
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// Later flags win: this overrides newCluster's -run-jobs=false and
	// -site local; the test's devices are at site east, which a node
	// reaches only from there.
	n, err := c.StartNode(ctx, localcluster.StartOptions{Name: "n1", ExtraArgs: []string{"-run-jobs=true", "-site", "east"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	return c, n
}

// fillRandom replaces the file's bytes with random ones, keeping its size,
// and returns the new contents.
func fillRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestDataPathCLI drives the data path end to end through the ferry binary
// against a real node: devices, labels, copies between disks and tapes with
// their SHA-256 checked against the files, verify, and the exit status and
// message of each kind of bad input.
func TestDataPathCLI(t *testing.T) {
	c, node := startDataCluster(t)
	f := nodeCLI(t, c, node)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	// Devices: two disks with different random contents, two tapes.
	r := f.ok("disk", "create", "--name", "db01", "--size", "4MiB", "--path", path("db01.img"), "--block-size", "512", "--site", "east")
	naa := regexp.MustCompile(`(?m)^naa: +([0-9a-f]+)$`).FindStringSubmatch(r.stdout)
	if naa == nil || !strings.Contains(r.stdout, "blocks:      8192") {
		t.Fatalf("disk create does not show the NAA and 8192 blocks:\n%s", r)
	}
	db01 := fillRandom(t, path("db01.img"), diskBytes)
	f.ok("disk", "create", "--name", "db02", "--size", "4MiB", "--path", path("db02.img"))
	fillRandom(t, path("db03.img"), diskBytes)
	f.ok("disk", "add", "--name", "db03", "--path", path("db03.img"), "--site", "east")
	r = f.ok("disk", "list")
	for _, d := range []string{"db01", "db02", "db03"} {
		if !strings.Contains(r.stdout, d+" ") {
			t.Errorf("disk list lacks %s:\n%s", d, r)
		}
	}
	f.ok("library", "create", "--name", "libA", "--slots", "4", "--drives", "2", "--dir", path("libA"), "--site", "east", "--capacity", "64MiB")
	f.ok("tape", "label", "--library", "libA", "--slot", "1", "--barcode", "A00001L9")
	f.ok("tape", "label", "--library", "libA", "--slot", "2", "--barcode", "B00001L9")
	r = f.ok("library", "inventory", "libA")
	for _, re := range []string{`(?m)^slot 1 +A00001L9 `, `(?m)^slot 2 +B00001L9 `, `(?m)^slot 3 +empty `, `(?m)^drive 1 +empty `, `(?m)^i/e 1 +empty `} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("inventory does not match %s:\n%s", re, r)
		}
	}
	r = f.ok("tape", "list", "--library", "libA")
	if !strings.Contains(r.stdout, "A00001L9") || !strings.Contains(r.stdout, "B00001L9") {
		t.Errorf("tape list lacks the cartridges:\n%s", r)
	}

	// Copies, each reporting the SHA-256 of what it wrote.
	whole := sum(db01)
	f.copied(whole, diskBytes, "disk:db01", "tape:A00001L9")
	f.copied(whole, diskBytes, "tape:A00001L9#1", "disk:db02")
	if got, err := os.ReadFile(path("db02.img")); err != nil || !bytes.Equal(got, db01) {
		t.Errorf("db02 after the tape round trip differs from db01 (read error %v)", err)
	}
	f.verified(whole, "disk:db01", "disk:db02")
	f.verified(whole, "disk:db01", "tape:A00001L9#1")
	f.copied(sum(db01[:8*512]), 8*512, "disk:db01@0+8", "disk:db02@0")
	f.copied(sum(db01[16*512:]), diskBytes-16*512, "disk:naa."+naa[1]+"@16", "disk:db02@16", "--verify", "--bwlimit", "100MiB/s", "--priority", "3")
	f.ok("copy", "tape:A00001L9", "tape:B00001L9")
	r = f.ok("verify", "tape:A00001L9", "tape:B00001L9")
	if m := regexp.MustCompile(`sha256 ([0-9a-f]{64})`).FindAllStringSubmatch(r.stdout, -1); len(m) != 2 || m[0][1] != m[1][1] {
		t.Errorf("tape image copy: the tapes hash differently:\n%s", r)
	}

	// A detached copy, followed with job watch, then its copy results.
	r = f.ok("copy", "disk:db01@8+8", "disk:db02@8", "--detach", "--name", "detached")
	id := strings.TrimSpace(r.stdout)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("copy --detach printed %q, want a job id", r.stdout)
	}
	f.ok("job", "watch", id)
	// Listings show where each job copies from and to, and CLI copies
	// without --name are named after their devices.
	r = f.ok("job", "list")
	for _, want := range []string{"SOURCE", "DESTINATION", "disk:db01@8+8", "disk:db02@8", "db01 → A00001L9"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job list does not show %q:\n%s", want, r)
		}
	}
	if r = f.ok("copy-results", id); strings.TrimSpace(r.stdout) == "" {
		t.Errorf("copy-results printed nothing:\n%s", r)
	}
	if r = f.ok("copy-results", id, "-o", "raw"); len(r.stdout) < 4 {
		t.Errorf("copy-results -o raw printed %d bytes, want the parameter data", len(r.stdout))
	}
	f.ok("copy-results", id, "--operating-parameters")

	// Bad input: the exit status and what the message must name.
	f.fails(1, []string{"nope"}, "copy", "disk:nope", "disk:db02")
	f.fails(1, []string{"nope"}, "copy", "tape:NOPE01L9#1", "disk:db02")
	f.fails(1, []string{"past the end"}, "copy", "disk:db01@8000+1000", "disk:db02")
	f.fails(2, []string{"disk:NAME[@LBA[+BLOCKS]]", "tape:BARCODE[#FILE]"}, "copy", "disk:db01@x", "disk:db02")
	f.fails(2, []string{"unknown device kind"}, "copy", "lun:db01", "disk:db02")
	f.fails(2, []string{"-bwlimit"}, "copy", "disk:db01", "disk:db02", "--bwlimit", "fast")
	f.fails(2, []string{"-size"}, "disk", "create", "--name", "db09", "--size", "lots", "--path", path("db09.img"))
	f.fails(1, []string{"block_size"}, "disk", "create", "--name", "db09", "--size", "4MiB", "--path", path("db09.img"), "--block-size", "1000")
	f.fails(1, []string{"not found"}, "library", "inventory", "libZ")

	fillRandom(t, path("db04.img"), diskBytes)
	f.ok("disk", "add", "--name", "db04", "--path", path("db04.img"), "--read-only")
	f.fails(1, []string{"DATA PROTECT", "WRITE PROTECTED"}, "copy", "disk:db01", "disk:db04")

	f.ok("library", "create", "--name", "tiny", "--slots", "2", "--drives", "1", "--dir", path("tiny"), "--capacity", "1MiB")
	f.ok("tape", "label", "--library", "tiny", "--slot", "1", "--barcode", "T00001L9")
	f.fails(1, []string{"VOLUME OVERFLOW", "END-OF-PARTITION/MEDIUM DETECTED"}, "copy", "disk:db01", "tape:T00001L9")

	// A write-protected cartridge refuses the copy, and takes it again once
	// its tab is back.
	if r := f.ok("tape", "protect", "B00001L9"); !strings.Contains(r.stdout, "protected") {
		t.Fatalf("tape protect does not say so:\n%s", r)
	}
	f.fails(1, []string{"DATA PROTECT", "WRITE PROTECTED"}, "copy", "disk:db01", "tape:B00001L9")
	f.ok("tape", "unprotect", "B00001L9")
	f.copied(whole, diskBytes, "disk:db01", "tape:B00001L9")
	f.fails(1, []string{"not found"}, "tape", "protect", "Z00001L9")

	garbage := path("garbage.bin")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("this is not a parameter list "), 4), 0o644); err != nil {
		t.Fatal(err)
	}
	r = f.run("xcopy", "--param-list", garbage)
	if r.code == 0 || !strings.Contains(r.stderr, "ILLEGAL REQUEST") {
		t.Errorf("xcopy of garbage: want a non-zero exit naming the ILLEGAL REQUEST sense:\n%s", r)
	}

	r = f.fails(1, []string{"differ"}, "verify", "disk:db01", "disk:db03")
	if strings.Count(r.stdout, "sha256 ") != 2 {
		t.Errorf("verify of different disks does not print both hashes:\n%s", r)
	}
	f.fails(1, []string{"nope"}, "verify", "disk:db01", "disk:nope")
}
