package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

func jobSubmitCommand() *clientCommand {
	return &clientCommand{
		name:    "job submit",
		args:    "-f FILE",
		summary: "submit a copy job and print its id",
		details: "The job file holds a ferry.v1.JobSpec as protojson (field names in lowerCamelCase or\n" +
			"snake_case); -f - reads it from standard input. Without -idempotency-key, ferry makes up a\n" +
			"random key (\"cli-...\") once per invocation and sends it with every retry, so a retry after\n" +
			"a lost answer cannot create the job twice. Pass your own key to make re-running the\n" +
			"command itself safe.",
		flags: func(fs *flag.FlagSet) action {
			file := fs.String("f", "", "job `file` (JobSpec as protojson), or - for standard input; required")
			key := fs.String("idempotency-key", "", "idempotency `key`: resubmitting it returns the first job instead of a new one; if none, ferry generates one")
			return func(ctx context.Context, c *client, _ []string) error {
				if *file == "" {
					return usageError{"-f is required"}
				}
				spec, err := readJobSpec(*file, c.stdin)
				if err != nil {
					return err
				}
				k := *key
				if k == "" {
					k = "cli-" + rand.Text()
				}
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := c.jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: spec, IdempotencyKey: k})
				if err != nil {
					return err
				}
				if err := keyReused(k, spec, resp); err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				if resp.GetExisting() {
					fmt.Fprintf(c.stderr, "ferry: idempotency key %q matched an existing job\n", k)
				}
				_, err = fmt.Fprintln(c.stdout, resp.GetJob().GetId())
				return err
			}
		},
	}
}

// readInput reads a file, or stdin for "-", and names it for messages.
func readInput(name string, stdin io.Reader) (data []byte, display string, err error) {
	if name == "-" {
		data, err = io.ReadAll(stdin)
		return data, "standard input", err
	}
	data, err = os.ReadFile(name)
	return data, name, err
}

// readJobSpec reads a JobSpec from a protojson file, or stdin for "-".
func readJobSpec(name string, stdin io.Reader) (*ferryv1.JobSpec, error) {
	data, display, err := readInput(name, stdin)
	if err != nil {
		return nil, fmt.Errorf("reading job file: %w", err)
	}
	var spec ferryv1.JobSpec
	if err := protojson.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("job file %s: not a valid JobSpec in JSON: %w", display, err)
	}
	return &spec, nil
}

func jobListCommand() *clientCommand {
	return &clientCommand{
		name:    "job list",
		summary: "list jobs, oldest first",
		details: "The server sends the jobs in pages of at most about 1 MiB; ferry asks for every page.",
		flags: func(fs *flag.FlagSet) action {
			state := fs.String("state", "", "only jobs in this `state`: queued, running, succeeded, failed or cancelled")
			stale := fs.Bool("stale", false, "answer from the node's applied state, skipping the leader round trip")
			return func(ctx context.Context, c *client, _ []string) error {
				st, err := parseJobState(*state)
				if err != nil {
					return err
				}
				jobs, err := listAllJobs(ctx, c, &ferryv1.ListJobsRequest{State: st, Stale: *stale})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, &ferryv1.ListJobsResponse{Jobs: jobs}, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "ID", "STATE", "OWNER", "SOURCE", "DESTINATION", "PROGRESS", "CREATED", "NAME")
				for _, j := range jobs {
					src, dst := jobEndpointsText(j)
					row(tw, j.GetId(), jobStateText(j.GetState()), orDash(j.GetOwner()), src, dst,
						progressText(j.GetProgress()), timeText(j.GetCreatedAt()), orDash(j.GetSpec().GetName()))
				}
				return tw.Flush()
			}
		},
	}
}

// jobEndpointsText is a job's source and destination for listings: an
// EXTENDED COPY names its devices in its parameter list, so it shows as
// "xcopy (N segments)". Until the job starts its progress has no segment
// count, so the list's own segments are counted.
func jobEndpointsText(j *ferryv1.Job) (src, dst string) {
	spec := j.GetSpec()
	if s := spec.GetNdmp(); s != nil {
		// An NDMP session: the DMA on one side, the drive and its
		// cartridge on the other.
		return "ndmp:" + s.GetDmaAddress(), ndmpDriveText(s)
	}
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		n := j.GetProgress().GetSegmentsTotal()
		if n == 0 {
			if pl, err := xcopy.Decode(list, xcopy.DefaultLimits()); err == nil {
				n = uint32(len(pl.Segments))
			}
		}
		return fmt.Sprintf("xcopy (%d segments)", n), "-"
	}
	return endpointArg(spec.GetSource()), endpointArg(spec.GetDestination())
}

// listAllJobs follows next_page_token until the server has sent every job;
// -timeout applies to each page.
func listAllJobs(ctx context.Context, c *client, req *ferryv1.ListJobsRequest) ([]*ferryv1.Job, error) {
	var jobs []*ferryv1.Job
	seen := map[string]bool{}
	for {
		pctx, cancel := c.rpcContext(ctx)
		resp, err := c.jobs.List(pctx, req)
		cancel()
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, resp.GetJobs()...)
		next := resp.GetNextPageToken()
		if next == "" {
			return jobs, nil
		}
		// A server that hands back a token it already gave would loop forever.
		if seen[next] {
			return nil, fmt.Errorf("server repeated page token %q", next)
		}
		seen[next] = true
		req.PageToken = next
	}
}

// parseJobState reads a -state value: a lowercase state name, optionally
// with the JOB_STATE_ prefix; empty means every state.
func parseJobState(s string) (ferryv1.JobState, error) {
	if s == "" {
		return ferryv1.JobState_JOB_STATE_UNSPECIFIED, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "JOB_STATE_") {
		name = "JOB_STATE_" + name
	}
	v, ok := ferryv1.JobState_value[name]
	if !ok || v == int32(ferryv1.JobState_JOB_STATE_UNSPECIFIED) {
		return 0, usageError{fmt.Sprintf("-state %q: want queued, running, succeeded, failed or cancelled", s)}
	}
	return ferryv1.JobState(v), nil
}

func jobGetCommand() *clientCommand {
	return &clientCommand{
		name:    "job get",
		args:    "ID",
		nargs:   1,
		summary: "show a job: spec, state, progress and history",
		flags: func(fs *flag.FlagSet) action {
			stale := fs.Bool("stale", false, "answer from the node's applied state, skipping the leader round trip")
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				j, err := c.jobs.Get(ctx, &ferryv1.GetJobRequest{Id: args[0], Stale: *stale})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, j, "  ")
				}
				if err := printJob(c.stdout, j); err != nil || len(j.GetStreams()) == 0 {
					return err
				}
				streams, err := fetchStreams(ctx, c, j, *stale)
				if err != nil {
					return err
				}
				return printStreams(c.stdout, streams)
			}
		},
	}
}

func printJob(w io.Writer, j *ferryv1.Job) error {
	spec := j.GetSpec()
	owner := "-"
	if j.GetOwner() != "" {
		owner = fmt.Sprintf("%s (epoch %d)", j.GetOwner(), j.GetEpoch())
	}
	p := j.GetProgress()
	tw := newTable(w)
	row(tw, "id:", j.GetId())
	row(tw, "name:", orDash(spec.GetName()))
	row(tw, "state:", jobStateText(j.GetState()))
	row(tw, "state reason:", orDash(j.GetStateReason()))
	row(tw, "owner:", owner)
	row(tw, "progress:", fmt.Sprintf("%s, segments %d/%d, checkpoint at byte %d",
		progressText(p), p.GetSegmentsDone(), p.GetSegmentsTotal(), p.GetCheckpointOffset()))
	row(tw, "created:", fmt.Sprintf("%s (raft index %d)", timeText(j.GetCreatedAt()), j.GetCreatedIndex()))
	row(tw, "updated:", timeText(j.GetUpdatedAt()))
	row(tw, "submitted via:", orDash(j.GetSubmittedVia()))
	row(tw, "idempotency key:", orDash(j.GetIdempotencyKey()))
	if p := j.GetParent(); p != "" {
		row(tw, "stream of:", p)
	}
	if n := len(j.GetStreams()); n > 0 {
		row(tw, "streams:", fmt.Sprintf("%d (listed after the history)", n))
	}
	if s := spec.GetNdmp(); s != nil {
		row(tw, "kind:", "ndmp (an NDMP tape session: never queued, placed or taken over)")
		row(tw, "dma:", s.GetDmaAddress())
		row(tw, "node:", s.GetNode())
		row(tw, "drive:", ndmpDriveText(s))
		row(tw, "bytes:", bytesText(max(p.GetBytesDone(), p.GetLiveBytesDone(), j.GetResult().GetBytes())))
		for _, w := range tapeWrites(j) {
			row(tw, "wrote:", tapeWriteText(w))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return printHistory(w, j)
	}
	if n := len(spec.GetXcopyParameterList()); n > 0 {
		row(tw, "xcopy parameter list:", fmt.Sprintf("%d bytes", n))
		for _, w := range tapeWrites(j) {
			row(tw, "wrote:", tapeWriteText(w))
		}
	} else {
		row(tw, "source:", endpointText(spec.GetSource(), true))
		row(tw, "destination:", destinationText(j))
		vols := j.GetResult().GetVolumes()
		if len(vols) == 0 {
			vols = j.GetVolumes() // filled so far, while it runs
		}
		if len(vols) > 1 || len(j.GetVolumes()) > 0 {
			for _, v := range vols {
				row(tw, "volume:", volumeText(v))
			}
		}
	}
	row(tw, "options:", optionsText(spec.GetOptions()))
	if err := tw.Flush(); err != nil {
		return err
	}
	if segs := spec.GetSegments(); len(segs) > 0 {
		fmt.Fprintf(w, "segments (%d):\n", len(segs))
		tw = newTable(w)
		for _, s := range segs {
			row(tw, "", fmt.Sprintf("source +%d", s.GetSourceOffset()),
				fmt.Sprintf("destination +%d", s.GetDestinationOffset()), bytesText(s.GetLength()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return printHistory(w, j)
}

func printHistory(w io.Writer, j *ferryv1.Job) error {
	fmt.Fprintf(w, "history (%d):\n", len(j.GetHistory()))
	tw := newTable(w)
	for _, e := range j.GetHistory() {
		row(tw, "", timeText(e.GetTime()), jobStateText(e.GetState()), orDash(e.GetNode()),
			fmt.Sprintf("raft index %d", e.GetRaftIndex()), orDash(e.GetMessage()))
	}
	return tw.Flush()
}

// ndmpDriveText is an NDMP session's drive as NDMP names it (LIB/DRIVE),
// with its cartridge and mode: "lib1/0 A00001L9 (read-write)".
func ndmpDriveText(s *ferryv1.NdmpSession) string {
	mode := "read-only"
	if s.GetReadWrite() {
		mode = "read-write"
	}
	return fmt.Sprintf("%s/%d %s (%s)", s.GetLibrary(), s.GetDrive(), s.GetBarcode(), mode)
}

func jobCancelCommand() *clientCommand {
	return &clientCommand{
		name:    "job cancel",
		args:    "ID",
		nargs:   1,
		summary: "cancel a job that has not ended",
		details: "Cancelling an ended job fails; cancelling a cancelled job succeeds and changes nothing.",
		flags: func(fs *flag.FlagSet) action {
			reason := fs.String("reason", "", "why the job is cancelled, recorded in its history")
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				j, err := c.jobs.Cancel(ctx, &ferryv1.CancelJobRequest{Id: args[0], Reason: *reason})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, j, "  ")
				}
				_, err = fmt.Fprintf(c.stdout, "%s %s\n", j.GetId(), jobStateText(j.GetState()))
				return err
			}
		},
	}
}
