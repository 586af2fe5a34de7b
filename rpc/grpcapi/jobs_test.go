package grpcapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// bigJob is a job whose spec has n segments, as a job accepted before any
// limit on segments existed would be; about 2 MB for n = 100,000.
func bigJob(id string, index uint64, n int) *ferryv1.Job {
	segs := make([]*ferryv1.Segment, n)
	for i := range segs {
		off := uint64(i) << 32
		segs[i] = &ferryv1.Segment{SourceOffset: off, DestinationOffset: off + 1<<40, Length: 512}
	}
	spec := diskToTape()
	spec.Segments = segs
	return &ferryv1.Job{Id: id, Spec: spec, State: ferryv1.JobState_JOB_STATE_QUEUED, CreatedIndex: index,
		CreatedAt: timestampNow(), UpdatedAt: timestampNow()}
}

// TestListPagesBySize checks that jobs too big to list in one message
// (three of 100,000 segments: about 6 MB, over gRPC's 4 MiB default) are
// listed page by page, each page under the size bound, none lost or
// repeated, in order.
func TestListPagesBySize(t *testing.T) {
	node := newFakeNode()
	snap := &ferryv1.StateSnapshot{Jobs: []*ferryv1.Job{
		bigJob("small-1", 10, 1),
		bigJob("big-1", 11, 100_000),
		bigJob("big-2", 12, 100_000),
		bigJob("big-3", 13, 100_000),
		bigJob("small-2", 14, 1),
	}}
	if size := proto.Size(snap); size < 4<<20 {
		t.Fatalf("jobs take %d bytes, want more than gRPC's 4 MiB limit", size)
	}
	data, err := proto.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.fsm.Restore(data, 14); err != nil {
		t.Fatal(err)
	}
	c := serve(t, node)
	for _, pageSize := range []uint32{0} {
		t.Run(fmt.Sprintf("page_size=%d", pageSize), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var ids []string
			req := &ferryv1.ListJobsRequest{PageSize: pageSize}
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("still paging after %d pages: %v", pages, ids)
				}
				resp, err := c.jobs.List(ctx, req)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				if n := len(resp.GetJobs()); n > 1 && proto.Size(resp) > listPageBytes+100 {
					t.Errorf("page %d: %d jobs in %d bytes, over the %d byte bound", pages, n, proto.Size(resp), listPageBytes)
				}
				for _, j := range resp.GetJobs() {
					ids = append(ids, j.GetId())
				}
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if got, want := fmt.Sprint(ids), "[small-1 big-1 big-2 big-3 small-2]"; got != want {
				t.Errorf("listed %s, want %s", got, want)
			}
		})
	}
}

// TestListPage checks the page cutting on its own: limits by count and by
// size, and the continuation index.
func TestListPage(t *testing.T) {
	node := newFakeNode()
	var jobs []*ferryv1.Job
	for i := range 200 {
		jobs = append(jobs, bigJob(fmt.Sprintf("j-%03d", i), uint64(100+i), 1))
	}
	data, err := proto.Marshal(&ferryv1.StateSnapshot{Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.fsm.Restore(data, 300); err != nil {
		t.Fatal(err)
	}
	one := proto.Size(jobs[0])
	tests := []struct {
		name            string
		after           uint64
		limit, maxBytes int
		wantN           int
		wantNext        uint64
	}{
		{"all", 0, 0, 1 << 30, 200, 0},
		{"count", 0, 70, 1 << 30, 70, 169},
		{"count from token", 169, 70, 1 << 30, 70, 239},
		{"bytes", 0, 0, 10*one + one/2, 10, 109},
		{"one job over the bound", 0, 0, 1, 1, 100},
		{"last page", 250, 0, 1 << 30, 49, 0},
	}
	for _, tt := range tests {
		page, next := listPage(node.fsm, ferryv1.JobState_JOB_STATE_UNSPECIFIED, tt.after, tt.limit, tt.maxBytes)
		if len(page) != tt.wantN || next != tt.wantNext {
			t.Errorf("%s: %d jobs, next %d; want %d, %d", tt.name, len(page), next, tt.wantN, tt.wantNext)
		}
	}
}
