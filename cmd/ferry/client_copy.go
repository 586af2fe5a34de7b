package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
)

// followDetails explains, for copy and xcopy, what happens after Submit.
const followDetails = "Unless -detach is given, ferry follows the job until it ends: on a terminal a progress bar\n" +
	"(bytes, MiB/s, ETA) on standard error, otherwise a progress line at most every 2 s. On success\n" +
	"it prints \"sha256 HEX  N bytes in DURATION (RATE)\" and where the data went, and exits 0;\n" +
	"with -verify the node reads the destination back as a last step (\"verifying\") and ferry\n" +
	"prints \"verified\" when it matched. The bar moves with what the copying node reports every\n" +
	"250 ms, ahead of its committed checkpoints. A failed job's error and\n" +
	"its SCSI sense data are printed and the exit status is 1. Interrupting ferry (Ctrl-C)\n" +
	"cancels the job (exit status 130); if the node goes away, ferry names the job, which may\n" +
	"still be running. With -detach it prints the job id and returns at once: follow the job\n" +
	"with \"ferry job watch ID\". Without -idempotency-key ferry makes up a key once per\n" +
	"invocation, so a retried submission cannot create the job twice."

func copyCommand() *clientCommand {
	return &clientCommand{
		name:    "copy",
		args:    "SRC DST",
		nargs:   2,
		summary: "copy disk blocks or tape files and follow the job",
		details: "SRC and DST are disk:NAME[@LBA[+BLOCKS]] or tape:BARCODE[#FILE]; NAME or BARCODE may be\n" +
			"naa.<hex designator>. A disk without @LBA starts at block 0, without +BLOCKS runs to\n" +
			"the end. A tape without #FILE is the whole tape as a source (a tape to tape copy is then\n" +
			"an image copy, filemarks included) and a new file at end of data as a destination;\n" +
			"file 0 is the label. Examples:\n" +
			"  ferry copy disk:db01@2048+65536 disk:db02@0\n" +
			"  ferry copy disk:db01 tape:A00001L9 -bwlimit 80MiB/s\n" +
			"  ferry copy tape:A00001L9#1 disk:db02\n\n" + streamsDetails + "\n" + followDetails,
		flags: func(fs *flag.FlagSet) action {
			var f copyFlags
			f.register(fs)
			verify := fs.Bool("verify", false, "re-read and compare the destination after the copy")
			overwrite := fs.Bool("overwrite", false, "let a tape to tape image copy, or a copy to tape:BARCODE#FILE, replace files already on the destination cartridge")
			streams := fs.Int("streams", 0, "run the copy as `N` streams at once (see above); 0 or 1: one")
			return func(ctx context.Context, c *client, args []string) error {
				opts, err := f.options()
				if err != nil {
					return err
				}
				opts.Verify, opts.Overwrite = *verify, *overwrite
				if id, ok := strings.CutPrefix(args[0], jobSourcePrefix); ok {
					dst, err := parseEndpoint(args[1])
					if err != nil {
						return err
					}
					spec, given, err := restoreStreams(ctx, c, id, dst)
					if err != nil {
						return err
					}
					spec.Options = opts
					if f.name != "" {
						spec.Name = f.name
					}
					return submitCopy(ctx, c, &f, spec, given...)
				}
				src, err := parseEndpoint(args[0])
				if err != nil {
					return err
				}
				dst, given, n, err := streamsSpec(src, args[1], *streams)
				if err != nil {
					return err
				}
				name := f.name
				if name == "" {
					name = copyName(src, dst)
				}
				return submitCopy(ctx, c, &f, &ferryv1.JobSpec{Name: name, Source: src, Destination: dst, Options: opts, Streams: n}, given...)
			}
		},
	}
}

func xcopyCommand() *clientCommand {
	return &clientCommand{
		name:    "xcopy",
		args:    "-param-list FILE",
		summary: "run a raw SPC-4 EXTENDED COPY parameter list",
		details: "FILE holds the parameter list exactly as the Data-Out buffer of an EXTENDED COPY command\n" +
			"carries it; -param-list - reads it from standard input. Its CSCD descriptors name\n" +
			"devices by the NAA designators of the cluster's registry (\"ferry disk list\"). A list the\n" +
			"copy manager refuses fails the job with the sense data SPC-4 prescribes.\n\n" + followDetails,
		flags: func(fs *flag.FlagSet) action {
			var f copyFlags
			f.register(fs)
			file := fs.String("param-list", "", "parameter list `file`, or - for standard input; required")
			return func(ctx context.Context, c *client, _ []string) error {
				if *file == "" {
					return usageError{"-param-list is required"}
				}
				opts, err := f.options()
				if err != nil {
					return err
				}
				list, err := readParameterList(*file, c.stdin)
				if err != nil {
					return err
				}
				return submitCopy(ctx, c, &f, &ferryv1.JobSpec{Name: f.name, XcopyParameterList: list, Options: opts})
			}
		},
	}
}

// copyFlags are the job flags copy and xcopy share.
type copyFlags struct {
	name     string
	priority int
	bwlimit  *sizeFlag
	detach   bool
	key      string
}

func (f *copyFlags) register(fs *flag.FlagSet) {
	f.bwlimit = newBandwidthFlag()
	fs.Var(f.bwlimit, "bwlimit", "bandwidth `limit` such as 80MiB/s or 100MB/s; none means unlimited")
	fs.BoolVar(&f.detach, "detach", false, "print the job id and return instead of following the job")
	fs.StringVar(&f.name, "name", "", "`label` of the job, for people; copy names it SRC → DST if none")
	fs.IntVar(&f.priority, "priority", 0, "job `priority`: higher runs first")
	fs.StringVar(&f.key, "idempotency-key", "", "idempotency `key`: resubmitting it returns the first job instead of a new one; if none, ferry generates one")
}

func (f *copyFlags) options() (*ferryv1.JobOptions, error) {
	if f.priority < math.MinInt32 || f.priority > math.MaxInt32 {
		return nil, usageError{fmt.Sprintf("-priority %d: out of range", f.priority)}
	}
	return &ferryv1.JobOptions{Priority: int32(f.priority), BwlimitBytesPerSecond: f.bwlimit.bytes}, nil
}

// readParameterList reads an EXTENDED COPY parameter list from a file, or
// stdin for "-".
func readParameterList(name string, stdin io.Reader) ([]byte, error) {
	data, display, err := readInput(name, stdin)
	if err != nil {
		return nil, fmt.Errorf("reading parameter list: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("parameter list %s is empty", display)
	}
	return data, nil
}

// submitCopy submits spec and, unless -detach, follows the job to its end.
func submitCopy(ctx context.Context, c *client, f *copyFlags, spec *ferryv1.JobSpec, streams ...*ferryv1.JobSpec) error {
	key := f.key
	if key == "" {
		key = "cli-" + rand.Text()
	}
	sctx, cancel := c.rpcContext(ctx)
	resp, err := c.jobs.Submit(sctx, &ferryv1.SubmitJobRequest{Spec: spec, IdempotencyKey: key, Streams: streams})
	cancel()
	if err != nil {
		return err
	}
	id := resp.GetJob().GetId()
	if err := keyReused(key, spec, resp); err != nil {
		return err
	}
	if resp.GetExisting() {
		fmt.Fprintf(c.stderr, "ferry: idempotency key %q matched an existing job\n", key)
	}
	if r := submitNotes(resp.GetJob()); r != "" {
		fmt.Fprintf(c.stderr, "job %s %s\n", id, r)
	}
	if f.detach {
		if c.format == "json" {
			return writeJSON(c.stdout, resp, "  ")
		}
		_, err := fmt.Fprintln(c.stdout, id)
		return err
	}
	return followCopy(ctx, c, id)
}

// keyReused refuses a submission answered with the job an idempotency key
// already names when that job's spec is not the one submitted: the state
// machine returns a key's first job whatever is submitted under it again,
// and following or printing it as this submission's would say data went
// where none did.
func keyReused(key string, spec *ferryv1.JobSpec, resp *ferryv1.SubmitJobResponse) error {
	if !resp.GetExisting() || proto.Equal(resp.GetJob().GetSpec(), spec) {
		return nil
	}
	src, dst := jobEndpointsText(resp.GetJob())
	return fmt.Errorf("idempotency key %q belongs to job %s, which copies %s → %s, not this one: nothing was submitted; use another key",
		key, resp.GetJob().GetId(), src, dst)
}

// submitNotes is what the state machine noted in the job's first event
// about what it costs or reads ("submitted; it replaces 3 files of
// cartridge A00001L9 (files 1–3)", "…; it reads file 2 of cartridge
// A00001L9, which is incomplete …"): "" when nothing.
func submitNotes(j *ferryv1.Job) string {
	h := j.GetHistory()
	if len(h) == 0 {
		return ""
	}
	_, r, _ := strings.Cut(h[0].GetMessage(), "; it ")
	return r
}

// followCopy watches job id to its end with a progress display, and reports
// how it ended. An interrupted ferry cancels the job.
func followCopy(ctx context.Context, c *client, id string) error {
	p := newProgress(c.stderr, terminalWidth(c.stderr), id)
	if p.width > 0 {
		// The bar does not name the job; plain lines do.
		fmt.Fprintf(c.stderr, "job %s (Ctrl-C cancels it)\n", id)
	}
	last, err := watchJob(ctx, c, id, func(j *ferryv1.Job) error {
		p.update(j)
		return nil
	})
	p.finish(last)
	if ctx.Err() != nil {
		return exitStatus{code: exitInterrupted, error: cancelInterrupted(ctx, c, id)}
	}
	if err != nil {
		return lostJob(id, err)
	}
	if c.format == "json" {
		if err := writeJSON(c.stdout, last, "  "); err != nil {
			return err
		}
		return copyOutcome(io.Discard, id, last)
	}
	return copyOutcome(c.stdout, id, last)
}

// cancelInterrupted cancels the job whose copy the user interrupted.
func cancelInterrupted(ctx context.Context, c *client, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	j, err := c.jobs.Cancel(ctx, &ferryv1.CancelJobRequest{Id: id, Reason: "interrupted: the ferry copy client was stopped"})
	if err != nil {
		return fmt.Errorf("interrupted; cancelling job %s: %w", id, err)
	}
	return fmt.Errorf("interrupted: job %s %s", id, jobStateText(j.GetState()))
}

// copyOutcome prints a succeeded job's result line to w, or returns why the
// job did not succeed.
func copyOutcome(w io.Writer, id string, j *ferryv1.Job) error {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED:
		r := j.GetResult()
		d := jobDuration(j)
		if _, err := fmt.Fprintf(w, "sha256 %s  %d bytes in %s (%s)\n", orDash(r.GetSha256()), r.GetBytes(), durationText(d), averageRate(r.GetBytes(), d)); err != nil {
			return err
		}
		if j.GetSpec().GetOptions().GetVerify() && len(j.GetSpec().GetXcopyParameterList()) == 0 {
			if _, err := fmt.Fprintln(w, "verified: the destination, read back after the copy, has this SHA-256"); err != nil {
				return err
			}
		}
		if len(r.GetStreams()) > 0 {
			return printManifest(w, r)
		}
		if err := printVolumes(w, r.GetVolumes()); err != nil {
			return err
		}
		if where := wroteText(j); where != "" {
			_, err := fmt.Fprintf(w, "job %s wrote %s\n", id, where)
			return err
		}
		return nil
	case ferryv1.JobState_JOB_STATE_FAILED:
		return failedJobError(id, j)
	case ferryv1.JobState_JOB_STATE_CANCELLED:
		return &jobFailure{lines: []string{fmt.Sprintf("job %s cancelled: %s", id, orDash(j.GetStateReason()))}}
	default:
		return fmt.Errorf("watch of job %s ended while it was %s", id, jobStateText(j.GetState()))
	}
}

// wroteText says where a finished copy's data went: the tape files it
// wrote ("tape A00001L9 file 3") when the cluster recorded them, else its
// destination as ferry copy takes it.
func wroteText(j *ferryv1.Job) string {
	var parts []string
	for _, tw := range j.GetResult().GetTapeWrites() {
		parts = append(parts, tapeWriteText(dataFiles(j, tw)))
	}
	if vols := j.GetResult().GetVolumes(); len(vols) > 1 {
		parts = parts[:0]
		for _, v := range vols {
			parts = append(parts, fmt.Sprintf("tape %s file %d", v.GetBarcode(), v.GetFile()))
		}
	}
	switch {
	case len(parts) > 0 && j.GetSpec().GetDestination().GetPool() != "":
		return strings.Join(parts, ", ") + " (chosen from pool " + j.GetSpec().GetDestination().GetPool() + ")"
	case len(parts) > 0:
		return strings.Join(parts, ", ")
	case len(j.GetSpec().GetXcopyParameterList()) > 0:
		return "the devices of its parameter list"
	case j.GetSpec().GetDestination() == nil:
		return ""
	}
	return endpointArg(j.GetSpec().GetDestination())
}

// printVolumes lists the cartridges of a copy that spanned, one line each:
// "volume 2: tape A00002L9 file 1  100663296 bytes from byte 98566144".
func printVolumes(w io.Writer, vols []*ferryv1.TapeVolume) error {
	if len(vols) < 2 {
		return nil
	}
	for _, v := range vols {
		if _, err := fmt.Fprintln(w, volumeText(v)); err != nil {
			return err
		}
	}
	return nil
}

func volumeText(v *ferryv1.TapeVolume) string {
	return fmt.Sprintf("volume %d: tape %s file %d  %d bytes from byte %d", v.GetVolume(), v.GetBarcode(), v.GetFile(), v.GetBytes(), v.GetOffset())
}

// dataFiles is what a source → destination copy wrote to one cartridge
// without a first file it only closed: a copy to the end of data after a
// cancelled copy's unterminated remnant writes the filemark that ends it,
// and the catalog lists that file (incomplete, without a writer) first,
// though the copy's data starts after it. An EXTENDED COPY may write inside
// such a file, so its writes stay whole.
func dataFiles(j *ferryv1.Job, tw *ferryv1.TapeWrite) *ferryv1.TapeWrite {
	files := tw.GetFiles()
	if len(j.GetSpec().GetXcopyParameterList()) > 0 || len(files) < 2 || !files[0].GetIncomplete() || files[0].GetJobId() != "" {
		return tw
	}
	own := proto.CloneOf(tw)
	own.Files = own.Files[1:]
	own.FromFile = own.Files[0].GetNumber()
	return own
}

// tapeWriteText says where a job's data went on one cartridge: "tape
// A00001L9 file 3", "tape A00001L9 files 1-4", with "(incomplete)" when the
// last file was cut off (a failed job's).
func tapeWriteText(tw *ferryv1.TapeWrite) string {
	files := tw.GetFiles()
	var s string
	switch len(files) {
	case 0:
		return fmt.Sprintf("tape %s from file %d", tw.GetBarcode(), tw.GetFromFile())
	case 1:
		s = fmt.Sprintf("tape %s file %d", tw.GetBarcode(), files[0].GetNumber())
	default:
		s = fmt.Sprintf("tape %s files %d-%d", tw.GetBarcode(), files[0].GetNumber(), files[len(files)-1].GetNumber())
	}
	if files[len(files)-1].GetIncomplete() {
		s += " (incomplete)"
	}
	return s
}

// failedJobError is the failed job's error message, where in the copy it
// failed, and its decoded sense data.
func failedJobError(id string, j *ferryv1.Job) error {
	e := j.GetError()
	msg := e.GetMessage()
	if msg == "" {
		msg = orDash(j.GetStateReason())
	}
	where := ""
	if e.GetSegment() > 0 || e.GetSegmentBytesDone() > 0 {
		where = fmt.Sprintf(" in segment %d after %d bytes", e.GetSegment(), e.GetSegmentBytesDone())
	}
	lines := []string{fmt.Sprintf("job %s failed%s: %s", id, where, msg)}
	if raw := e.GetSense(); len(raw) > 0 {
		s, err := sense.Parse(raw)
		if err != nil {
			lines = append(lines, fmt.Sprintf("sense data %s: %v", hex.EncodeToString(raw), err))
		} else {
			lines = append(lines, "sense: "+s.Error())
		}
	}
	return &jobFailure{lines: lines}
}

// jobFailure is a job that did not succeed, described in several lines;
// reportError prefixes each with "ferry: ".
type jobFailure struct{ lines []string }

func (e *jobFailure) Error() string { return strings.Join(e.lines, "\nferry: ") }

// jobDuration is how long the job ran: from its first running event (or its
// creation) to its last event (or its last update).
func jobDuration(j *ferryv1.Job) time.Duration {
	start, end := j.GetCreatedAt(), j.GetUpdatedAt()
	for _, e := range j.GetHistory() {
		if e.GetState() == ferryv1.JobState_JOB_STATE_RUNNING {
			start = e.GetTime()
			break
		}
	}
	if h := j.GetHistory(); len(h) > 0 && jobEnded(h[len(h)-1].GetState()) {
		end = h[len(h)-1].GetTime()
	}
	if start == nil || end == nil {
		return 0
	}
	return max(0, end.AsTime().Sub(start.AsTime()))
}

// durationText rounds d to what a person reads: "350ms", "2.5s", "1m23s".
func durationText(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// averageRate is bytes over d as rateText writes it.
func averageRate(bytes uint64, d time.Duration) string {
	if d <= 0 {
		return "- MiB/s"
	}
	return rateText(float64(bytes) / d.Seconds())
}
