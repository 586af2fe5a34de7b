package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// progressFrames renders jobs through a terminal progress of width and
// returns one frame per line: each redraw ("\r\x1b[K") starts a line.
func progressFrames(width int, jobs ...*ferryv1.Job) string {
	var b strings.Builder
	p := newProgress(&b, width, "j-9")
	for _, j := range jobs {
		p.update(j)
	}
	p.finish(jobs[len(jobs)-1])
	return strings.ReplaceAll(b.String(), "\r\x1b[K", "\n|")
}

// withLive returns a copy of j whose owner reported bytes at sec, ahead of
// its committed progress.
func withLive(j *ferryv1.Job, bytes uint64, sec int64) *ferryv1.Job {
	j = proto.Clone(j).(*ferryv1.Job)
	j.Progress.LiveBytesDone, j.Progress.LiveAt = bytes, ts(sec)
	return j
}

// TestProgressWidths checks the terminal bar at several widths (golden
// testdata/progress_widths.golden): it never reaches the last column, the
// bar shrinks first, then bytes, rate, bar and ETA go in that order. The
// committed progress stays at 2 MiB while the owner's live reports move on.
func TestProgressWidths(t *testing.T) {
	const mib = 1 << 20
	copying := copyJob(running, 2*mib, 8*mib, 2, "copying")
	jobs := []*ferryv1.Job{
		copyJob(queued, 0, 0, 0, "waiting for a mover"),
		copyJob(running, 0, 8*mib, 1, "copying"),
		copying,
		withLive(copying, 3*mib, 3),
		withLive(copying, 5*mib, 5),
		succeededJob(8*mib, 8),
	}
	var out strings.Builder
	for _, w := range []int{100, 80, 60, 45, 35, 25, 12} {
		frames := progressFrames(w, jobs...)
		for _, line := range strings.Split(frames, "\n") {
			if l := len([]rune(strings.TrimPrefix(line, "|"))); l >= w {
				t.Errorf("width %d: %q is %d wide", w, line, l)
			}
		}
		fmt.Fprintf(&out, "== width %d%s", w, frames)
	}
	checkGolden(t, "progress_widths", out.String())
}

// TestProgressVerify checks that a copy with --verify shows the re-reading
// of its destination as its own step, on a terminal and in plain lines.
func TestProgressVerify(t *testing.T) {
	const mib = 1 << 20
	verify := func(j *ferryv1.Job) *ferryv1.Job {
		j = proto.Clone(j).(*ferryv1.Job)
		j.Spec.Options = &ferryv1.JobOptions{Verify: true}
		return j
	}
	jobs := []*ferryv1.Job{
		verify(copyJob(running, 0, 8*mib, 1, "copying")),
		verify(copyJob(running, 4*mib, 8*mib, 2, "copying")),
		verify(copyJob(running, 8*mib, 8*mib, 3, "copying")),
		verify(copyJob(running, 8*mib, 8*mib, 4, "copying")),
		verify(succeededJob(8*mib, 6)),
	}
	var plain strings.Builder
	p := newProgress(&plain, 0, "j-9")
	for _, j := range jobs {
		p.update(j)
	}
	var result strings.Builder
	if err := copyOutcome(&result, "j-9", jobs[len(jobs)-1]); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "progress_verify", "== terminal"+progressFrames(80, jobs...)+"== plain\n"+plain.String()+"== result\n"+result.String())
}

// TestProgressTerminalUnknownTotal checks a tape source: bytes and rate,
// no bar and no ETA; a failed job's line is ended without redrawing.
func TestProgressTerminalUnknownTotal(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, 80, "j-9")
	p.update(copyJob(running, 0, 0, 1, "copying"))
	p.update(copyJob(running, 5e6, 0, 3, "copying"))
	failed := failedJob(5e6, 4, "read error", nil, 0)
	p.update(failed)
	p.finish(failed)
	want := "\r\x1b[Kcopying: 0 B copied\r\x1b[Kcopying: 4.8 MiB copied  2.4 MiB/s\n"
	if got := b.String(); got != want {
		t.Errorf("terminal output:\n got %q\nwant %q", got, want)
	}
}

func TestETAText(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1400 * time.Millisecond, "1s"},
		{59 * time.Second, "59s"},
		{65 * time.Second, "1m05s"},
		{time.Hour + 7*time.Minute + 30*time.Second, "1h07m"},
	}
	for _, tt := range tests {
		if got := etaText(tt.d); got != tt.want {
			t.Errorf("etaText(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDurationAndRateText(t *testing.T) {
	tests := []struct {
		bytes    uint64
		d        time.Duration
		wantDur  string
		wantRate string
	}{
		{512, 0, "0s", "- MiB/s"},
		{1e6, 350 * time.Millisecond, "350ms", "2.7 MiB/s"},
		{250e6, 2540 * time.Millisecond, "2.5s", "93.9 MiB/s"},
		{1 << 30, 83*time.Second + 400*time.Millisecond, "1m23s", "12.3 MiB/s"},
	}
	for _, tt := range tests {
		if got := durationText(tt.d); got != tt.wantDur {
			t.Errorf("durationText(%v) = %q, want %q", tt.d, got, tt.wantDur)
		}
		if got := averageRate(tt.bytes, tt.d); got != tt.wantRate {
			t.Errorf("averageRate(%d, %v) = %q, want %q", tt.bytes, tt.d, got, tt.wantRate)
		}
	}
}
