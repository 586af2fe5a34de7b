package test

import (
	"context"
	"slices"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestGrowToFiveAndRemoveOne joins a 4th and a 5th node, waits for five
// voters, then kills one and removes it: four voters remain and the cluster
// still takes writes.
func TestGrowToFiveAndRemoveOne(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range []string{"n4", "n5"} {
		if _, err := c.Start(ctx, name, "n1", "n2"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	names := nodeNames(5)
	st, err := c.WaitVoters(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GetLearners()) != 0 {
		t.Errorf("learners %v left beside 5 voters", st.GetLearners())
	}

	if err := c.Kill("n5"); err != nil {
		t.Fatal(err)
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.Client(leader)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cl.Cluster.RemoveMember(ctx, &ferryv1.RemoveMemberRequest{Node: "n5"})
	if err != nil {
		t.Fatalf("RemoveMember n5 via %s: %v", leader, err)
	}
	if got := resp.GetVoters(); len(got) != 4 || slices.Contains(got, "n5") {
		t.Errorf("RemoveMember answered voters %v, want the 4 others", got)
	}
	if slices.Contains(resp.GetLearners(), "n5") {
		t.Errorf("RemoveMember answered learners %v, still with n5", resp.GetLearners())
	}
	if _, err := c.WaitVoters(ctx, names[:4]...); err != nil {
		t.Fatal(err)
	}

	acked := submitMany(t, ctx, submitter{c: c, nodes: names[:4]}, "after-remove", 20, 4)
	list, err := listJobs(ctx, c, names[3], false)
	if err != nil {
		t.Fatal(err)
	}
	if err := newJobSet(list).checkAcked(acked, false); err != nil {
		t.Errorf("n4 after removing n5: %v", err)
	}
}
