package executor

import (
	"context"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func reading(paths ...string) []deviceUse {
	var out []deviceUse
	for _, p := range paths {
		out = append(out, deviceUse{path: p})
	}
	return out
}

func writing(paths ...string) []deviceUse {
	var out []deviceUse
	for _, p := range paths {
		out = append(out, deviceUse{path: p, write: true})
	}
	return out
}

func TestDeviceLocks(t *testing.T) {
	l := newDeviceLocks()
	ctx := context.Background()
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 50*time.Millisecond) }
	job := func(id string) *ferryv1.Job { return &ferryv1.Job{Id: id} }

	r1, err := l.acquire(ctx, job("1"), append(reading("a"), writing("b")...))
	if err != nil {
		t.Fatal(err)
	}
	// Readers share a, but b has a writer.
	r2, err := l.acquire(ctx, job("2"), reading("a"))
	if err != nil {
		t.Fatalf("second reader of a: %v", err)
	}
	c, cancel := short()
	if _, err := l.acquire(c, job("3"), reading("b")); err == nil {
		t.Fatal("read of b while it is being written")
	}
	cancel()
	// A copy in the opposite direction waits for both, then gets both.
	got := make(chan func())
	go func() {
		rel, err := l.acquire(ctx, job("4"), append(reading("b"), writing("a")...))
		if err != nil {
			t.Error(err)
		}
		got <- rel
	}()
	r1()
	select {
	case <-got:
		t.Fatal("writer of a got in while a reader still held it")
	case <-time.After(50 * time.Millisecond):
	}
	r2()
	select {
	case rel := <-got:
		rel()
	case <-time.After(10 * time.Second):
		t.Fatal("the opposite copy never got its devices")
	}
}

// The streams of one job share the disks they read and write; nothing
// else shares with them: not another job, not a cartridge, not a second
// run of the same stream.
func TestDeviceLocksStreams(t *testing.T) {
	l := newDeviceLocks()
	ctx := context.Background()
	stream := func(id, parent string) *ferryv1.Job { return &ferryv1.Job{Id: id, Parent: parent} }
	disk := func(path string, write bool) deviceUse { return deviceUse{path: path, write: write, disk: true} }
	blocked := func(what string, j *ferryv1.Job, uses ...deviceUse) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if rel, err := l.acquire(c, j, uses); err == nil {
			rel()
			t.Fatalf("%s got its devices", what)
		}
	}

	s1, err := l.acquire(ctx, stream("P-s1", "P"), []deviceUse{disk("src", false), disk("dst", true), {path: "tape", write: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s1()
	s2, err := l.acquire(ctx, stream("P-s2", "P"), []deviceUse{disk("src", false), disk("dst", true)})
	if err != nil {
		t.Fatalf("stream 2 beside stream 1: %v", err)
	}
	defer s2()
	blocked("a second run of stream 1", stream("P-s1", "P"), disk("dst", true))
	blocked("another job's stream", stream("Q-s1", "Q"), disk("dst", true))
	blocked("a job reading the streams' destination", &ferryv1.Job{Id: "J"}, disk("dst", false))
	blocked("a sibling writing stream 1's cartridge", stream("P-s3", "P"), deviceUse{path: "tape", write: true})
}
