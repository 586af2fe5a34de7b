package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/pki"
)

// The demo's devices and copy. 512 MiB at 60 MiB/s lasts about 8.5 s: long
// enough to kill the copy's node half way, short enough for a demo.
const (
	demoDisk       = "db01"
	demoLibrary    = "lib1"
	demoTape       = "A00001L9"
	demoDiskBytes  = 512 << 20
	demoBandwidth  = "60MiB/s" // as ferry copy -bwlimit takes it
	demoBytesPerS  = 60 << 20  // the same
	demoLibDrives  = "4"
	demoTapeFile   = 1 // the copy is the cartridge's first data file
	demoIdemKey    = "demo-db01-to-" + demoTape
	demoFirstWrite = "first write after the takeover"
)

// Deadlines. The demo normally takes about half a minute on two cores;
// these are generous so that a slow machine fails only when something is
// wrong, and then with a clear message.
const (
	demoTimeout  = 4 * time.Minute
	demoTakeover = 30 * time.Second // kill to the new owner's resumption
	// demoFirstWriteLog bounds the wait for the new owner's log line about
	// its first write, which follows its resumption within milliseconds.
	demoFirstWriteLog = 10 * time.Second
	demoCatchUp       = 30 * time.Second // restart to ready and caught up
	demoCopy          = 2 * time.Minute  // the whole copy, takeover included
	// demoQuietWatch is how long the restarted node is watched for doing
	// anything to the job: longer than a lease (1.5 s) and an executor
	// rescan (1 s), so a node that meant to act would have.
	demoQuietWatch = 3 * time.Second
	demoPoll       = 50 * time.Millisecond
)

// runDemo secures and starts three local nodes (a CA, certificates, a
// gossip key, ACLs), copies a disk LUN to tape, kills the
// node running the copy half way, shows another node take it over from the
// last checkpoint and finish it, verifies the tape, restarts the killed
// node, and removes everything it made.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep the demo's data dirs, devices and node logs instead of removing them")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ferry demo [-keep]\n\n"+
			"Makes a CA, node and client certificates and a gossip key with the ferry commands, starts\n"+
			"three Ferry nodes on 127.0.0.1 with mutual TLS (free ports, a temporary dir), bootstraps\n"+
			"ACLs and runs every later command with the management token. It writes a 512 MiB\n"+
			"disk LUN of random data, creates a tape library with 4 drives and a labelled cartridge,\n"+
			"and copies the disk to tape at %s. Half way, it kills the node running the copy\n"+
			"with SIGKILL and shows another node take the copy over from its last checkpoint: who,\n"+
			"how soon after the kill, from which offset. When the copy has ended it verifies the\n"+
			"tape with \"ferry verify\", shows the job's history, and restarts the killed node to\n"+
			"show that it rejoins and leaves the job alone. Every ferry command is shown as typed\n"+
			"and run for real. It takes about half a minute; everything is removed at the end.\n\n", demoBandwidth)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ferry demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "ferry demo: find own binary:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "ferry-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "ferry demo:", err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	// The nodes' site is the agent's default, which is also the site of a
	// device registered without -site, so every node reaches every device.
	c, err := localcluster.New(localcluster.Config{Binary: bin, Dir: filepath.Join(dir, "nodes"), Site: cluster.DefaultConfig().Site})
	if err != nil {
		fmt.Fprintln(stderr, "ferry demo:", err)
		return 1
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	d := &demo{c: c, bin: bin, dir: dir, out: stdout, started: time.Now()}
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "\nferry demo failed: %v\n\n%s", err, c.Tails(25))
		if *keep {
			fmt.Fprintf(stderr, "data and logs kept in %s\n", dir)
		}
		return 1
	}
	if *keep {
		fmt.Fprintf(stdout, "Data dirs, devices and logs kept in %s\n", dir)
	}
	return 0
}

// demo is one run of the demo's story.
type demo struct {
	c       *localcluster.Cluster
	bin     string
	dir     string
	out     io.Writer
	started time.Time
	step    int

	names   []string
	env     []string // the client certificate's FERRY_CACERT, FERRY_CERT, FERRY_KEY
	dataSum string   // SHA-256 of the disk's random data, in hex
	jobID   string
}

// takeover is what the demo saw of a takeover, timed from the kill.
type takeover struct {
	checkpoint, lost, taken, resumed *ferryv1.JobEvent
	newOwner                         string
	fromOffset                       uint64
}

func (d *demo) run(ctx context.Context) error {
	d.names = []string{"n1", "n2", "n3"}
	if err := d.secure(ctx); err != nil {
		return err
	}
	d.say("Starting three Ferry nodes on 127.0.0.1 with mutual TLS and encrypted gossip; each one runs copy jobs (data in %s)", d.dir)
	if err := d.startCluster(ctx); err != nil {
		return err
	}
	if err := d.cli(ctx, "members", "-addr", d.addr("n1")); err != nil {
		return err
	}
	if err := d.bootstrapACLs(ctx); err != nil {
		return err
	}

	if err := d.makeDevices(ctx); err != nil {
		return err
	}

	via := d.names[0]
	d.say("Copying the disk to the cartridge at %s (about %.0f s of copying)", demoBandwidth, float64(demoDiskBytes)/demoBytesPerS)
	out, err := d.cliOutput(ctx, "copy", "disk:"+demoDisk, "tape:"+demoTape, "-bwlimit", demoBandwidth,
		"-name", "db01 to "+demoTape, "-idempotency-key", demoIdemKey, "-detach", "-addr", d.addr(via))
	if err != nil {
		return err
	}
	d.jobID = strings.TrimSpace(out)
	if d.jobID == "" {
		return errors.New("ferry copy -detach printed no job id")
	}

	d.say("Waiting until the copy is half way (progress is what its owner last checkpointed)")
	owner, err := d.waitHalfWay(ctx)
	if err != nil {
		return err
	}
	if err := d.cli(ctx, "job", "list", "-addr", d.addr(d.other(owner))); err != nil {
		return err
	}

	leader, err := d.c.Leader(ctx)
	if err != nil {
		return err
	}
	node, err := d.c.Node(owner)
	if err != nil {
		return err
	}
	role := "a follower; " + leader + " leads"
	if leader == owner {
		role = "also the Raft leader, so an election comes first"
	}
	d.say("Killing %s, which runs the copy (%s): kill -9 %d", owner, role, node.PID())
	killed := time.Now()
	if err := d.c.Kill(owner); err != nil {
		return err
	}
	tk, err := d.waitTakeover(ctx, owner)
	if err != nil {
		return err
	}
	if err := d.reportTakeover(ctx, owner, killed, tk); err != nil {
		return err
	}

	d.say("Following the job to its end on %s", tk.newOwner)
	wctx, wcancel := context.WithTimeout(ctx, demoCopy)
	defer wcancel()
	if err := d.cli(wctx, "job", "watch", d.jobID, "-addr", d.addr(tk.newOwner)); err != nil {
		return err
	}

	if err := d.verify(ctx, tk.newOwner); err != nil {
		return err
	}

	d.say("The job's history: placed, started, checkpointed, its owner lost, taken over, resumed, done")
	if err := d.cli(ctx, "job", "get", d.jobID, "-addr", d.addr(tk.newOwner)); err != nil {
		return err
	}

	if err := d.restartKilled(ctx, owner, tk.newOwner); err != nil {
		return err
	}
	d.say("Done in %.1f s; stopping the nodes and removing their data and devices.", time.Since(d.started).Seconds())
	return nil
}

// demoClient is the client certificate the demo's ferry commands present.
const demoClient = "admin"

// secure makes the cluster's CA, a certificate per node, the demo's client
// certificate and the gossip key with the ferry commands an administrator
// runs, in the directory the nodes take them from (localcluster's PKIDir),
// and points the demo's later commands at the client certificate.
func (d *demo) secure(ctx context.Context) error {
	dir := d.c.PKIDir()
	d.say("Securing the cluster as an administrator would: its own CA, a certificate per node and one for\n"+
		"   this demo's commands, and a gossip encryption key (in %s)", dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := d.cli(ctx, "tls", "ca", "create", "-dir", dir); err != nil {
		return err
	}
	for _, n := range d.names {
		if err := d.cli(ctx, "tls", "cert", "create", "-node", n, "-dir", dir); err != nil {
			return err
		}
	}
	if err := d.cli(ctx, "tls", "cert", "create", "-client", demoClient, "-dir", dir); err != nil {
		return err
	}
	key, err := d.cliOutput(ctx, "keygen")
	if err != nil {
		return err
	}
	if err := pki.WriteNew(filepath.Join(dir, "gossip.key"), []byte(key)); err != nil {
		return err
	}
	f, err := d.c.TLSFiles(pki.RoleClient, demoClient)
	if err != nil {
		return err
	}
	d.env = []string{"FERRY_CACERT=" + f.CA, "FERRY_CERT=" + f.Cert, "FERRY_KEY=" + f.Key}
	fmt.Fprintf(d.out, "\n  Each node starts with -tls-ca, -tls-cert, -tls-key and -gossip-key; the commands below run with\n")
	for _, kv := range d.env {
		fmt.Fprintf(d.out, "    export %s\n", kv)
	}
	return nil
}

// bootstrapACLs turns ACLs on and gives the management token to the
// demo's later commands and to the harness's own calls: from then on
// every call needs a token.
func (d *demo) bootstrapACLs(ctx context.Context) error {
	d.say("Bootstrapping ACLs: from now on every call needs a token as well as a certificate")
	out, err := d.cliOutput(ctx, "acl", "bootstrap", "-addr", d.addr("n1"))
	if err != nil {
		return err
	}
	lines := strings.Fields(strings.TrimSpace(out))
	if len(lines) == 0 {
		return errors.New("ferry acl bootstrap printed no token")
	}
	secret := lines[len(lines)-1]
	d.env = append(d.env, "FERRY_TOKEN="+secret)
	d.c.SetACLToken(secret)
	fmt.Fprintf(d.out, "\n  The commands below run with\n    export FERRY_TOKEN=%s\n", secret)
	return nil
}

// startCluster bootstraps the cluster on n3 and joins n1 and n2 to it. The
// scheduler breaks ties between idle nodes by name, so the copy will run on
// n1, a follower: the common case, where the leader need not be elected
// again before it can give the job to another node.
func (d *demo) startCluster(ctx context.Context) error {
	first := d.names[len(d.names)-1]
	if _, err := d.c.Start(ctx, first); err != nil {
		return err
	}
	if err := d.c.WaitReady(ctx, first); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s bootstrapped a new cluster.\n", first)
	joiners := d.others(first)
	for _, name := range joiners {
		if _, err := d.c.Start(ctx, name, first); err != nil {
			return err
		}
	}
	if err := d.c.WaitReady(ctx); err != nil {
		return err
	}
	if _, err := d.c.WaitVoters(ctx, d.names...); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s joined through gossip and became voters: a 3-node Raft cluster.\n", strings.Join(joiners, " and "))
	return nil
}

// makeDevices writes the disk's random data, registers it, and creates the
// library and the cartridge, all through the CLI.
func (d *demo) makeDevices(ctx context.Context) error {
	path := filepath.Join(d.dir, demoDisk+".img")
	d.say("Writing %d MiB of random data to %s and registering it as disk LUN %s", demoDiskBytes>>20, path, demoDisk)
	sum, err := localcluster.WriteRandomFile(path, demoDiskBytes)
	if err != nil {
		return err
	}
	d.dataSum = sum
	fmt.Fprintf(d.out, "  sha256 of the data written: %s\n", sum)
	if err := d.cli(ctx, "disk", "add", "-name", demoDisk, "-path", path, "-addr", d.addr("n1")); err != nil {
		return err
	}
	d.say("Creating tape library %s with %s drives and labelling cartridge %s", demoLibrary, demoLibDrives, demoTape)
	if err := d.cli(ctx, "library", "create", "-name", demoLibrary, "-dir", filepath.Join(d.dir, demoLibrary),
		"-slots", "8", "-drives", demoLibDrives, "-capacity", "2GiB", "-addr", d.addr("n2")); err != nil {
		return err
	}
	return d.cli(ctx, "tape", "label", "-library", demoLibrary, "-slot", "1", "-barcode", demoTape, "-addr", d.addr("n3"))
}

// waitHalfWay polls the job, printing its progress as it changes, until
// its committed progress passes half the disk, and returns its owner.
func (d *demo) waitHalfWay(ctx context.Context) (string, error) {
	var printed uint64
	shown := false
	var owner string
	var last *ferryv1.Job
	err := d.pollJob(ctx, demoCopy, d.names, false, func(j *ferryv1.Job) (bool, error) {
		if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING && j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
			return false, fmt.Errorf("the job ended before it was half way: %s (%s)", jobStateText(j.GetState()), j.GetStateReason())
		}
		last = j
		p := j.GetProgress()
		if owner = j.GetOwner(); owner == "" {
			if !shown {
				fmt.Fprintf(d.out, "  [%4.1fs] %s: %s\n", d.elapsed(), jobStateText(j.GetState()), orDash(j.GetStateReason()))
				shown = true
			}
			return false, nil
		}
		if done := p.GetBytesDone(); done != printed || !shown {
			printed, shown = done, true
			fmt.Fprintf(d.out, "  [%4.1fs] %3d%%  %s of %s copied by %s\n", d.elapsed(),
				done*100/demoDiskBytes, bytesText(done), bytesText(demoDiskBytes), owner)
		}
		return p.GetBytesDone()*2 >= demoDiskBytes, nil
	})
	if err != nil && last != nil {
		return "", fmt.Errorf("the copy was not half way within %v: %w (last seen %s, %s, %s)", demoCopy, err,
			jobStateText(last.GetState()), orDash(last.GetStateReason()), progressText(last.GetProgress()))
	}
	return owner, err
}

// waitTakeover polls the survivors until a new owner has resumed the job
// after the kill, and returns the events that tell the story.
func (d *demo) waitTakeover(ctx context.Context, killed string) (takeover, error) {
	var tk takeover
	survivors := d.others(killed)
	err := d.pollJob(ctx, demoTakeover, survivors, false, func(j *ferryv1.Job) (bool, error) {
		if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
			return false, fmt.Errorf("the job is %s (%s) instead of being taken over", jobStateText(j.GetState()), j.GetStateReason())
		}
		tk = takeover{}
		for _, ev := range j.GetHistory() {
			msg := ev.GetMessage()
			switch {
			case strings.HasPrefix(msg, "checkpoint at ") && tk.lost == nil:
				tk.checkpoint = ev
			case strings.HasPrefix(msg, "owner "+killed+" lost"):
				tk.lost = ev
			case strings.HasPrefix(msg, "taken over by "):
				tk.taken, tk.newOwner = ev, ev.GetNode()
			case strings.HasPrefix(msg, "resumed on ") && tk.taken != nil:
				tk.resumed = ev
				tk.fromOffset = j.GetProgress().GetCheckpointOffset()
				if _, off, ok := strings.Cut(msg, " from offset "); ok {
					if n, err := strconv.ParseUint(off, 10, 64); err == nil {
						tk.fromOffset = n
					}
				}
			}
		}
		return tk.resumed != nil, nil
	})
	if err != nil {
		return tk, fmt.Errorf("no takeover within %v of killing %s: %w", demoTakeover, killed, err)
	}
	return tk, nil
}

func (d *demo) reportTakeover(ctx context.Context, killed string, at time.Time, tk takeover) error {
	since := func(ev *ferryv1.JobEvent) string {
		return fmt.Sprintf("+%.2f s", ev.GetTime().AsTime().Sub(at).Seconds())
	}
	d.say("%s took the copy over; times are from the kill (the history's timestamps)", tk.newOwner)
	fmt.Fprintf(d.out, "  %s  the leader gave the job to %s:\n", since(tk.taken), tk.newOwner)
	if tk.lost != nil {
		fmt.Fprintf(d.out, "             %q\n", tk.lost.GetMessage())
	}
	fmt.Fprintf(d.out, "             %q\n", tk.taken.GetMessage())
	fmt.Fprintf(d.out, "  %s  %s claimed the devices and resumed from byte %d (%s), %s's last committed checkpoint\n",
		since(tk.resumed), tk.newOwner, tk.fromOffset, bytesText(tk.fromOffset), killed)

	// The first write is only in the new owner's log (and, measured from
	// the last checkpoint, in its metric); the "resumed on" event, a few
	// milliseconds earlier, stands in when the log has no such line.
	first, line, err := d.firstWrite(ctx, tk.newOwner)
	if err == nil {
		fmt.Fprintf(d.out, "  +%.2f s  %s wrote to the tape again; its log says:\n      %s\n", first.Sub(at).Seconds(), tk.newOwner, line)
	} else {
		fmt.Fprintf(d.out, "  (%v)\n", err)
	}
	if sum, n, err := scrapeMetric(ctx, d.httpAddr(tk.newOwner), "ferry_takeover_latency_seconds"); err == nil && n > 0 {
		fmt.Fprintf(d.out, "  %s's ferry_takeover_latency_seconds (from %s's last checkpoint to its first write): %.2f s\n", tk.newOwner, killed, sum)
	}
	if err == nil {
		fmt.Fprintf(d.out, "  Kill to the first write of the new owner: %.2f s.\n", first.Sub(at).Seconds())
	} else {
		fmt.Fprintf(d.out, "  Kill to the new owner's resumption: %s.\n", since(tk.resumed))
	}
	d.reportRecopy(killed, at, tk)
	return nil
}

// reportRecopy says how much of the copy the new owner repeats: what the
// lost owner had copied past its last checkpoint, as its last lease renewal
// reported it (a sample, up to a renewal interval old) and as estimated from
// the time between that checkpoint and the kill.
func (d *demo) reportRecopy(killed string, at time.Time, tk takeover) {
	if tk.checkpoint == nil {
		return
	}
	gap := at.Sub(tk.checkpoint.GetTime().AsTime())
	fmt.Fprintf(d.out, "  %s committed its last checkpoint %.2f s before it died: at %s it had copied about %s more,\n"+
		"  which %s copies again. Checkpoints come every second (or 64 MiB), so at most about a second's worth.\n",
		killed, gap.Seconds(), demoBandwidth, bytesText(uint64(gap.Seconds()*demoBytesPerS)), tk.newOwner)
	if tk.lost == nil {
		return
	}
	if _, past, ok := fsm.LostProgress(tk.lost.GetMessage()); ok {
		fmt.Fprintf(d.out, "  (Its last lease renewal had reported %s past the checkpoint.)\n", bytesText(past))
	} else {
		fmt.Fprintf(d.out, "  (Its last lease renewal, up to 250 ms older than its death, had reported nothing past the checkpoint.)\n")
	}
}

// firstWrite waits a while for the new owner's log line about its first
// write after the takeover and returns its time and the line.
func (d *demo) firstWrite(ctx context.Context, node string) (time.Time, string, error) {
	ctx, cancel := context.WithTimeout(ctx, demoFirstWriteLog)
	defer cancel()
	for {
		line, err := logLine(node, d.c, demoFirstWrite, d.jobID)
		if err == nil {
			t, err := localcluster.LogTime(line)
			return t, line, err
		}
		select {
		case <-ctx.Done():
			return time.Time{}, "", fmt.Errorf("%w: %w", ctx.Err(), err)
		case <-time.After(demoPoll):
		}
	}
}

// logLine returns the first line of the node's log holding both words.
func logLine(node string, c *localcluster.Cluster, msg, job string) (string, error) {
	n, err := c.Node(node)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "", fmt.Errorf("read %s's log: %w", node, err)
	}
	for line := range strings.Lines(string(data)) {
		if strings.Contains(line, msg) && strings.Contains(line, job) {
			return strings.TrimSpace(line), nil
		}
	}
	return "", fmt.Errorf("%s logged no %q for job %s", node, msg, job)
}

// verify runs ferry verify and checks that the tape, the job's result and
// the data the demo wrote have one SHA-256.
func (d *demo) verify(ctx context.Context, node string) error {
	tape := fmt.Sprintf("tape:%s#%d", demoTape, demoTapeFile)
	d.say("Verifying: the node hashes the disk and tape file %d and compares them", demoTapeFile)
	if err := d.cli(ctx, "verify", "disk:"+demoDisk, tape, "-timeout", "2m", "-addr", d.addr(node)); err != nil {
		return err
	}
	j, err := d.getJob(ctx, node)
	if err != nil {
		return err
	}
	if got := j.GetResult().GetSha256(); got != d.dataSum {
		return fmt.Errorf("the job's result has sha256 %s, but the data written has %s", got, d.dataSum)
	}
	fmt.Fprintf(d.out, "  OK: disk, tape and the job's result all have sha256 %s,\n"+
		"  the hash of the random data written before the copy.\n", d.dataSum)
	return nil
}

// restartKilled restarts the killed node and checks that it catches up and
// changes nothing about the finished job.
func (d *demo) restartKilled(ctx context.Context, killed, owner string) error {
	d.say("Restarting %s: it rejoins, learns the job is done, and leaves it alone", killed)
	before, err := d.getJob(ctx, owner)
	if err != nil {
		return err
	}
	restarted := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, demoCatchUp)
	defer rcancel()
	if err := d.c.Restart(rctx, killed); err != nil {
		return err
	}
	if err := d.c.WaitReady(rctx, killed); err != nil {
		return fmt.Errorf("%s not ready within %v of its restart: %w", killed, demoCatchUp, err)
	}
	if err := d.pollJob(rctx, demoCatchUp, []string{killed}, true, func(j *ferryv1.Job) (bool, error) {
		return len(j.GetHistory()) >= len(before.GetHistory()), nil
	}); err != nil {
		return fmt.Errorf("%s did not catch up: %w", killed, err)
	}
	fmt.Fprintf(d.out, "  %s is back and caught up %.2f s after its restart; watching it for %v.\n", killed, time.Since(restarted).Seconds(), demoQuietWatch)
	deadline := time.Now().Add(demoQuietWatch)
	for time.Now().Before(deadline) {
		for _, n := range d.names {
			j, err := d.getJob(ctx, n)
			if err != nil {
				return err
			}
			if j.GetState() != before.GetState() || len(j.GetHistory()) != len(before.GetHistory()) || j.GetEpoch() != before.GetEpoch() {
				return fmt.Errorf("after %s's restart the job changed: %s, epoch %d, %d events (was %s, epoch %d, %d events)", killed,
					jobStateText(j.GetState()), j.GetEpoch(), len(j.GetHistory()), jobStateText(before.GetState()), before.GetEpoch(), len(before.GetHistory()))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(4 * demoPoll):
		}
	}
	copied, _, err := scrapeMetric(ctx, d.httpAddr(killed), "ferry_mover_bytes_total")
	if err != nil {
		return err
	}
	fenced, _, err := scrapeMetric(ctx, d.httpAddr(killed), "ferry_fenced_writes_total")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  The job is unchanged (%s, epoch %d, %d history events) and %s copied %.0f bytes.\n",
		jobStateText(before.GetState()), before.GetEpoch(), len(before.GetHistory()), killed, copied)
	if fenced > 0 {
		// Between its start and catching up, the node's own state still
		// says the copy is its own; the device fences are what keep that
		// stale view from writing.
		fmt.Fprintf(d.out, "  Before it caught up it acted once on its stale state (the job still its own) and the fence refused\n"+
			"  (ferry_fenced_writes_total %.0f):\n", fenced)
		if line, err := logLine(killed, d.c, "job fenced off", d.jobID); err == nil {
			fmt.Fprintf(d.out, "      %s\n", line)
		}
	}
	if err := d.cli(ctx, "job", "list", "-stale", "-addr", d.addr(killed)); err != nil {
		return err
	}
	return d.cli(ctx, "members", "-addr", d.addr(killed))
}

// pollJob reads the job from the nodes in turn until check says done or
// fails, or within ends; stale reads each node's own applied state, as a
// node still catching up answers. Read errors (a cluster between leaders)
// are retried and the last one is reported on timeout.
func (d *demo) pollJob(ctx context.Context, within time.Duration, nodes []string, stale bool, check func(*ferryv1.Job) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for i := 0; ; i++ {
		node := nodes[i%len(nodes)]
		cl, err := d.c.Client(node)
		if err != nil {
			return err
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		j, err := cl.Jobs.Get(rctx, &ferryv1.GetJobRequest{Id: d.jobID, Stale: stale})
		rcancel()
		if err == nil {
			done, err := check(j)
			if err != nil || done {
				return err
			}
			last = nil
		} else {
			last = fmt.Errorf("get job from %s: %w", node, err)
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(demoPoll):
		}
	}
}

// getJob reads the job from the node's applied state.
func (d *demo) getJob(ctx context.Context, node string) (*ferryv1.Job, error) {
	cl, err := d.c.Client(node)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	j, err := cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: d.jobID, Stale: true})
	if err != nil {
		return nil, fmt.Errorf("get job %s from %s: %w", d.jobID, node, err)
	}
	return j, nil
}

// scrapeMetric sums every series of the named counter (or the _sum of the
// named histogram) on a node's /metrics; count is how many series or
// observations there were.
func scrapeMetric(ctx context.Context, httpAddr, name string) (sum, count float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("scrape %s: %w", httpAddr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("scrape %s: %w", httpAddr, err)
	}
	sawHistogram := false
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		metric, _, _ := strings.Cut(series, "{")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch metric {
		case name + "_sum":
			sum, sawHistogram = sum+v, true
		case name + "_count":
			count += v
		case name:
			if !sawHistogram {
				sum += v
				count++
			}
		}
	}
	return sum, count, nil
}

// say starts a numbered step of the story.
func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n[%4.1fs] %d. %s\n", d.elapsed(), d.step, fmt.Sprintf(format, args...))
}

func (d *demo) elapsed() float64 { return time.Since(d.started).Seconds() }

func (d *demo) addr(name string) string {
	n, err := d.c.Node(name)
	if err != nil {
		return "unknown-node"
	}
	return n.GRPCAddr()
}

func (d *demo) httpAddr(name string) string {
	n, err := d.c.Node(name)
	if err != nil {
		return "unknown-node"
	}
	return n.HTTPAddr()
}

// others lists the nodes but one.
func (d *demo) others(name string) []string {
	var out []string
	for _, n := range d.names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// other is a node that is not name.
func (d *demo) other(name string) string { return d.others(name)[0] }

// cli runs a ferry client command as a person would type it and shows its
// output, indented, as it comes.
func (d *demo) cli(ctx context.Context, args ...string) error {
	_, err := d.cliOutput(ctx, args...)
	return err
}

// cliOutput is cli that also returns what the command printed.
func (d *demo) cliOutput(ctx context.Context, args ...string) (string, error) {
	fmt.Fprintf(d.out, "\n  $ ferry %s\n", shellWords(args))
	var all bytes.Buffer
	shown := &indenter{w: d.out, prefix: "    "}
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout = io.MultiWriter(shown, &all)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	shown.flush()
	if err != nil {
		return all.String(), fmt.Errorf("ferry %s: %w", strings.Join(args, " "), err)
	}
	return all.String(), nil
}

// shellWords joins args as a shell would need them typed, quoting the
// ones with spaces or quotes.
func shellWords(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = a
		if a == "" || strings.ContainsAny(a, " '\"\\$`") {
			words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(words, " ")
}

// indenter writes whole lines, each after a prefix. exec.Cmd copies output
// from one goroutine, but flush may follow from another.
type indenter struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (i *indenter) Write(p []byte) (int, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.buf = append(i.buf, p...)
	for {
		nl := bytes.IndexByte(i.buf, '\n')
		if nl < 0 {
			return len(p), nil
		}
		fmt.Fprintf(i.w, "%s%s\n", i.prefix, i.buf[:nl])
		i.buf = i.buf[nl+1:]
	}
}

// flush writes a last line that had no newline.
func (i *indenter) flush() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.buf) > 0 {
		fmt.Fprintf(i.w, "%s%s\n", i.prefix, i.buf)
		i.buf = nil
	}
}
