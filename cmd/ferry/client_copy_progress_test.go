package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// TestProgressTerminal checks the bar redrawn in place: every update is
// drawn (no 2 s limit), a finished copy is drawn full and its line ended.
func TestProgressTerminal(t *testing.T) {
	const mib = 1 << 20
	var b strings.Builder
	p := newProgress(&b, 80, "j-9")
	for _, j := range []*ferryv1.Job{
		copyJob(queued, 0, 0, 0, "waiting for a mover"),
		copyJob(running, 0, 8*mib, 1, "copying"),
		copyJob(running, 2*mib, 8*mib, 2, "copying"),
		copyJob(running, 4*mib, 8*mib, 3, "copying"),
	} {
		p.update(j)
	}
	done := succeededJob(8*mib, 5)
	p.update(done)
	p.finish(done)
	want := strings.Join([]string{
		"\r\x1b[Kjob j-9 queued: waiting for a mover",
		"\r\x1b[K[------------------------] 0 B / 8.0 MiB (0%)",
		"\r\x1b[K[######------------------] 2.0 MiB / 8.0 MiB (25%), 2.1 MB/s, ETA 3s",
		"\r\x1b[K[############------------] 4.0 MiB / 8.0 MiB (50%), 2.1 MB/s, ETA 2s",
		"\r\x1b[K[########################] 8.0 MiB / 8.0 MiB (100%), 2.1 MB/s\n",
	}, "")
	if got := b.String(); got != want {
		t.Errorf("terminal output:\n got %q\nwant %q", got, want)
	}
}

// TestProgressTerminalNarrow checks that a line longer than the terminal is
// cut short instead of wrapping.
func TestProgressTerminalNarrow(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, 20, "j-9")
	p.update(copyJob(queued, 0, 0, 0, "waiting for a mover"))
	if want := "\r\x1b[Kjob j-9 queued: wai"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
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
	want := "\r\x1b[Kcopying: 0 B copied\r\x1b[Kcopying: 4.8 MiB copied, 2.5 MB/s\n"
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
		{512, 0, "0s", "- MB/s"},
		{1e6, 350 * time.Millisecond, "350ms", "2.9 MB/s"},
		{250e6, 2540 * time.Millisecond, "2.5s", "98.4 MB/s"},
		{1 << 30, 83*time.Second + 400*time.Millisecond, "1m23s", "12.9 MB/s"},
	}
	for _, tt := range tests {
		if got := durationText(tt.d); got != tt.wantDur {
			t.Errorf("durationText(%v) = %q, want %q", tt.d, got, tt.wantDur)
		}
		if got := rateText(tt.bytes, tt.d); got != tt.wantRate {
			t.Errorf("rateText(%d, %v) = %q, want %q", tt.bytes, tt.d, got, tt.wantRate)
		}
	}
}
