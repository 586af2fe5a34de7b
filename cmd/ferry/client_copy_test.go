package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
)

const (
	queued    = ferryv1.JobState_JOB_STATE_QUEUED
	running   = ferryv1.JobState_JOB_STATE_RUNNING
	cancelled = ferryv1.JobState_JOB_STATE_CANCELLED
)

// TestCopyGolden runs copy and xcopy against the fake server, each with the
// job's Watch stream it needs, and checks exit status and output.
func TestCopyGolden(t *testing.T) {
	garbage := writeTemp(t, "garbage.bin", "this is not a parameter list")
	empty := writeTemp(t, "empty.bin", "")
	const mib = 1 << 20
	tests := []struct {
		golden  string
		streams [][]*ferryv1.Job
		stdin   string
		args    []string
	}{
		{
			// Progress lines at most every 2 s of job time: the update at
			// 2 s is skipped, the ones at 3 s and 5 s are shown.
			golden: "copy_disk_to_tape",
			streams: [][]*ferryv1.Job{{
				copyJob(queued, 0, 0, 0, "waiting for a mover"),
				copyJob(running, 0, 4*mib, 1, "copying"),
				copyJob(running, 1*mib, 4*mib, 2, "copying"),
				copyJob(running, 2*mib, 4*mib, 3, "copying"),
				copyJob(running, 3*mib, 4*mib, 4, "copying"),
				copyJob(running, 4*mib, 4*mib, 5, "copying"),
				toTape(succeededJob(4*mib, 5), "A00001L9", 3),
			}},
			args: []string{"copy", "disk:db01", "tape:A00001L9", "--bwlimit", "80MiB/s", "--name", "nightly", "--priority", "5", "--verify", "--idempotency-key", "k1"},
		},
		{
			// The total of a tape source is unknown: no percentage, no ETA.
			golden: "copy_tape_source",
			streams: [][]*ferryv1.Job{{
				copyJob(running, 0, 0, 1, "copying"),
				copyJob(running, 3*mib, 0, 4, "copying"),
				succeededJob(6*mib, 7),
			}},
			args: []string{"copy", "tape:A00001L9#1", "disk:db02"},
		},
		{
			// A reconnect resends the job; the queued reason change is shown.
			golden: "copy_reconnect",
			streams: [][]*ferryv1.Job{
				{copyJob(queued, 0, 0, 0, "waiting for a mover"), withReason(copyJob(queued, 0, 0, 0, "waiting for a mover"), "waiting for drive 0 of libA"), nil},
				{withReason(copyJob(queued, 0, 0, 0, "waiting for a mover"), "waiting for drive 0 of libA"), succeededJob(512, 1)},
			},
			args: []string{"copy", "disk:db01@0+1", "disk:db02@8"},
		},
		{
			golden:  "copy_json",
			streams: [][]*ferryv1.Job{{succeededJob(4*mib, 3)}},
			args:    []string{"copy", "disk:db01", "disk:db02", "-o", "json"},
		},
		{
			golden: "copy_tape_full",
			streams: [][]*ferryv1.Job{{
				copyJob(running, 0, 4*mib, 1, "copying"),
				failedJob(3*mib, 4, "tape A00001L9: write past the end of medium after 3145728 bytes", sense.EndOfMedium(0), 0),
			}},
			args: []string{"copy", "disk:db01", "tape:A00001L9"},
		},
		{
			golden: "copy_failed_segment",
			streams: [][]*ferryv1.Job{{
				failedJob(0, 2, "disk db02: write protected", sense.New(sense.DataProtect, sense.WriteProtected), 1),
			}},
			args: []string{"copy", "disk:db01", "disk:db02"},
		},
		{
			golden:  "copy_cancelled",
			streams: [][]*ferryv1.Job{{copyJob(running, 0, 4*mib, 1, "copying"), copyJob(cancelled, mib, 4*mib, 3, "cancelled by operator")}},
			args:    []string{"copy", "disk:db01", "disk:db02"},
		},
		{golden: "copy_detach", args: []string{"copy", "disk:db01", "tape:A00002L9", "--bwlimit", "80MiB/s", "--detach"}},
		{golden: "copy_overwrite", args: []string{"copy", "tape:A00001L9", "tape:A00002L9", "--overwrite", "--detach", "-idempotency-key", "k4"}},
		{golden: "copy_key_reused", args: []string{"copy", "disk:db01", "tape:A00002L9", "-idempotency-key", "used"}},
		{golden: "copy_detach_existing", args: []string{"copy", "disk:db01", "tape:A00002L9", "-detach", "-idempotency-key", "seen"}},
		{golden: "copy_detach_json", args: []string{"copy", "disk:naa.3F00000000000001@2048+65536", "disk:db02@0", "-detach", "-o", "json", "-idempotency-key", "k2"}},
		{golden: "copy_unknown_device", args: []string{"copy", "disk:nope", "disk:db02"}},
		{golden: "copy_bad_endpoint", args: []string{"copy", "disk:db01@x", "disk:db02"}},
		{golden: "copy_bad_kind", args: []string{"copy", "lun:db01", "disk:db02"}},
		{golden: "copy_bad_bwlimit", args: []string{"copy", "disk:db01", "disk:db02", "-bwlimit", "fast"}},
		{golden: "copy_missing_dst", args: []string{"copy", "disk:db01"}},
		{
			golden: "xcopy_malformed",
			streams: [][]*ferryv1.Job{{
				failedJob(0, 1, "EXTENDED COPY parameter list refused", sense.InvalidParameter(2, -1), 0),
			}},
			args: []string{"xcopy", "--param-list", garbage},
		},
		{golden: "xcopy_stdin_detach", stdin: "\x00\x00\x00\x00", args: []string{"xcopy", "-param-list", "-", "-detach", "-idempotency-key", "k3"}},
		{golden: "xcopy_empty", args: []string{"xcopy", "-param-list", empty}},
		{golden: "xcopy_no_list", args: []string{"xcopy"}},
		{golden: "copy_h", args: []string{"copy", "-h"}},
		{golden: "xcopy_h", args: []string{"help", "xcopy"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := &dataFake{fakeServer: &fakeServer{watchStreams: tt.streams}}
			addr := startDataFake(t, f)
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, tt.stdin, tt.args...)
			got := strings.NewReplacer(garbage, "garbage.bin", empty, "empty.bin").Replace(r.String())
			f.dmu.Lock()
			for _, req := range f.requests {
				// Generated keys vary; the spec sent is part of the golden.
				if strings.HasPrefix(req.IdempotencyKey, "cli-") {
					req.IdempotencyKey = "cli-GENERATED"
				}
				var b strings.Builder
				if err := writeJSON(&b, req, "  "); err != nil {
					t.Fatal(err)
				}
				got += "-- submitted --\n" + b.String()
			}
			f.dmu.Unlock()
			checkGolden(t, tt.golden, got)
		})
	}
}

// TestCopyResultsGolden checks the three RECEIVE COPY RESULTS actions and
// the output formats.
func TestCopyResultsGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	tests := []struct {
		golden string
		args   []string
	}{
		{"copy_results", []string{"copy-results", "j-9"}},
		{"copy_results_raw", []string{"copy-results", "j-9", "-o", "raw"}},
		{"copy_results_json", []string{"copy-results", "j-9", "-o", "json"}},
		{"copy_results_operating", []string{"copy-results", "j-9", "--operating-parameters", "-o", "text"}},
		{"copy_results_failed", []string{"copy-results", "j-9", "--failed-segments"}},
		{"copy_results_no_failed", []string{"copy-results", "j-8", "--failed-segments"}},
		{"copy_results_malformed", []string{"copy-results", "j-8"}},
		{"copy_results_not_found", []string{"copy-results", "j-1"}},
		{"copy_results_both", []string{"copy-results", "j-9", "--failed-segments", "--operating-parameters"}},
		{"copy_results_bad_output", []string{"copy-results", "j-9", "-o", "yaml"}},
		{"copy_results_h", []string{"copy-results", "-h"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			checkGolden(t, tt.golden, strings.ReplaceAll(r.String(), "\u00a0", " "))
		})
	}
}

// TestCopyRetriesSubmit checks that a copy rides out a leaderless cluster
// with one idempotency key for every attempt.
func TestCopyRetriesSubmit(t *testing.T) {
	f := &dataFake{fakeServer: &fakeServer{unavailable: 2}}
	addr := startDataFake(t, f)
	r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", "copy", "disk:db01", "disk:db02", "-detach")
	if r.code != exitOK || r.stdout != "j-9\n" {
		t.Fatalf("got %v, want the job id", r)
	}
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if len(f.requests) != 3 {
		t.Fatalf("server saw %d submits, want 3", len(f.requests))
	}
	for _, req := range f.requests {
		if k := req.GetIdempotencyKey(); !strings.HasPrefix(k, "cli-") || k != f.requests[0].GetIdempotencyKey() {
			t.Errorf("idempotency key %q: want one repeated cli-... key", k)
		}
	}
}

// cancelOnWrite cancels a context at the first write: the test's stand-in
// for a user pressing Ctrl-C once progress shows.
type cancelOnWrite struct {
	strings.Builder
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return w.Builder.Write(p)
}

// runInterrupted runs ferry in-process and interrupts it, as Ctrl-C does,
// at its first line on standard error (onStderr) or standard output.
func runInterrupted(onStderr bool, args ...string) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var plain strings.Builder
	watched := &cancelOnWrite{cancel: cancel}
	env := cliEnv{stdin: strings.NewReader(""), stdout: watched, stderr: &plain,
		lookupEnv: func(string) (string, bool) { return "", false }}
	if onStderr {
		env.stdout, env.stderr = &plain, watched
	}
	code := run(ctx, args, env)
	if onStderr {
		return result{code: code, stdout: plain.String(), stderr: watched.String()}
	}
	return result{code: code, stdout: watched.String(), stderr: plain.String()}
}

// TestCopyInterruptCancelsJob checks that interrupting a followed copy
// cancels its job and says so.
func TestCopyInterruptCancelsJob(t *testing.T) {
	// The node goes away after the first update, so ferry is waiting to
	// reconnect when it is interrupted.
	f := &dataFake{fakeServer: &fakeServer{watchStreams: brokenStreams(copyJob(running, 0, 4<<20, 1, "copying"), 100)}}
	addr := startDataFake(t, f)
	r := runInterrupted(true, "copy", "disk:db01", "disk:db02", "-addr", addr, "-timeout", "1m")
	want := "job j-9 running: 0 B of 4.0 MiB (0%)\nferry: interrupted: job j-9 cancelled\n"
	if r.code != exitInterrupted || r.stderr != want {
		t.Errorf("got %v\nwant exit 130 and stderr %q", r, want)
	}
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if len(f.cancels) != 1 || f.cancels[0].GetId() != "j-9" {
		t.Errorf("cancel requests %v, want one for j-9", f.cancels)
	}
}
