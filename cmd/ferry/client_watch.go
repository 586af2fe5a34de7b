package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func jobWatchCommand() *clientCommand {
	return &clientCommand{
		name:    "job watch",
		args:    "ID",
		nargs:   1,
		summary: "print a line for every change of a job until it ends",
		details: "Exits 0 when the job succeeds and 1 when it fails or is cancelled. If the node goes away,\n" +
			"ferry reconnects (to -addr) for up to -timeout and carries on without repeating lines;\n" +
			"-timeout does not limit how long the job may run. If nothing listens at -addr any more,\n" +
			"ferry says so at once. Interrupting ferry (Ctrl-C) stops the watch, not the job, and\n" +
			"exits 130.",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				var printed *ferryv1.Job
				last, err := watchJob(ctx, c, args[0], func(j *ferryv1.Job) error {
					// After a reconnect the server resends the current job;
					// the owner's live reports come every 250 ms and are
					// shown at most every plainEvery, like copy's lines.
					if proto.Equal(j, printed) ||
						(printed != nil && sameButLive(j, printed) && sample(j).at.Sub(sample(printed).at) < plainEvery) {
						return nil
					}
					printed = j
					if c.format == "json" {
						return writeJSON(c.stdout, j, "")
					}
					return printWatchLine(c.stdout, j)
				})
				if ctx.Err() != nil {
					return stoppedWatching(args[0], last)
				}
				if err != nil {
					return lostJob(args[0], err)
				}
				return jobOutcome(args[0], last)
			}
		},
	}
}

// watchJob streams JobService.Watch into each, reopening the stream when the
// node is unavailable, and returns the last job received. It gives up when
// no stream could be (re)opened for -timeout.
func watchJob(ctx context.Context, c *client, id string, each func(*ferryv1.Job) error) (*ferryv1.Job, error) {
	var last *ferryv1.Job
	attempt := 0
	deadline := time.Now().Add(c.timeout)
	for {
		err := watchOnce(ctx, c, id, func(j *ferryv1.Job) error {
			last, attempt, deadline = j, 0, time.Now().Add(c.timeout)
			return each(j)
		})
		if err == nil || !isUnavailable(err) {
			return last, err
		}
		if final := c.probe.explain(err); final != err {
			return last, final
		}
		wait := c.backoff.delay(attempt)
		if time.Now().Add(wait).After(deadline) {
			return last, gaveUp(err, attempt+1, c.timeout)
		}
		if !sleep(ctx, wait) {
			return last, ctx.Err()
		}
		attempt++
	}
}

// watchOnce runs one Watch stream to its end; nil means the server ended it.
func watchOnce(ctx context.Context, c *client, id string, each func(*ferryv1.Job) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.jobs.Watch(ctx, &ferryv1.WatchJobRequest{Id: id})
	if err != nil {
		return err
	}
	for {
		j, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(j); err != nil {
			return err
		}
	}
}

// sameButLive reports whether a and b differ at most in their live
// progress.
func sameButLive(a, b *ferryv1.Job) bool {
	strip := func(j *ferryv1.Job) *ferryv1.Job {
		j = proto.Clone(j).(*ferryv1.Job)
		if p := j.GetProgress(); p != nil {
			p.LiveBytesDone, p.LiveAt = 0, nil
		}
		return j
	}
	return proto.Equal(strip(a), strip(b))
}

func printWatchLine(w io.Writer, j *ferryv1.Job) error {
	// Fixed widths keep the columns of a typical job aligned line by line,
	// since a stream cannot be laid out as a whole the way tables are.
	// The line's time is its progress's: the owner's report, if newer.
	at := "-"
	if s := sample(j); s.ok {
		at = s.at.UTC().Format(time.RFC3339)
	}
	_, err := fmt.Fprintf(w, "%s  %-9s  %-23s  %-10s  %s\n", at, jobStateText(j.GetState()),
		progressText(j.GetProgress()), orDash(j.GetOwner()), orDash(j.GetStateReason()))
	return err
}

// stoppedWatching is the error of a watch the user interrupted: the job
// itself goes on.
func stoppedWatching(id string, last *ferryv1.Job) error {
	state := "running"
	if last != nil && !jobEnded(last.GetState()) {
		state = jobStateText(last.GetState())
	}
	return exitStatus{code: exitInterrupted, error: fmt.Errorf(
		"interrupted: job %s is still %s; follow it again with 'ferry job watch %s'", id, state, id)}
}

// lostJob adds to a watch's error, when the node went away for good, that
// the job may well go on without the client.
func lostJob(id string, err error) error {
	var unreachable *unreachableError
	if !isUnavailable(err) && !errors.As(err, &unreachable) {
		return err
	}
	lines := append(describeError(err),
		fmt.Sprintf("lost the cluster while following job %s: it may still be running; follow it with 'ferry job watch %s'", id, id))
	return &jobFailure{lines: lines}
}

// jobOutcome turns the job's final state into the command's result.
func jobOutcome(id string, j *ferryv1.Job) error {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED:
		return nil
	case ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return fmt.Errorf("job %s %s: %s", id, jobStateText(j.GetState()), orDash(j.GetStateReason()))
	default:
		return fmt.Errorf("watch of job %s ended while it was %s", id, jobStateText(j.GetState()))
	}
}
