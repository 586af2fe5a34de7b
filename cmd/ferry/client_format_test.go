package main

import (
	"testing"
	"time"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func TestBytesText(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 30, "5.0 GiB"},
		{1 << 60, "1.0 EiB"},
		{^uint64(0), "16.0 EiB"},
	}
	for _, tt := range tests {
		if got := bytesText(tt.n); got != tt.want {
			t.Errorf("bytesText(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestProgressText(t *testing.T) {
	tests := []struct {
		p    *ferryv1.JobProgress
		want string
	}{
		{nil, "-"},
		{&ferryv1.JobProgress{}, "-"},
		{&ferryv1.JobProgress{BytesDone: 2048}, "2.0 KiB"},
		{&ferryv1.JobProgress{BytesDone: 512, BytesTotal: 2048}, "512 B/2.0 KiB (25%)"},
	}
	for _, tt := range tests {
		if got := progressText(tt.p); got != tt.want {
			t.Errorf("progressText(%v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestParseJobState(t *testing.T) {
	tests := []struct {
		in      string
		want    ferryv1.JobState
		wantErr bool
	}{
		{"", ferryv1.JobState_JOB_STATE_UNSPECIFIED, false},
		{"queued", ferryv1.JobState_JOB_STATE_QUEUED, false},
		{"Running", ferryv1.JobState_JOB_STATE_RUNNING, false},
		{"JOB_STATE_CANCELLED", ferryv1.JobState_JOB_STATE_CANCELLED, false},
		{"unspecified", 0, true},
		{"paused", 0, true},
	}
	for _, tt := range tests {
		got, err := parseJobState(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseJobState(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEnumText(t *testing.T) {
	tests := []struct{ got, want string }{
		{jobStateText(ferryv1.JobState_JOB_STATE_SUCCEEDED), "succeeded"},
		{jobStateText(ferryv1.JobState_JOB_STATE_UNSPECIFIED), "-"},
		{gossipStateText(ferryv1.GossipState_GOSSIP_STATE_LEFT), "left"},
		{raftRoleText(ferryv1.RaftRole_RAFT_ROLE_CANDIDATE), "candidate"},
		{jobStateText(ferryv1.JobState(99)), "99"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	tests := []struct {
		attempt  int
		lo, high time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 500 * time.Millisecond, time.Second},
		{1000, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			if d := b.delay(tt.attempt); d < tt.lo || d > tt.high {
				t.Errorf("delay(%d) = %v, want within [%v, %v]", tt.attempt, d, tt.lo, tt.high)
			}
		}
	}
}
