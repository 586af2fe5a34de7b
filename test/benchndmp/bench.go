package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-san/ferry/internal/filetree"
	"github.com/ferry-san/ferry/internal/localcluster"
	"github.com/ferry-san/ferry/internal/ndmjob"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

const (
	library  = "lib1"
	user     = "bench"
	password = "bench-secret"
	// startTimeout bounds starting the nodes and registering the library.
	startTimeout = 2 * time.Minute
	// runTimeout bounds one backup.
	runTimeout = 30 * time.Minute
)

// The measurements, in the order of the report.
var kinds = []string{"tar|dd", "local", "3-way"}

// bench is the running benchmark's cluster and files.
type bench struct {
	o      options
	log    *slog.Logger
	dir    string
	tree   string
	tarOut string
	c      *localcluster.Cluster
	ports  map[string]int
	slots  []int // the robot's slot addresses
	drives []int // and drive addresses: ndmjob loads into the first drive unless -o tape-addr= says which
	stats  filetree.Stats
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	if _, err := os.Stat(o.ndmjob); err != nil {
		return fmt.Errorf("ndmjob (Debian amanda-server) is needed: %w", err)
	}
	if err := os.MkdirAll("/var/log/amanda/client", 0o755); err != nil {
		return fmt.Errorf("ndmjob needs its debug directory: %w", err)
	}
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("/var/tmp", "benchndmp-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	b := &bench{o: o, log: log, dir: dir, tree: filepath.Join(dir, "tree"), tarOut: filepath.Join(dir, "tar.out"), ports: map[string]int{}}
	log.Info("generating the tree", "dir", b.tree, "bytes", o.size, "files", o.files)
	st, err := filetree.Generate(b.tree, filetree.Spec{Bytes: o.size, Files: o.files, Seed: 42})
	if err != nil {
		return fmt.Errorf("generate the tree: %w", err)
	}
	b.stats = st
	if err := b.start(ctx); err != nil {
		return err
	}
	defer b.c.Close()

	cache := newCacheControl()
	load := [2]string{loadAverage()}
	times := map[string][]phases{}
	var tarBytes int64
	for rep := range o.reps {
		order := slices.Clone(kinds)
		for range rep % len(order) {
			order = append(order[1:], order[0])
		}
		for _, k := range order {
			if err := cache.drop(); err != nil {
				return err
			}
			d, err := b.measure(ctx, k, rep+1)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", k, rep+1, err)
			}
			log.Info("run", "kind", k, "rep", rep+1, "seconds", d.total.Seconds(), "MiB/s", float64(st.Bytes)/(1<<20)/d.total.Seconds(),
				"setup", d.setup.Seconds(), "stream", d.stream.Seconds(), "teardown", d.teardown.Seconds())
			times[k] = append(times[k], d)
		}
		if fi, err := os.Stat(b.tarOut); err == nil {
			tarBytes = fi.Size()
		}
	}
	load[1] = loadAverage()
	report(os.Stdout, b, cache, load, times, tarBytes)
	return nil
}

// start runs n1 (the one voter) and n2 with NDMP, creates the library with
// two cartridges and labels them through n1's robot.
func (b *bench) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	c, err := localcluster.New(localcluster.Config{Binary: b.o.ferryBinary, Dir: filepath.Join(b.dir, "nodes"), Voters: 1, Logger: b.log})
	if err != nil {
		return err
	}
	b.c = c
	start := func(name string, join ...string) error {
		_, err := c.StartNodeFunc(ctx, localcluster.StartOptions{Name: name, Join: join}, func(p localcluster.Ports) ([]string, error) {
			b.ports[name] = p.NDMP
			return []string{"-ndmp-user", user, "-ndmp-password", password, "-ndmp-data-root", "/"}, nil
		})
		if err != nil {
			return err
		}
		return c.WaitReady(ctx, name)
	}
	if err := start("n1"); err != nil {
		return errors.Join(err, errors.New(c.Tails(30)))
	}
	if err := start("n2", "n1"); err != nil {
		return errors.Join(err, errors.New(c.Tails(30)))
	}
	conn, err := c.Conn("n1")
	if err != nil {
		return err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	capacity := uint64(2*b.o.size + 1<<30)
	if _, err := dev.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: library, Dir: filepath.Join(b.dir, library),
		Slots: 3, Drives: 2, CartridgeCapacityBytes: capacity}); err != nil {
		return fmt.Errorf("create library: %w", err)
	}
	for i, bc := range []string{"B00001L9", "B00002L9"} {
		if _, err := dev.LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: library, Slot: uint32(i + 1), Barcode: bc}); err != nil {
			return fmt.Errorf("label %s: %w", bc, err)
		}
	}
	for _, n := range []string{"n1", "n2"} {
		if err := waitDial(ctx, b.addr(n)); err != nil {
			return fmt.Errorf("%s's NDMP port: %w", n, err)
		}
	}
	out, err := b.ndmjob(ctx, "-q", "-R", b.agent("n1"), "-r", library)
	q := ndmjob.ParseQuery(out)
	if err != nil || q.Robot == nil || len(q.Robot.Of("SLOT")) < 2 {
		return fmt.Errorf("n1's robot gives no element status (%v):\n%s", err, out)
	}
	for _, e := range q.Robot.Of("SLOT") {
		b.slots = append(b.slots, e.Addr)
	}
	for _, e := range q.Robot.Of("TAPE") {
		b.drives = append(b.drives, e.Addr)
	}
	if len(b.drives) < 2 {
		return fmt.Errorf("n1's robot shows %d drives, want 2:\n%s", len(b.drives), out)
	}
	if out, err := b.ndmjob(ctx, "-o", "init-labels", "-T", b.agent("n1"), "-R", b.agent("n1"), "-r", library,
		"-f", library+"/0", "-m", b.media(1), "-m", b.media(2)); err != nil {
		return fmt.Errorf("init-labels: %w\n%s", err, out)
	}
	return nil
}

// media is the media entry of the cartridge in slot i.
func (b *bench) media(i int) string { return fmt.Sprintf("BENCH%d@%d", i, b.slots[i-1]) }

func (b *bench) addr(node string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.ports[node]))
}

func (b *bench) agent(node string) string { return b.addr(node) + "/4m," + user + "," + password }

func (b *bench) ndmjob(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.o.ndmjob, args...)
	cmd.Dir = b.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("ndmjob %s: %w", strings.Join(args, " "), err)
	}
	return out, err
}

// phases splits one ndmjob backup by the times its log lines arrived:
// setup (connect, robot load, label check, listen/connect, start_backup:
// until ndmjob logs "Waiting for operation to start"), stream (until it saw
// DATA and MOVER halt, the tape file durable: "Operation done"), and
// teardown (ndmjob's shutdown wait, unload, close).
type phases struct {
	total, setup, stream, teardown time.Duration
}

// measure runs one measurement and returns its times.
func (b *bench) measure(ctx context.Context, kind string, rep int) (phases, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	var cmd *exec.Cmd
	// -v -v -v makes ndmjob log the lines phases are cut at.
	verbose := []string{"-v", "-v", "-v"}
	switch kind {
	case "tar|dd":
		os.Remove(b.tarOut)
		cmd = exec.CommandContext(ctx, "sh", "-c", `tar -cf - -C "$1" . | dd of="$2" bs=1M conv=fsync status=none`, "sh", b.tree, b.tarOut)
	case "local":
		a := b.agent("n1")
		cmd = exec.CommandContext(ctx, b.o.ndmjob, append(verbose, "-c", "-D", a, "-T", a, "-R", a, "-r", library, "-f", library+"/0", "-m", b.media(1), "-C", b.tree)...)
	case "3-way":
		d, t := b.agent("n1"), b.agent("n2")
		cmd = exec.CommandContext(ctx, b.o.ndmjob, append(verbose, "-c", "-D", d, "-T", t, "-R", t, "-r", library, "-f", library+"/1", "-o", "tape-addr="+strconv.Itoa(b.drives[1]), "-m", b.media(2), "-C", b.tree)...)
	default:
		return phases{}, fmt.Errorf("unknown measurement %q", kind)
	}
	cmd.Dir = b.dir
	pr, pw, err := os.Pipe()
	if err != nil {
		return phases{}, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return phases{}, err
	}
	pw.Close()
	var out strings.Builder
	var started, done time.Time
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintf(&out, "%7.3f %s\n", time.Since(start).Seconds(), line)
		switch {
		case started.IsZero() && strings.Contains(line, "Waiting for operation to start"):
			started = time.Now()
		case done.IsZero() && strings.Contains(line, "Operation done"):
			done = time.Now()
		}
	}
	pr.Close()
	err = cmd.Wait()
	p := phases{total: time.Since(start)}
	if b.o.keep {
		// ndmjob's log with the second each line arrived, for a reader
		// who wants to know where a slow run spent its time.
		log := filepath.Join(b.dir, fmt.Sprintf("%s-%d.log", strings.ReplaceAll(kind, "|", ""), rep))
		_ = os.WriteFile(log, []byte(out.String()), 0o644)
	}
	if err != nil {
		return p, fmt.Errorf("%w\n%s", err, out.String())
	}
	if kind != "tar|dd" {
		if started.IsZero() || done.IsZero() {
			return p, fmt.Errorf("ndmjob did not log the start and the end of the operation:\n%s", out.String())
		}
		p.setup, p.stream, p.teardown = started.Sub(start), done.Sub(started), start.Add(p.total).Sub(done)
	} else {
		p.stream = p.total
	}
	return p, nil
}

func waitDial(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cacheControl drops the page cache before every run when it may.
type cacheControl struct {
	ok  bool
	why string
}

func newCacheControl() *cacheControl {
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		return &cacheControl{why: err.Error()}
	}
	f.Close()
	return &cacheControl{ok: true}
}

func (c *cacheControl) drop() error {
	unix.Sync()
	if !c.ok {
		return nil
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("drop caches: %w", err)
	}
	return nil
}

func (c *cacheControl) describe() string {
	if c.ok {
		return "sync; echo 3 > /proc/sys/vm/drop_caches before every run"
	}
	return "NOT dropped (not root: " + c.why + "); sync before every run, the tree may be read from the page cache"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
