package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// result is what one in-process run of the ferry command produced.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit: %d\n-- stdout --\n%s-- stderr --\n%s", r.code, r.stdout, r.stderr)
}

// runFerry runs the command in-process with the given environment only.
func runFerry(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, cliEnv{
		stdin:     strings.NewReader(stdin),
		stdout:    &stdout,
		stderr:    &stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// checkGolden compares got with testdata/<name>.golden, or rewrites it with
// -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommandsGolden runs each command against the fake server and checks
// exit status, stdout and stderr against testdata/<golden>.golden.
func TestCommandsGolden(t *testing.T) {
	addr := startFake(t, &fakeServer{})
	goodSpec := writeTemp(t, "good.json", `{"name": "copy", "source": {"kind": "DEVICE_KIND_DISK", "device": {"name": "db01"}},
		"destination": {"kind": "DEVICE_KIND_TAPE", "device": {"naa": "6001405f3a1b2c3d"}}}`)
	noDevice := writeTemp(t, "nodevice.json", `{"source": {"kind": "DEVICE_KIND_DISK"}}`)

	tests := []struct {
		golden string
		stdin  string
		args   []string
	}{
		{"members", "", []string{"members"}},
		{"members_json", "", []string{"members", "-o", "json"}},
		{"members_remove", "", []string{"members", "remove", "node-3"}},
		{"members_remove_unknown", "", []string{"members", "remove", "node-9"}},
		{"raft_status", "", []string{"raft", "status"}},
		{"raft_status_json", "", []string{"raft", "status", "-o=json"}},
		{"job_list", "", []string{"job", "list"}},
		{"job_list_json", "", []string{"job", "list", "-o", "json"}},
		{"job_list_state", "", []string{"job", "list", "-state", "succeeded", "-stale"}},
		{"job_get", "", []string{"job", "get", "j-1"}},
		{"job_get_interleaved_json", "", []string{"job", "get", "-stale", "j-2", "-o", "json"}},
		{"job_get_tape_source", "", []string{"job", "get", "j-2"}},
		{"job_get_ndmp", "", []string{"job", "get", "s-3"}},
		{"job_get_not_found", "", []string{"job", "get", "nope"}},
		{"job_cancel", "", []string{"job", "cancel", "j-1", "-reason", "wrong tape"}},
		{"job_cancel_ended", "", []string{"job", "cancel", "j-2"}},
		{"job_submit", "", []string{"job", "submit", "-f", goodSpec, "--idempotency-key", "k1"}},
		{"job_submit_existing", "", []string{"job", "submit", "-f", goodSpec, "-idempotency-key", "seen"}},
		{"job_submit_stdin_json", `{"source": {"device": {"name": "db01"}}}`, []string{"job", "submit", "-f", "-", "-idempotency-key", "k2", "-o", "json"}},
		{"job_submit_violation", "", []string{"job", "submit", "-f", noDevice}},
		{"job_submit_bad_json", "{not json", []string{"job", "submit", "-f", "-"}},
		{"job_submit_unknown_field", `{"sauce": {}}`, []string{"job", "submit", "-f", "-"}},
		{"help", "", []string{"help"}},
		{"help_job_submit", "", []string{"help", "job", "submit"}},
		{"members_h", "", []string{"members", "-h"}},
		{"usage_none", "", nil},
		{"usage_unknown_command", "", []string{"frobnicate"}},
		{"usage_group", "", []string{"job"}},
		{"help_group", "", []string{"help", "job"}},
		{"group_h", "", []string{"raft", "-h"}},
		{"usage_group_unknown", "", []string{"raft", "elect"}},
		{"usage_missing_arg", "", []string{"job", "get"}},
		{"usage_extra_arg", "", []string{"job", "get", "a", "b"}},
		{"usage_unexpected_arg", "", []string{"members", "extra"}},
		{"usage_unknown_flag", "", []string{"job", "list", "-verbose"}},
		{"usage_bad_output", "", []string{"members", "-o", "yaml"}},
		{"usage_bad_state", "", []string{"job", "list", "-state", "paused"}},
		{"usage_submit_no_file", "", []string{"job", "submit"}},
		{"usage_bad_timeout", "", []string{"members", "-timeout", "0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, tt.stdin, tt.args...)
			// Temporary file names vary between runs, and protobuf-go varies
			// the space after "proto:" in its errors to stop exact matching.
			got := strings.NewReplacer(goodSpec, "good.json", noDevice, "nodevice.json", "\u00a0", " ").Replace(r.String())
			checkGolden(t, tt.golden, got)
		})
	}
}

func TestMissingJobFile(t *testing.T) {
	addr := startFake(t, &fakeServer{})
	missing := filepath.Join(t.TempDir(), "missing.json")
	r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", "job", "submit", "-f", missing)
	if r.code != exitFailure || !strings.Contains(r.stderr, "ferry: reading job file: open "+missing) {
		t.Errorf("got %v, want exit 1 naming %s", r, missing)
	}
}

// TestRetryUnavailable checks that calls ride out a leaderless cluster, and
// that every Submit attempt carries the same generated idempotency key.
func TestRetryUnavailable(t *testing.T) {
	spec := writeTemp(t, "spec.json", `{"source": {"device": {"name": "db01"}}}`)
	tests := []struct {
		name      string
		failures  int
		args      []string
		wantCalls int
	}{
		{"members", 2, []string{"members"}, 3},
		{"raft status", 1, []string{"raft", "status"}, 2},
		{"job submit", 3, []string{"job", "submit", "-f", spec}, 4},
		{"job list", 1, []string{"job", "list"}, 4}, // 3 pages
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{unavailable: tt.failures}
			addr := startFake(t, f)
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			if r.code != exitOK {
				t.Fatalf("got %v, want success", r)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.calls != tt.wantCalls {
				t.Errorf("server saw %d calls, want %d", f.calls, tt.wantCalls)
			}
			for _, k := range f.submitKeys {
				if !strings.HasPrefix(k, "cli-") || k != f.submitKeys[0] {
					t.Errorf("idempotency keys %q: want one repeated cli-... key", f.submitKeys)
				}
			}
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	addr := startFake(t, &fakeServer{unavailable: -1})
	// Long enough for the first answer to arrive on a loaded machine under
	// the race detector: the test is about giving up after retries.
	r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", "raft", "status", "-timeout", "2s")
	if r.code != exitFailure || !strings.HasPrefix(r.stderr, "ferry: unavailable: no leader (gave up after ") {
		t.Errorf("got %v, want exit 1 and the unavailable error", r)
	}
}

// TestConfigFile checks that client flags come from FERRY_CONFIG's file.
func TestConfigFile(t *testing.T) {
	addr := startFake(t, &fakeServer{})
	conf := writeTemp(t, "ferry.conf", "# client settings\naddr = "+addr+"\no: json\n")
	r := runFerry(t, map[string]string{"FERRY_CONFIG": conf}, "", "raft", "status")
	if r.code != exitOK || !strings.Contains(r.stdout, `"clusterId": "c-7f3a"`) {
		t.Errorf("got %v, want JSON raft status", r)
	}
	bad := writeTemp(t, "bad.conf", "adress = x\n")
	r = runFerry(t, nil, "", "raft", "status", "-config", bad)
	if r.code != exitUsage || !strings.Contains(r.stderr, `line 1: unknown key "adress"`) {
		t.Errorf("got %v, want a usage error naming the key", r)
	}
}

func TestWatch(t *testing.T) {
	const (
		queued    = ferryv1.JobState_JOB_STATE_QUEUED
		running   = ferryv1.JobState_JOB_STATE_RUNNING
		succeeded = ferryv1.JobState_JOB_STATE_SUCCEEDED
		failed    = ferryv1.JobState_JOB_STATE_FAILED
	)
	tests := []struct {
		golden  string
		streams [][]*ferryv1.Job
		args    []string
	}{
		{
			// The first stream breaks; the second resends the last state,
			// which must not be printed twice.
			golden: "job_watch_reconnect",
			streams: [][]*ferryv1.Job{
				{watchJobAt(queued, 0, "waiting for a mover", 0), watchJobAt(running, 1<<20, "copying", 10), nil},
				{watchJobAt(running, 1<<20, "copying", 10), watchJobAt(succeeded, 4<<20, "done", 20)},
			},
		},
		{
			// The owner's live reports are shown at most every 2 s.
			golden: "job_watch_live",
			streams: [][]*ferryv1.Job{{
				watchJobAt(running, 1<<20, "copying", 0),
				withLive(watchJobAt(running, 1<<20, "copying", 0), 2<<20, 1),
				withLive(watchJobAt(running, 1<<20, "copying", 0), 3<<20, 2),
				withLive(watchJobAt(running, 1<<20, "copying", 0), 4<<20, 3),
				watchJobAt(succeeded, 4<<20, "done", 4),
			}},
		},
		{
			golden:  "job_watch_failed",
			streams: [][]*ferryv1.Job{{watchJobAt(running, 0, "copying", 0), watchJobAt(failed, 1<<20, "sense key MEDIUM ERROR", 5)}},
		},
		{
			golden:  "job_watch_json",
			streams: [][]*ferryv1.Job{{watchJobAt(succeeded, 4<<20, "done", 5)}},
			args:    []string{"-o", "json"},
		},
		{
			golden:  "job_watch_ended_early",
			streams: [][]*ferryv1.Job{{watchJobAt(running, 0, "copying", 0)}},
		},
		{
			golden: "job_watch_not_found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			addr := startFake(t, &fakeServer{watchStreams: tt.streams})
			args := append([]string{"job", "watch", "j-1"}, tt.args...)
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", args...)
			checkGolden(t, tt.golden, r.String())
		})
	}
}

// TestWatchGivesUp checks that a watch whose node stays away ends after
// -timeout with the Unavailable error, having printed what it saw.
func TestWatchGivesUp(t *testing.T) {
	addr := startFake(t, &fakeServer{watchStreams: brokenStreams(watchJobAt(ferryv1.JobState_JOB_STATE_RUNNING, 0, "copying", 0), 1000)})
	r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", "job", "watch", "j-1", "-timeout", "2s")
	if r.code != exitFailure || strings.Count(r.stdout, "\n") != 1 ||
		!strings.HasPrefix(r.stderr, "ferry: unavailable: node shutting down (gave up after ") {
		t.Errorf("got %v, want one line and the unavailable error", r)
	}
}
