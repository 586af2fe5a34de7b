package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
	"github.com/ferry-san/ferry/internal/ndmjob"
)

// ndmjobBinary is Amanda's DMA and NDMP conformance tool (Debian
// amanda-server installs it in Amanda's libexec directory; `make test`
// installs it when run as root).
const ndmjobBinary = "/usr/lib/amanda/ndmjob"

// ndmjobDebugDir is where ndmjob writes its debug log; it aborts unless it
// can create a file there, and as root it hands the file to Amanda's user.
const ndmjobDebugDir = "/var/log/amanda/client"

// NDMP settings of the test clusters.
const (
	ndmpUser     = "dma"
	ndmpPassword = "ndmp-test-secret"
	ndmpLibrary  = "lib1"
	// ndmpCartridgeBytes is each cartridge's capacity: room for the
	// 200 MiB backup tree twice over.
	ndmpCartridgeBytes = 1 << 30
	// ndmjobTimeout bounds one ndmjob run that moves no bulk data.
	ndmjobTimeout = 2 * time.Minute
)

// ndmjobStatusEnv names a file that TestNDMP rewrites with every step that
// failed and ndmjob's words about it (the engineers building the server
// read it); unset, nothing is written.
const ndmjobStatusEnv = "FERRY_NDMJOB_STATUS"

// needNdmjob skips the test when ndmjob is not installed and makes sure it
// can write its debug log.
func needNdmjob(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ndmjobBinary); err != nil {
		t.Skipf("%s is not installed (Debian amanda-server); `make test` installs it when run as root", ndmjobBinary)
	}
	if err := os.MkdirAll(ndmjobDebugDir, 0o755); err != nil {
		t.Fatalf("ndmjob aborts unless it can write %s: %v", ndmjobDebugDir, err)
	}
	// ndmjob run as root writes its debug file as Amanda's user (backup on
	// Debian), and so does the reference daemon run as that user: the
	// directory must be theirs.
	if os.Geteuid() == 0 {
		if u, err := user.Lookup(amandaUser); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(ndmjobDebugDir, uid, gid); err != nil {
				t.Fatalf("chown %s: %v", ndmjobDebugDir, err)
			}
		}
	}
}

// amandaUser is the unprivileged user ndmjob's own daemon runs as.
const amandaUser = "backup"

// ndmjobRun is one run of ndmjob.
type ndmjobRun struct {
	args []string
	out  []byte
	err  error
}

func (r ndmjobRun) String() string {
	return fmt.Sprintf("ndmjob %s: %v\n%s", strings.Join(r.args, " "), exitText(r.err), r.out)
}

// ok says whether ndmjob did what it was asked. Its exit status does not
// tell (it exits 0 after a failed operation, and 1 only when a conformance
// step fails): it ends with "Operation complete" (-v) or "… but had
// problems.", and a backup or recover says how it ended.
func (r ndmjobRun) ok() bool {
	out := string(r.out)
	return r.err == nil && strings.Contains(out, "Operation complete") && !strings.Contains(out, "had problems") &&
		!strings.Contains(out, "Operation ended in failure") && !strings.Contains(out, "Operation ended questionably")
}

// tail is the last lines ndmjob printed, for a failure message.
func (r ndmjobRun) tail(n int) string {
	lines := strings.Split(strings.TrimRight(string(r.out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// runNdmjob runs ndmjob with args in dir, keeping its output in
// dir/name.out for a reader of a kept test directory.
func runNdmjob(ctx context.Context, t *testing.T, dir, name string, args ...string) ndmjobRun {
	return runNdmjobEnv(ctx, t, dir, name, nil, args...)
}

// runNdmjobEnv is runNdmjob with more environment variables (the
// zero-write shim's LD_PRELOAD).
func runNdmjobEnv(ctx context.Context, t *testing.T, dir, name string, env []string, args ...string) ndmjobRun {
	t.Helper()
	// -v makes ndmjob say how the operation ended, which ok reads.
	if !slices.Contains(args, "-v") {
		args = append([]string{"-v"}, args...)
	}
	cmd := exec.CommandContext(ctx, ndmjobBinary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	r := ndmjobRun{args: args, out: out, err: err}
	if werr := os.WriteFile(filepath.Join(dir, name+".out"), []byte("ndmjob "+strings.Join(args, " ")+"\n"+string(out)), 0o644); werr != nil {
		t.Logf("keep ndmjob output: %v", werr)
	}
	return r
}

// ndmpCluster is a mover cluster whose nodes serve NDMP, with one tape
// library, and a directory for ndmjob's files.
type ndmpCluster struct {
	*moverCluster
	work  string
	ports *nodePorts
}

// nodePorts are the nodes' NDMP ports.
type nodePorts struct {
	mu sync.Mutex
	m  map[string]int
}

// startNDMPCluster starts n nodes serving NDMP on free ports with the test
// credentials, and a library of 2 drives and one cartridge per barcode in
// slots 1, 2, … (one slot more, empty, and an import/export slot).
func startNDMPCluster(t *testing.T, n int, barcodes ...string) *ndmpCluster {
	t.Helper()
	m := newMoverCluster(t)
	nc := &ndmpCluster{moverCluster: m, ports: &nodePorts{m: map[string]int{}}}
	nc.work = filepath.Join(filepath.Dir(m.dir), "ndmjob")
	if err := os.MkdirAll(nc.work, 0o755); err != nil {
		t.Fatal(err)
	}
	m.startAll(nodeNames(n), nil, func(ctx context.Context, opts localcluster.StartOptions) error {
		_, err := m.c.StartNodeFunc(ctx, opts, func(ports localcluster.Ports) ([]string, error) {
			nc.ports.mu.Lock()
			nc.ports.m[opts.Name] = ports.NDMP
			nc.ports.mu.Unlock()
			return []string{"-ndmp-user", ndmpUser, "-ndmp-password", ndmpPassword, "-ndmp-data-root", "/"}, nil
		})
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	m.addLibrary(ctx, ndmpLibrary, 2, ndmpCartridgeBytes, barcodes...)
	for _, node := range nodeNames(n) {
		nc.waitNDMP(ctx, node)
	}
	return nc
}

// addr is a node's NDMP address.
func (nc *ndmpCluster) addr(node string) string {
	nc.ports.mu.Lock()
	defer nc.ports.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(nc.ports.m[node]))
}

// agent is a node as ndmjob names an agent: NDMPv4, MD5 authentication.
func (nc *ndmpCluster) agent(node string) string {
	return nc.addr(node) + "/4m," + ndmpUser + "," + ndmpPassword
}

// waitNDMP waits until the node accepts connections on its NDMP port.
func (nc *ndmpCluster) waitNDMP(ctx context.Context, node string) {
	nc.t.Helper()
	waitFor(nc.t, ctx, node+"'s NDMP port", func() (bool, string) {
		c, err := net.DialTimeout("tcp", nc.addr(node), time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// ndmjob runs ndmjob in the cluster's work directory.
func (nc *ndmpCluster) ndmjob(ctx context.Context, name string, args ...string) ndmjobRun {
	nc.t.Helper()
	return runNdmjob(ctx, nc.t, nc.work, name, args...)
}

// robot asks node's robot (SCSI service) for its inventory through ndmjob
// -q: INQUIRY, the element address assignment and READ ELEMENT STATUS.
func (nc *ndmpCluster) robot(ctx context.Context, node string) (*ndmjob.Robot, ndmjobRun) {
	nc.t.Helper()
	run := nc.ndmjob(ctx, "robot-query-"+node, "-q", "-R", nc.agent(node), "-r", ndmpLibrary)
	q := ndmjob.ParseQuery(run.out)
	if q.Robot == nil || len(q.Robot.Elements) == 0 || len(q.Robot.Errors) > 0 {
		return nil, run
	}
	return q.Robot, run
}

// mustRobot is robot, failing the test when the robot does not answer.
func (nc *ndmpCluster) mustRobot(ctx context.Context, node string) *ndmjob.Robot {
	nc.t.Helper()
	r, run := nc.robot(ctx, node)
	if r == nil {
		nc.t.Fatalf("the robot of %s through NDMP gives no element status:\n%s", node, run.tail(30))
	}
	return r
}

// inventoryLineRE is one element line of `ferry library inventory`.
var inventoryLineRE = regexp.MustCompile(`^(drive|slot|i/e) (\d+)\s+(\S+)`)

// inventory is `ferry library inventory` of the test library through node,
// in Robot.Contents' words ("drive 0 empty", "slot 2 A00002L9").
func (nc *ndmpCluster) inventory(node string) ([]string, string) {
	nc.t.Helper()
	n, err := nc.c.Node(node)
	if err != nil {
		nc.t.Fatal(err)
	}
	r := nodeCLI(nc.t, nc.c, n).ok("library", "inventory", ndmpLibrary)
	var out []string
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		if m := inventoryLineRE.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1]+" "+m[2]+" "+m[3])
		}
	}
	return out, r.stdout
}

// checkInventories waits until the robot of every node in nodes (through
// NDMP) and `ferry library inventory` agree, and returns that inventory;
// after a deadline it fails with both views.
func (nc *ndmpCluster) checkInventories(ctx context.Context, what string, nodes ...string) []string {
	nc.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var agreed []string
	waitFor(nc.t, ctx, "robot and ferry library inventory agreeing "+what, func() (bool, string) {
		want, text := nc.inventory(nodes[0])
		for _, node := range nodes {
			r, run := nc.robot(ctx, node)
			if r == nil {
				return false, fmt.Sprintf("%s's robot gives no element status:\n%s", node, run.tail(20))
			}
			if got := r.Contents(); !slices.Equal(got, want) {
				return false, fmt.Sprintf("%s's READ ELEMENT STATUS says %q\nferry library inventory says %q\n%s", node, got, want, text)
			}
		}
		agreed = want
		return true, ""
	})
	return agreed
}

// elementOf finds where barcode is in an inventory in Contents' words.
func elementOf(inv []string, barcode string) string {
	for _, l := range inv {
		if strings.HasSuffix(l, " "+barcode) {
			return strings.TrimSuffix(l, " "+barcode)
		}
	}
	return ""
}

// refDaemon is ndmjob's own NDMP daemon, run as Amanda's unprivileged user
// with a simulated tape file and robot directory: the reference the
// conformance table compares Ferry with.
type refDaemon struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	n    int
}

// startRefDaemon starts `ndmjob -o daemon -p PORT` (as Amanda's user when
// run as root) and waits until it accepts connections.
func startRefDaemon(t *testing.T, ctx context.Context) *refDaemon {
	t.Helper()
	// Not under t.TempDir: its parent is private to root, and the daemon
	// runs as another user.
	dir, err := os.MkdirTemp("", "ndmjobd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := freeTCPPort(t)
	args := []string{"-o", "daemon", "-p", strconv.Itoa(port)}
	name := ndmjobBinary
	if os.Geteuid() == 0 {
		u, err := user.Lookup(amandaUser)
		if err != nil {
			t.Fatalf("ndmjob's daemon runs as %s: %v", amandaUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		name, args = "setpriv", append([]string{"--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", ndmjobBinary}, args...)
	}
	log, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: it forks a child per connection, and the
	// cleanup ends them with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("start ndmjob's daemon: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	d := &refDaemon{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, cmd: cmd}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waitFor(t, wctx, "ndmjob's daemon listening", func() (bool, string) {
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			t.Fatalf("ndmjob's daemon exited:\n%s", b)
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	return d
}

// agent is the daemon as ndmjob names an agent: its built-in account.
func (d *refDaemon) agent() string { return d.addr + "/4m,ndmp,ndmp" }

// tape returns a new simulated tape file for one run: the daemon leaves a
// lock file behind a session that ended at a failure.
func (d *refDaemon) tape(t *testing.T) string {
	t.Helper()
	d.n++
	path := filepath.Join(d.dir, fmt.Sprintf("tape%d", d.n))
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup(amandaUser); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			os.Chown(path, uid, gid)
		}
	}
	return path
}

// statusBoard collects what TestNDMP found, step by step, for the file
// ndmjobStatusEnv names.
type statusBoard struct {
	mu      sync.Mutex
	entries []statusEntry
	tables  []string
}

type statusEntry struct {
	step   string
	ok     bool
	detail string
}

func (b *statusBoard) add(step string, ok bool, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries = append(b.entries, statusEntry{step, ok, strings.TrimSpace(detail)})
}

func (b *statusBoard) table(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tables = append(b.tables, s)
}

// write renders the board as Markdown into the file ndmjobStatusEnv names.
func (b *statusBoard) write(t *testing.T) {
	path := os.Getenv(ndmjobStatusEnv)
	if path == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var w bytes.Buffer
	fmt.Fprintf(&w, "# ndmjob against Ferry: status of %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&w, "Written by `%s=%s go test ./test -run TestNDMP` (test/ndmp_test.go). Each step, PASS or FAIL, with ndmjob's words.\n\n", ndmjobStatusEnv, path)
	failed := 0
	for _, e := range b.entries {
		if !e.ok {
			failed++
		}
	}
	fmt.Fprintf(&w, "%d steps, %d failing.\n\n", len(b.entries), failed)
	for _, e := range b.entries {
		mark := "PASS"
		if !e.ok {
			mark = "FAIL"
		}
		fmt.Fprintf(&w, "## %s %s\n\n", mark, e.step)
		if e.detail != "" {
			fmt.Fprintf(&w, "```\n%s\n```\n\n", e.detail)
		}
	}
	for _, tb := range b.tables {
		w.WriteString(tb)
		w.WriteString("\n")
	}
	if err := os.WriteFile(path, w.Bytes(), 0o644); err != nil {
		t.Logf("write %s: %v", path, err)
	}
}
