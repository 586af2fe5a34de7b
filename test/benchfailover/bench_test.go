package main

import (
	"io"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args     []string
		wantErr  bool
		interval int64
		agent    []string
	}{
		{nil, false, 64 << 20, nil},
		{[]string{"-bwlimit", "32MiB/s"}, false, 32 << 20, nil},
		{[]string{"-checkpoint-every", "250ms"}, false, 16 << 20, []string{"-checkpoint-every", "250ms"}},
		{[]string{"-checkpoint-bytes", "1048576"}, false, 1 << 20, []string{"-checkpoint-bytes", "1048576"}},
		{[]string{"-kills", "-1"}, true, 0, nil},
		{[]string{"-kills-per-copy", "0"}, true, 0, nil},
		{[]string{"-quiet-jobs", "9"}, true, 0, nil},
		{[]string{"-size", "1000"}, true, 0, nil},
		{[]string{"extra"}, true, 0, nil},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q): error %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got := o.checkpointInterval(); got != tt.interval {
			t.Errorf("parseFlags(%q): interval %d, want %d", tt.args, got, tt.interval)
		}
		if len(o.agentArgs) != len(tt.agent) {
			t.Errorf("parseFlags(%q): agent args %q, want %q", tt.args, o.agentArgs, tt.agent)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# TYPE ferry_failovers_total counter
ferry_failovers_total{reason="lease"} 2
ferry_failovers_total{reason="gossip"} 1
ferry_lease_renewals_total{result="failed"} 4
ferry_lease_renewals_total{result="granted"} 100
ferry_takeover_recopy_bytes_sum 1.2e+07
ferry_label{text="a b"} 7
garbage line
`)
	tests := []struct {
		name, label string
		want        float64
	}{
		{"ferry_failovers_total", "", 3},
		{"ferry_lease_renewals_total", `result="failed"`, 4},
		{"ferry_takeover_recopy_bytes_sum", "", 1.2e7},
		{"ferry_label", "", 7},
		{"ferry_absent", "", 0},
	}
	for _, tt := range tests {
		got := m.sum(tt.name)
		if tt.label != "" {
			got = m.sumLabel(tt.name, tt.label)
		}
		if got != tt.want {
			t.Errorf("%s %s = %v, want %v", tt.name, tt.label, got, tt.want)
		}
	}
	before := map[string]metrics{"n1": {"x": 1}, "n2": {"x": 5}}
	after := map[string]metrics{"n1": {"x": 4}, "n3": {"x": 100}}
	if d := delta(before, after, "x"); d != 3 {
		t.Errorf("delta = %v, want 3 (n3 was not scraped before)", d)
	}
}

func event(sec int, idx uint64, node, msg string) *ferryv1.JobEvent {
	return &ferryv1.JobEvent{Time: timestamppb.New(time.Unix(int64(sec), 0)), Node: node, RaftIndex: idx, Message: msg}
}

func TestFindTakeover(t *testing.T) {
	job := &ferryv1.Job{History: []*ferryv1.JobEvent{
		event(0, 13, "n1", "submitted"),
		event(0, 14, "n1", "placed on n1 (epoch 14)"),
		event(1, 15, "n1", "started on n1"),
		event(5, 21, "n1", "checkpoint at 268435456 bytes"),
		event(7, 23, "n1", "owner n1 lost: lease expired (no renewal for 1.5s); it had copied 300000000 bytes, 31564544 past its last checkpoint"),
		event(7, 23, "n2", "taken over by n2 (epoch 23) from checkpoint at 268435456 bytes"),
		event(7, 24, "n2", "resumed on n2 from offset 268435456"),
		event(9, 30, "n3", "owner n2 lost: lease expired (no renewal for 1.5s)"),
		event(9, 30, "n3", "taken over by n3 (epoch 30) from checkpoint at 268435456 bytes"),
	}}
	tests := []struct {
		epoch     uint64
		ok        bool
		newOwner  string
		since     int64
		resumed   bool
		reported  int64
		reportedK bool
	}{
		{14, true, "n2", 5, true, 31564544, true},
		// n2 resumed and died before its first checkpoint: its start is
		// where the new owner picks up, and n3 has not resumed yet.
		{23, true, "n3", 7, false, 0, false},
		{30, false, "", 0, false, 0, false},
	}
	for _, tt := range tests {
		got, ok := findTakeover(job, tt.epoch)
		if ok != tt.ok {
			t.Errorf("epoch %d: found %v, want %v", tt.epoch, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.newOwner != tt.newOwner || eventTime(got.since).Unix() != tt.since || (got.resumed != nil) != tt.resumed || got.lost == nil {
			t.Errorf("epoch %d: owner %s, since %v, resumed %v, lost %v", tt.epoch, got.newOwner, eventTime(got.since), got.resumed, got.lost)
		}
		_, past, ok := fsm.LostProgress(got.lost.GetMessage())
		if int64(past) != tt.reported || ok != tt.reportedK {
			t.Errorf("epoch %d: lost bytes %d, %v; want %d, %v", tt.epoch, past, ok, tt.reported, tt.reportedK)
		}
	}
	if n := takeoverCount(job); n != 2 {
		t.Errorf("takeoverCount = %d, want 2", n)
	}
}

func TestResumedOffset(t *testing.T) {
	tests := []struct {
		msg  string
		want int64
		ok   bool
	}{
		{"resumed on n2 from offset 268435456", 268435456, true},
		{"started on n1", 0, true},
		{"resumed on n2", 0, false},
		{"resumed on n2 from offset many", 0, false},
	}
	for _, tt := range tests {
		got, ok := resumedOffset(tt.msg)
		if got != tt.want || ok != tt.ok {
			t.Errorf("resumedOffset(%q) = %d, %v; want %d, %v", tt.msg, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 20; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Second)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{50, 10 * time.Second},
		{99, 20 * time.Second},
		{100, 20 * time.Second},
		{1, time.Second},
	}
	for _, tt := range tests {
		if got := pct(d, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := pct(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}
