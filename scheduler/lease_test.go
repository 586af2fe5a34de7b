package scheduler

import (
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestLeaseTable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	lease := 1500 * time.Millisecond
	tests := []struct {
		name    string
		renewed time.Duration // after leadership start; <0 means never
		at      time.Duration
		expired bool
	}{
		{"a new leader grants a full lease", -1, lease, false},
		{"unrenewed past a full lease", -1, lease + time.Millisecond, true},
		{"renewed just now", time.Second, time.Second, false},
		{"renewed, still inside the lease", time.Second, time.Second + lease, false},
		{"renewed, lease run out", time.Second, time.Second + lease + time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newLeaseTable(lease, t0)
			if tt.renewed >= 0 {
				tab.renew("n1", t0.Add(tt.renewed), []*ferryv1.JobLease{{JobId: "j", Epoch: 7, BytesDone: 42}})
				if got := tab.reportedBytes("j"); got != 42 {
					t.Errorf("reported bytes %d, want 42", got)
				}
			}
			if got := tab.expired("n1", t0.Add(tt.at)); got != tt.expired {
				t.Errorf("expired = %v, want %v", got, tt.expired)
			}
		})
	}
}

func TestLeaseTableRenewalBeforeLeadershipCountsFromLeadership(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tab := newLeaseTable(time.Second, t0)
	tab.renew("n1", t0.Add(-10*time.Second), nil)
	if tab.expired("n1", t0.Add(time.Second)) {
		t.Fatal("a renewal older than the leadership must not shorten the lease granted at its start")
	}
}
