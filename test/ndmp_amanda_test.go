package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/xdrpp/goxdr/xdr"

	"github.com/ferry-san/ferry/ndmp"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

const (
	// amandaReferenceEnv set to "ndmjob" runs the same test against
	// ndmjob's own NDMP daemon (simulated robot and tape) instead of Ferry:
	// what Ferry's conformance is measured against.
	amandaReferenceEnv = "FERRY_AMANDA_REFERENCE"
	// amandaTimeout bounds one Amanda command; a dump of a few MiB takes
	// seconds, but Amanda polls a drive after a load for up to two minutes.
	amandaTimeout = 4 * time.Minute
	// amandaLibrary is the Ferry library Amanda uses; its changer is named
	// after it, its first drive LIBRARY/0.
	amandaLibrary = "amlib"
	// amandaLabelPrefix starts every Amanda volume label (labelstr).
	amandaLabelPrefix = "FERRY-"
	// amandaNDMPUser and amandaNDMPPassword are the NDMP credentials of
	// the test's nodes; Amanda authenticates with MD5, its default.
	amandaNDMPUser     = "amanda"
	amandaNDMPPassword = "tape-secret"
	// amandaCapacity is each cartridge's capacity.
	amandaCapacity = 64 << 20
	// amandaLogTail is how many lines of each Amanda debug log a failed
	// test shows.
	amandaLogTail = 40
)

// amandaTools are the programs the test needs: amanda-server's and
// amanda-client's (amfetchdump, and the client side of a local dump).
var amandaTools = []string{
	"/usr/sbin/amlabel", "/usr/sbin/amtape", "/usr/sbin/amdump", "/usr/sbin/amreport", "/usr/sbin/amadmin", "/usr/sbin/amgetconf",
	"/usr/sbin/amfetchdump", "/usr/lib/amanda/amandad", "/usr/lib/amanda/sendbackup", "/usr/lib/amanda/runtar",
}

// amandaTarget is the NDMP server side Amanda is pointed at.
type amandaTarget struct {
	changerAddr, driveAddr string // HOST:PORT of the NDMP servers
	changer, drive         string // NDMP device names of the robot and the drive
	user, password         string
	capacityMiB            int
	// barcodes are the cartridges Amanda labels, in order.
	barcodes []string
	// inventory, if set, is the library as the server's own tools show it:
	// "drive 0", "slot 1"... → barcode ("" = empty).
	inventory func() map[string]string
	// whileLoaded, if set, runs while Amanda's last cartridge (its dump
	// stream read back as stream) sits in the drive, Amanda's changer
	// having loaded it; what it returns runs once Amanda ejected it.
	whileLoaded func(barcode string, stream []byte) (afterEject func())
	// afterAmanda, if set, checks the server's records of what Amanda did
	// once Amanda is done: streams are the dumps amfetchdump read back, by
	// the barcode of their cartridge.
	afterAmanda func(streams map[string][]byte)
}

// TestAmandaNDMP: Amanda (https://www.amanda.org) is NDMP's second client
// after ndmjob. Its ndmp device (ndmp:HOST:PORT@LIBRARY/DRIVE) writes and
// reads cartridges through a node's TAPE and MOVER services, its chg-ndmp
// changer moves them through another node's SCSI service (the library's
// media changer), and the test runs Amanda's own tools on this machine, as
// root would let Amanda's dump user run them: amlabel of two blank
// cartridges through the changer, two amdump runs with auth "local" (one
// cartridge each, the mover driven both ways Amanda knows), amfetchdump of
// each dump compared with the tree it backed up, amtape eject; after each
// step Amanda's view of the robot must be the library's. Then Ferry's own
// tools find what Amanda wrote: the NDMP sessions as jobs, the tape files
// in the catalog, and a copy of each dump that is byte for byte the one
// Amanda read back. The configuration is test/testdata/amanda.
func TestAmandaNDMP(t *testing.T) {
	am := newAmanda(t)
	var target amandaTarget
	if ref := os.Getenv(amandaReferenceEnv); ref == "ndmjob" {
		target = startNdmjobTarget(t, am)
	} else {
		target = startFerryTarget(t)
	}
	source := am.sourceTree()
	am.render(target, source, false)

	// Amanda's changer API asks the robot TEST UNIT READY and INQUIRY
	// (a media changer, device type 08h) for its vendor string.
	inq := am.ok("/usr/bin/perl", filepath.Join(am.testdata, "changer-inquiry.pl"), am.config)
	if m := regexp.MustCompile(`(?m)^vendor_string: (\S.*)$`).FindStringSubmatch(inq.stdout); m == nil || strings.Contains(m[1], "<unknown>") {
		t.Fatalf("the changer's INQUIRY as Amanda reads it:\n%s", inq)
	} else {
		t.Logf("chg-ndmp: TEST UNIT READY, then INQUIRY: vendor and product %q", m[1])
	}

	// The changer's inventory maps Amanda's slot numbers (storage and
	// import/export elements in READ ELEMENT STATUS order) to barcodes.
	slots := am.slots()
	labels := map[string]string{} // barcode → Amanda label
	for i, bc := range target.barcodes {
		slot, ok := slots[bc]
		if !ok {
			t.Fatalf("amtape inventory does not show cartridge %s:\n%s", bc, am.inventoryText)
		}
		label := fmt.Sprintf("%s%d", amandaLabelPrefix, i+1)
		// No -f: through NDMP a new cartridge is blank (Ferry keeps its
		// VOL1 label out of the DMA's sight), so Amanda needs no forcing.
		r := am.ok("amlabel", am.config, label, "slot", strconv.Itoa(slot))
		for _, want := range []string{"Found an empty tape.", "Success!"} {
			if !strings.Contains(r.stdout+r.stderr, want) {
				t.Fatalf("amlabel of %s in slot %d does not say %q:\n%s", bc, slot, want, r)
			}
		}
		labels[bc] = label
	}
	am.checkInventory(target, labels)

	// Two runs, one cartridge each (the changer unloads the first and
	// loads the second): the first with a zero-length mover window before
	// MOVER_LISTEN (INDIRECT "no"), the second as Amanda does by default
	// (IndirectTCP: the window is set before a late MOVER_LISTEN).
	first := describeTree(t, source)
	tape1, date1 := am.dump()
	am.checkInventory(target, labels)
	if err := os.WriteFile(filepath.Join(source, "second run.txt"), []byte("only in the second dump\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := describeTree(t, source)
	am.render(target, source, true)
	tape2, date2 := am.dump()
	if tape1 == tape2 || date1 == date2 {
		t.Fatalf("both runs went to %s at %s/%s: want one cartridge per run", tape1, date1, date2)
	}
	am.checkInventory(target, labels)

	// Each dump back, the older one from the cartridge now in a slot.
	barcodeOf := map[string]string{}
	for bc, label := range labels {
		barcodeOf[label] = bc
	}
	streams := map[string][]byte{} // barcode → the dump stream amfetchdump read from it
	for _, c := range []struct {
		tape, date string
		want       map[string]string
	}{{tape1, date1, first}, {tape2, date2, second}} {
		fetched := am.ok("amfetchdump", "-a", "-p", am.config, "localhost", source, c.date)
		restored := am.extract(fetched.stdoutBytes)
		if diff := diffDescriptions(c.want, describeTree(t, restored)); diff != "" {
			t.Fatalf("the tree amfetchdump restored from the dump of %s differs from the one amdump backed up:\n%s", c.date, diff)
		}
		t.Logf("amfetchdump of %s: %d bytes of tar, the tree as it was backed up", c.date, len(fetched.stdoutBytes))
		streams[barcodeOf[c.tape]] = fetched.stdoutBytes
		am.checkInventory(target, labels)
	}

	// Amanda unloads the drive through the robot; the server's own tools
	// then find what Amanda wrote. A copy job that wants the cartridge
	// Amanda left in the drive waits for the eject.
	var afterEject func()
	if target.whileLoaded != nil {
		held := am.inDrive
		afterEject = target.whileLoaded(held, streams[held])
	}
	am.ok("amtape", am.config, "eject")
	am.checkInventory(target, labels)
	if afterEject != nil {
		afterEject()
	}
	if target.afterAmanda != nil {
		target.afterAmanda(streams)
	}
}

// dump runs amdump and returns the volume it wrote and the dump's date
// stamp.
func (am *amanda) dump() (label, date string) {
	am.t.Helper()
	r := am.run("amdump", am.config)
	if r.code != 0 {
		// amdump prints nothing: what went wrong is in its report and
		// its logs.
		report := am.run("amreport", am.config)
		var logs strings.Builder
		paths, _ := filepath.Glob(filepath.Join(am.state, "log", "*"))
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			fmt.Fprintf(&logs, "--- %s (last %d lines) ---\n%s\n", p, min(len(lines), 60), strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
		am.t.Fatalf("want exit 0:\n%s\n--- amreport ---\n%s\n%s", r, report.stdout+report.stderr, logs.String())
	}
	report := am.ok("amreport", am.config).stdout
	if !regexp.MustCompile(`(?m)^\s*DLEs Taped\s+1\b`).MatchString(report) {
		am.t.Fatalf("amdump taped nothing:\n%s\n%s", r, report)
	}
	m := regexp.MustCompile(`taper: tape (\S+) kb (\d+) fm (\d+) \[OK\]`).FindStringSubmatch(report)
	if m == nil {
		am.t.Fatalf("the report names no cartridge written:\n%s", report)
	}
	// amadmin find: "date host disk lv storage pool tape file part status".
	found := am.ok("amadmin", am.config, "find", "localhost").stdout
	dates := regexp.MustCompile(`(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) +localhost +\S+ +0 +\S+ +\S+ +`+regexp.QuoteMeta(m[1])+` +\d+ +\S+ +OK`).FindAllStringSubmatch(found, -1)
	if len(dates) != 1 {
		am.t.Fatalf("amadmin find shows %d dumps on %s, want 1:\n%s", len(dates), m[1], found)
	}
	date = strings.NewReplacer("-", "", ":", "", " ", "").Replace(dates[0][1])
	am.t.Logf("amdump wrote %s KiB in %s file(s) to %s (dump %s)", m[2], m[3], m[1], date)
	return m[1], date
}

// amanda is one Amanda configuration of the test: /etc/amanda/<config>,
// and a state directory for everything Amanda writes, both owned by
// Amanda's dump user and removed when the test ends.
type amanda struct {
	t        *testing.T
	user     *user.User
	cred     *syscall.Credential
	config   string
	confDir  string
	state    string
	testdata string // the dump user's copy of test/testdata/amanda

	inventoryText string
	inDrive       string // the barcode in drive 0 at the last checkInventory
}

// newAmanda skips the test unless Amanda is installed and usable, and
// prepares an empty configuration.
func newAmanda(t *testing.T) *amanda {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("Amanda's Debian packages: Linux only")
	}
	for _, tool := range amandaTools {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("Amanda is not installed (%s: %v): Debian packages amanda-server and amanda-client", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("Amanda runs as its dump user and keeps its configuration in /etc/amanda: the test must run as root")
	}
	u, err := user.Lookup("backup")
	if err != nil {
		t.Skipf("Amanda's dump user: %v", err)
	}
	am := &amanda{t: t, user: u, cred: credential(t, u)}
	// Amanda's perl modules need Encode::Locale, which Debian's
	// amanda-common does not depend on (libencode-locale-perl).
	if r := am.run("amgetconf", "--version"); r.code != 0 {
		t.Skipf("Amanda's tools do not run (Debian: apt-get install libencode-locale-perl):\n%s", r)
	}
	// Amanda's tools (and ndmjob) write debug logs under /var/log/amanda
	// and abort when they cannot.
	for _, d := range []string{"/var/log/amanda", "/var/log/amanda/server", "/var/log/amanda/client", "/var/log/amanda/amandad"} {
		am.mkdir(d, 0o770, false)
	}
	// A configuration of the test's own, /etc/amanda/ferry-N (Amanda reads
	// a configuration only from there), and a state directory that Amanda's
	// files point into, both the dump user's.
	am.state, err = os.MkdirTemp("", "ferry-amanda-")
	if err != nil {
		t.Fatal(err)
	}
	am.confDir, err = os.MkdirTemp("/etc/amanda", "ferry-")
	if err != nil {
		os.RemoveAll(am.state)
		t.Fatal(err)
	}
	am.config = filepath.Base(am.confDir)
	t.Cleanup(func() {
		if t.Failed() {
			am.logTails()
		}
		if keep := os.Getenv(keepDirEnv); keep != "" {
			am.keepLogs(filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"), "amanda"))
		}
		remove := []string{am.state, am.confDir, "/var/log/amanda/server/" + am.config, "/var/log/amanda/client/" + am.config}
		// GNU tar's incremental lists, named after the host and directory
		// (the source lies in am.state).
		lists, _ := filepath.Glob("/var/lib/amanda/gnutar-lists/localhost" + strings.ReplaceAll(am.state, "/", "_") + "_*")
		// amandad's debug logs are per run, not per configuration: those of
		// the test's runs name its configuration.
		remove = append(remove, lists...)
		amandad, _ := filepath.Glob("/var/log/amanda/amandad/amandad.*.debug")
		for _, f := range amandad {
			if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte("config="+am.config+";")) {
				remove = append(remove, f)
			}
		}
		for _, d := range remove {
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("clean up Amanda: %v", err)
			}
		}
	})
	for _, d := range []string{am.state, am.confDir} {
		am.chown(d)
		if err := os.Chmod(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"curinfo", "log", "index", "holding"} {
		am.mkdir(filepath.Join(am.state, d), 0o750, true)
	}
	am.write(filepath.Join(am.state, "tapelist"), nil)
	// The dump user reads the test's own scripts from its copy.
	am.testdata = filepath.Join(am.state, "testdata")
	am.mkdir(am.testdata, 0o750, true)
	for _, name := range []string{"changer-inquiry.pl"} {
		data, err := os.ReadFile(filepath.Join("testdata", "amanda", name))
		if err != nil {
			t.Fatal(err)
		}
		am.write(filepath.Join(am.testdata, name), data)
	}
	return am
}

func credential(t *testing.T, u *user.User) *syscall.Credential {
	t.Helper()
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// The dump user's groups (disk, tape on Debian), as login would set.
	gids, err := u.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred
}

func (am *amanda) chown(path string) {
	am.t.Helper()
	if err := os.Chown(path, int(am.cred.Uid), int(am.cred.Gid)); err != nil {
		am.t.Fatal(err)
	}
}

// mkdir creates a directory for the dump user; an existing one is left as
// it is unless own.
func (am *amanda) mkdir(path string, mode os.FileMode, own bool) {
	am.t.Helper()
	err := os.Mkdir(path, mode)
	switch {
	case err == nil:
		am.chown(path)
	case errors.Is(err, fs.ErrExist):
		if own {
			am.chown(path)
		}
	default:
		am.t.Fatal(err)
	}
}

func (am *amanda) write(path string, data []byte) {
	am.t.Helper()
	if err := os.WriteFile(path, data, 0o640); err != nil {
		am.t.Fatal(err)
	}
	am.chown(path)
}

// render writes the configuration from test/testdata/amanda.
func (am *amanda) render(target amandaTarget, source string, indirect bool) {
	am.t.Helper()
	split := func(addr string) (string, string) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			am.t.Fatal(err)
		}
		return host, port
	}
	fields := map[string]any{
		"Org": "Ferry NDMP test", "DumpUser": am.user.Username, "State": am.state, "LabelPrefix": amandaLabelPrefix,
		"Changer": target.changer, "Drive": target.drive, "Auth": "md5", "User": target.user, "Password": target.password,
		"Indirect": map[bool]string{false: "no", true: "yes"}[indirect], "CapacityMiB": target.capacityMiB, "Source": source,
	}
	fields["ChangerHost"], fields["ChangerPort"] = split(target.changerAddr)
	fields["DriveHost"], fields["DrivePort"] = split(target.driveAddr)
	for _, name := range []string{"amanda.conf", "tapetypes.conf", "disklist"} {
		tmpl, err := template.New(name).Option("missingkey=error").ParseFiles(filepath.Join("testdata", "amanda", name))
		if err != nil {
			am.t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, fields); err != nil {
			am.t.Fatal(err)
		}
		am.write(filepath.Join(am.confDir, name), b.Bytes())
	}
}

// amandaResult is what one Amanda command printed and returned.
type amandaResult struct {
	args           []string
	code           int
	stdout, stderr string
	stdoutBytes    []byte
}

func (r amandaResult) String() string {
	out := r.stdout
	if len(out) > 4096 {
		out = out[:4096] + "…"
	}
	return fmt.Sprintf("%s: exit %d\n-- stdout --\n%s\n-- stderr --\n%s", strings.Join(r.args, " "), r.code, out, r.stderr)
}

// run runs an Amanda tool as the dump user in a process group of its own,
// and kills whatever the tool left running in that group.
func (am *amanda) run(name string, args ...string) amandaResult {
	am.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), amandaTimeout)
	defer cancel()
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join("/usr/sbin", name)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: am.cred, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Dir = am.state
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + am.user.HomeDir, "LANG=C", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		// Amanda's daemons (driver, taper, dumpers, amandad) end with the
		// command; anything left in its group is killed, not leaked.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	r := amandaResult{args: append([]string{name}, args...), stdout: stdout.String(), stderr: stderr.String(), stdoutBytes: stdout.Bytes()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		r.code = exit.ExitCode()
	default:
		am.t.Fatalf("%s: %v\n%s", name, err, r)
	}
	return r
}

// ok runs an Amanda tool that must succeed.
func (am *amanda) ok(name string, args ...string) amandaResult {
	am.t.Helper()
	r := am.run(name, args...)
	if r.code != 0 {
		am.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// slotRE is a line of amtape inventory: "slot 3: label FERRY-1 barcode
// A00001L9 (in drive 0) ...".
var slotRE = regexp.MustCompile(`(?m)^slot (\d+):(.*)$`)

// slots reads the changer's inventory: barcode → Amanda slot number.
func (am *amanda) slots() map[string]int {
	am.t.Helper()
	r := am.ok("amtape", am.config, "inventory")
	am.inventoryText = r.stdout + r.stderr
	slots := map[string]int{}
	for _, m := range slotRE.FindAllStringSubmatch(am.inventoryText, -1) {
		if bc := regexp.MustCompile(`barcode (\S+)`).FindStringSubmatch(m[2]); bc != nil {
			n, _ := strconv.Atoi(m[1])
			slots[bc[1]] = n
		}
	}
	return slots
}

// checkInventory compares what Amanda's changer sees (through READ ELEMENT
// STATUS) with the library as the server shows it: every cartridge is where
// both say, and its Amanda label is the one amlabel wrote.
func (am *amanda) checkInventory(target amandaTarget, labels map[string]string) {
	am.t.Helper()
	am.slots()
	inDrive := ""
	defer func() { am.inDrive = inDrive }()
	for _, m := range slotRE.FindAllStringSubmatch(am.inventoryText, -1) {
		bc := regexp.MustCompile(`barcode (\S+)`).FindStringSubmatch(m[2])
		if bc == nil {
			continue
		}
		if label, ok := labels[bc[1]]; ok && !strings.Contains(m[2], "label "+label+" ") {
			am.t.Errorf("amtape inventory: slot %s holds %s, labelled %s, but shows %q", m[1], bc[1], label, m[2])
		}
		if strings.Contains(m[2], "(in drive 0)") {
			inDrive = bc[1]
		}
	}
	if target.inventory == nil {
		return
	}
	lib := target.inventory()
	if lib["drive 0"] != inDrive {
		am.t.Errorf("drive 0 holds %q for the server, %q for Amanda:\n%s\n%v", lib["drive 0"], inDrive, am.inventoryText, lib)
	}
	held := slices.Collect(maps.Values(lib))
	for _, bc := range target.barcodes {
		if !slices.Contains(held, bc) {
			am.t.Errorf("the server's inventory lost cartridge %s: %v", bc, lib)
		}
	}
}

// sourceTree creates the directory Amanda backs up: a few MiB of random
// files, a nested directory, an empty file, a symlink, odd modes.
func (am *amanda) sourceTree() string {
	am.t.Helper()
	dir := filepath.Join(am.state, "source")
	files := map[string]int{
		"a.bin": 1 << 20, "b.bin": 1<<20 + 123, "sub/c.bin": 700 << 10, "sub/deeper/d.bin": 2 << 20,
		"sub/empty": 0, "notes.txt": 99, "a file with spaces.txt": 4096,
	}
	for name, size := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			am.t.Fatal(err)
		}
		data := make([]byte, size)
		rand.Read(data)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			am.t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "notes.txt"), 0o600); err != nil {
		am.t.Fatal(err)
	}
	if err := os.Symlink("sub/deeper/d.bin", filepath.Join(dir, "link-to-d")); err != nil {
		am.t.Fatal(err)
	}
	return dir
}

// extract unpacks what amfetchdump wrote (a GNU tar stream) into an empty
// directory with the system's tar, as a restore would.
func (am *amanda) extract(stream []byte) string {
	am.t.Helper()
	dir, err := os.MkdirTemp(am.state, "restore-")
	if err != nil {
		am.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), amandaTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-xpf", "-", "-C", dir)
	cmd.Stdin = bytes.NewReader(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		am.t.Fatalf("tar -x of amfetchdump's output (%d bytes): %v\n%s", len(stream), err, out)
	}
	return dir
}

// describeTree describes a directory tree: relative name → type, mode,
// size and SHA-256 of contents, or symlink target.
func describeTree(t *testing.T, root string) map[string]string {
	t.Helper()
	entries := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			desc += fmt.Sprintf(" %d bytes sha256 %s", len(data), hex.EncodeToString(s[:8]))
		}
		entries[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// diffDescriptions lists how got differs from want; "" when identical.
func diffDescriptions(want, got map[string]string) string {
	var diffs []string
	for name, w := range want {
		if g, ok := got[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing (want %s)", name, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", name, g, w))
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %s", name, g))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "\n")
}

// logTails shows the end of every Amanda debug log of the configuration,
// where the ndmp device and changer log each NDMP message (VERBOSE).
func (am *amanda) logTails() {
	for _, dir := range []string{"/var/log/amanda/server/" + am.config, "/var/log/amanda/client/" + am.config, filepath.Join(am.state, "log")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil || e.IsDir() {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			if len(lines) > amandaLogTail {
				lines = lines[len(lines)-amandaLogTail:]
			}
			am.t.Logf("== %s/%s (last %d lines)\n%s", dir, e.Name(), len(lines), strings.Join(lines, "\n"))
		}
	}
}

// keepLogs copies Amanda's debug logs and its configuration under dir
// (FERRY_TEST_DIR), before the test removes them.
func (am *amanda) keepLogs(dir string) {
	for _, src := range []string{"/var/log/amanda/server/" + am.config, "/var/log/amanda/client/" + am.config, am.confDir, filepath.Join(am.state, "log")} {
		dst := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(src, "/"), "/", "_"))
		if err := os.CopyFS(dst, os.DirFS(src)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			am.t.Logf("keep Amanda's logs: %v", err)
		}
	}
}

// ndmpSnoop is a proxy between Amanda and an NDMP server that decodes
// every message of the control connections it relays (the data
// connections go straight to the mover) and keeps the last ones, so that a
// failure shows what Amanda sent and what it was answered.
type ndmpSnoop struct {
	name string
	mu   sync.Mutex
	log  []string
	conn int
}

// snoopKeep is how many messages a snoop keeps.
const snoopKeep = 400

// startSnoop relays connections to addr through a proxy of its own and
// returns its address; what it saw is logged when the test fails.
func startSnoop(t *testing.T, name, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ndmpSnoop{name: name}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		l.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.Failed() {
			t.Logf("NDMP control messages through %s (last %d):\n%s", name, len(s.log), strings.Join(s.log, "\n"))
		}
		if keep := os.Getenv(keepDirEnv); keep != "" {
			dir := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"), "amanda")
			if err := os.MkdirAll(dir, 0o755); err == nil {
				os.WriteFile(filepath.Join(dir, "ndmp-"+strings.Fields(name)[0]+".log"), []byte(strings.Join(s.log, "\n")+"\n"), 0o644)
			}
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				s.add(fmt.Sprintf("dial %s: %v", addr, err))
				down.Close()
				continue
			}
			conns.Store(down, nil)
			conns.Store(up, nil)
			s.mu.Lock()
			s.conn++
			id := s.conn
			s.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); s.relay(id, "amanda>", down, up) }()
			go func() { defer wg.Done(); s.relay(id, "<server", up, down) }()
		}
	}()
	return l.Addr().String()
}

// relay copies records from one side to the other, decoding each.
func (s *ndmpSnoop) relay(id int, dir string, from, to net.Conn) {
	defer from.Close()
	defer to.Close()
	var buf []byte
	for {
		rec, err := ndmp.ReadRecord(from, buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.add(fmt.Sprintf("conn#%d %s %v", id, dir, err))
			}
			return
		}
		line := fmt.Sprintf("conn#%d %s ", id, dir)
		if m, err := ndmp.Decode(rec); err != nil {
			line += err.Error()
		} else {
			line += m.String()
			if m.Body != nil {
				line += " " + strings.Join(strings.Fields(strings.ReplaceAll(xdr.XdrToString(m.Body), "\n", "; ")), " ")
			}
		}
		if len(line) > 600 {
			line = line[:600] + "…"
		}
		s.add(line)
		if err := ndmp.WriteRecord(to, rec); err != nil {
			return
		}
		buf = rec
	}
}

func (s *ndmpSnoop) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, time.Now().Format("15:04:05.000 ")+line)
	if len(s.log) > snoopKeep {
		s.log = s.log[len(s.log)-snoopKeep:]
	}
}

// freeTCPPort is a port free on 127.0.0.1 right now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNdmjobTarget runs ndmjob's NDMP daemon as the dump user, with its
// simulated robot (a directory: its state file, slotN and driveN files).
// Its credentials are fixed (ndmp/ndmp); its robot lists two import/export
// elements before ten storage slots, full of cartridges PTAG00XX...
func startNdmjobTarget(t *testing.T, am *amanda) amandaTarget {
	t.Helper()
	sim := filepath.Join(am.state, "robot")
	am.mkdir(sim, 0o750, true)
	addr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("/usr/lib/amanda/ndmjob", "-o", "daemon", "-p", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: am.cred, Setpgid: true}
	cmd.Dir = sim
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// The daemon forks a child per session: kill its whole group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("ndmjob daemon output:\n%s", out.String())
		}
	})
	waitTCP(t, addr)
	snoop := startSnoop(t, "ndmjob's daemon", addr)
	return amandaTarget{
		changerAddr: snoop, driveAddr: snoop, changer: sim, drive: filepath.Join(sim, "drive0"),
		user: "ndmp", password: "ndmp", capacityMiB: amandaCapacity >> 20,
		barcodes: []string{"PTAG00XX", "PTAG01XX"},
	}
}

// startFerryTarget starts a three-node cluster whose nodes serve NDMP,
// with a library of two cartridges. Amanda's changer talks to n2 and its
// drive is reached through n1: the library's state is the cluster's, so a
// cartridge n2's robot loads is in n1's drive.
func startFerryTarget(t *testing.T) amandaTarget {
	t.Helper()
	// NDMP lands on main piece by piece: until the agent has its flags
	// there is nothing to test (the reference run still works).
	help, _ := exec.Command(ferryBinary, "agent", "-h").CombinedOutput()
	if !bytes.Contains(help, []byte("-ndmp-port")) {
		t.Skip("ferry agent has no -ndmp-port yet")
	}
	nodeArgs := map[string][]string{}
	for _, n := range nodeNames(3) {
		nodeArgs[n] = []string{"-ndmp-user", amandaNDMPUser, "-ndmp-password", amandaNDMPPassword}
	}
	m := startMovers(t, 3, nodeArgs)
	ports := map[string]int{}
	for _, n := range nodeNames(3) {
		node, err := m.c.Node(n)
		if err != nil {
			t.Fatal(err)
		}
		ports[n] = node.Ports.NDMP
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	barcodes := []string{"AMA001L9", "AMA002L9"}
	m.addLibrary(ctx, amandaLibrary, 1, amandaCapacity, barcodes...)
	for _, p := range ports {
		waitTCP(t, fmt.Sprintf("127.0.0.1:%d", p))
	}
	n1, err := m.c.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	client := nodeCLI(t, m.c, n1)
	heldBarcode := "" // the cartridge Amanda left in the drive
	inventory := func() map[string]string {
		inv := ferryInventory(t, client, amandaLibrary)
		// A cartridge in the drive was loaded by Amanda's changer
		// through n2's robot, and the library's record says so.
		if d, ok := inv["drive 0"]; ok && d.loadedVia != "n2" {
			t.Errorf("drive 0 holds %s loaded through %q, want n2's NDMP robot", d.barcode, d.loadedVia)
		}
		out := map[string]string{}
		for name, e := range inv {
			out[name] = e.barcode
		}
		return out
	}
	return amandaTarget{
		changerAddr: startSnoop(t, "n2's NDMP server (changer)", fmt.Sprintf("127.0.0.1:%d", ports["n2"])),
		driveAddr:   startSnoop(t, "n1's NDMP server (drive)", fmt.Sprintf("127.0.0.1:%d", ports["n1"])),
		changer:     amandaLibrary, drive: amandaLibrary + "/0",
		user: amandaNDMPUser, password: amandaNDMPPassword, capacityMiB: amandaCapacity >> 20,
		barcodes:  barcodes,
		inventory: inventory,
		whileLoaded: func(barcode string, stream []byte) func() {
			heldBarcode = barcode
			return copyAmandaDumpWhileLoaded(t, m, client, barcode, stream)
		},
		afterAmanda: func(streams map[string][]byte) {
			checkNdmpSessions(t, client, barcodes)
			for bc, stream := range streams {
				if bc != heldBarcode {
					copyAmandaDump(t, m, client, bc, stream, nil)
				}
			}
		},
	}
}

// amandaBlock is Amanda's block size, that of its labels and file headers.
const amandaBlock = 32 << 10

// amandaDumpFile is tape file 2 of a cartridge Amanda wrote, from the
// catalog: its catalog must hold Amanda's volume label as file 1 and the
// dump as file 2 (NDMP's files 0 and 1: the VOL1 label stays Ferry's file
// 0), the dump being Amanda's file header and the stream amfetchdump read.
func amandaDumpFile(t *testing.T, c cli, barcode string, stream []byte) (size int, sha256 string) {
	t.Helper()
	var cat struct {
		Files []struct {
			Bytes  string `json:"bytes"`
			Sha256 string `json:"sha256"`
		} `json:"files"`
	}
	r := c.ok("tape", "files", barcode, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &cat); err != nil {
		t.Fatalf("tape files -o json: %v\n%s", err, r)
	}
	size = amandaBlock + len(stream)
	if len(cat.Files) != 2 || cat.Files[0].Bytes != strconv.Itoa(amandaBlock) || cat.Files[1].Bytes != strconv.Itoa(size) {
		t.Fatalf("%s's catalog: want Amanda's label (%d bytes) and one dump (%d bytes):\n%s", barcode, amandaBlock, size, r)
	}
	return size, cat.Files[1].Sha256
}

// copyAmandaDump copies a cartridge's dump (tape file 2) to a disk with
// Ferry's own copy path and checks it: the catalog's SHA-256, and Amanda's
// header followed by exactly the stream amfetchdump read. A non-nil
// submitted is the id of the copy job, already submitted.
func copyAmandaDump(t *testing.T, m *moverCluster, c cli, barcode string, stream []byte, submitted *string) {
	t.Helper()
	size, sum := amandaDumpFile(t, c, barcode, stream)
	disk := "amanda-" + strings.ToLower(barcode)
	if submitted == nil {
		ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
		m.addEmptyDisk(ctx, disk, size)
		cancel()
		c.copied(sum, size, "tape:"+barcode+"#2", "disk:"+disk)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
		defer cancel()
		m.waitSucceeded(ctx, *submitted, sum, size)
	}
	image, err := os.ReadFile(filepath.Join(m.dir, disk+".img"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(image, []byte("AMANDA: ")) || !bytes.Equal(image[amandaBlock:size], stream) {
		t.Fatalf("%s file 2 as Ferry copies it is not Amanda's header and the %d bytes amfetchdump read (starts %q)", barcode, len(stream), image[:min(len(image), 80)])
	}
	t.Logf("%s: ferry copy of tape file 2 (sha256 %.12s, as cataloged) = Amanda's header + the dump amfetchdump read", barcode, sum)
}

// copyAmandaDumpWhileLoaded submits the copy of a cartridge's dump while
// Amanda's changer holds it in the drive: the job must wait, saying the
// cartridge was loaded through NDMP by n2's robot, and run once Amanda
// ejected it (the returned function checks that).
func copyAmandaDumpWhileLoaded(t *testing.T, m *moverCluster, c cli, barcode string, stream []byte) func() {
	t.Helper()
	size, _ := amandaDumpFile(t, c, barcode, stream)
	disk := "amanda-" + strings.ToLower(barcode)
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	m.addEmptyDisk(ctx, disk, size)
	id := strings.TrimSpace(c.ok("copy", "tape:"+barcode+"#2", "disk:"+disk, "--detach").stdout)
	want := "loaded through NDMP"
	job := m.waitJob(ctx, id, "waiting for Amanda's cartridge", func(j *ferryv1.Job) (bool, string) {
		return strings.Contains(j.GetStateReason(), want), fmt.Sprintf("%v: %s", j.GetState(), j.GetStateReason())
	})
	if job.GetState() != ferryv1.JobState_JOB_STATE_QUEUED || !strings.Contains(job.GetStateReason(), "(via n2)") {
		t.Errorf("a copy of %s while Amanda holds it: %v %q, want queued, loaded through NDMP via n2", barcode, job.GetState(), job.GetStateReason())
	}
	t.Logf("copy of %s while Amanda's changer holds it: %v, %q", barcode, job.GetState(), job.GetStateReason())
	return func() { copyAmandaDump(t, m, c, barcode, stream, &id) }
}

// checkNdmpSessions: every drive Amanda opened through n1 is a job of kind
// ndmp in the cluster's log, served by n1, on one of the test's cartridges,
// and ended once Amanda closed it.
func checkNdmpSessions(t *testing.T, c cli, barcodes []string) {
	t.Helper()
	r := c.ok("job", "list", "-o", "json")
	var list struct {
		Jobs []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Spec  struct {
				Ndmp *struct {
					DmaAddress string `json:"dmaAddress"`
					Node       string `json:"node"`
					Library    string `json:"library"`
					Barcode    string `json:"barcode"`
					ReadWrite  bool   `json:"readWrite"`
				} `json:"ndmp"`
			} `json:"spec"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("job list -o json: %v\n%s", err, r)
	}
	perBarcode := map[string]int{}
	sessions := 0
	for _, j := range list.Jobs {
		s := j.Spec.Ndmp
		if s == nil {
			continue
		}
		sessions++
		perBarcode[s.Barcode]++
		if s.Node != "n1" || s.Library != amandaLibrary || !slices.Contains(barcodes, s.Barcode) || s.DmaAddress == "" {
			t.Errorf("NDMP session job %s: %+v, want one of %v in %s through n1", j.ID, *s, barcodes, amandaLibrary)
		}
		if j.State == "JOB_STATE_RUNNING" || j.State == "JOB_STATE_FAILED" {
			t.Errorf("NDMP session job %s is %s after Amanda closed every drive", j.ID, j.State)
		}
	}
	for _, bc := range barcodes {
		if perBarcode[bc] == 0 {
			t.Errorf("no NDMP session job on %s, which Amanda labelled, wrote and read: %v", bc, perBarcode)
		}
	}
	t.Logf("ferry job list: %d NDMP session jobs of Amanda's (per cartridge %v), all ended", sessions, perBarcode)
}

// ferryElement is what a library element holds.
type ferryElement struct {
	barcode   string
	loadedVia string // the node whose NDMP robot loaded it into a drive
}

// ferryInventory is `ferry library inventory -o json`: "drive 0", "slot
// 1", "i/e 1"... → what they hold, for the elements that hold a cartridge.
func ferryInventory(t *testing.T, c cli, lib string) map[string]ferryElement {
	t.Helper()
	r := c.ok("library", "inventory", lib, "-o", "json")
	var inv struct {
		Elements []struct {
			Kind     string `json:"kind"`
			Index    int    `json:"index"`
			Barcode  string `json:"barcode"`
			NdmpLoad struct {
				Node string `json:"node"`
			} `json:"ndmpLoad"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &inv); err != nil {
		t.Fatalf("library inventory -o json: %v\n%s", err, r)
	}
	names := map[string]string{"ELEMENT_KIND_DRIVE": "drive", "ELEMENT_KIND_SLOT": "slot", "ELEMENT_KIND_IMPORT_EXPORT": "i/e"}
	out := map[string]ferryElement{}
	for _, e := range inv.Elements {
		if e.Barcode != "" {
			out[fmt.Sprintf("%s %d", names[e.Kind], e.Index)] = ferryElement{barcode: e.Barcode, loadedVia: e.NdmpLoad.Node}
		}
	}
	return out
}
