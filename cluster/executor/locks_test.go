package executor

import (
	"context"
	"testing"
	"time"
)

func TestDeviceLocks(t *testing.T) {
	l := newDeviceLocks()
	ctx := context.Background()
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 50*time.Millisecond) }

	r1, err := l.acquire(ctx, []string{"a"}, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	// Readers share a, but b has a writer.
	r2, err := l.acquire(ctx, []string{"a"}, nil)
	if err != nil {
		t.Fatalf("second reader of a: %v", err)
	}
	c, cancel := short()
	if _, err := l.acquire(c, []string{"b"}, nil); err == nil {
		t.Fatal("read of b while it is being written")
	}
	cancel()
	// A copy in the opposite direction waits for both, then gets both.
	got := make(chan func())
	go func() {
		rel, err := l.acquire(ctx, []string{"b"}, []string{"a"})
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
	// Reading and writing one device in one job is a write.
	rel, err := l.acquire(ctx, []string{"x"}, []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel = short()
	defer cancel()
	if _, err := l.acquire(c, []string{"x"}, nil); err == nil {
		t.Fatal("x is written, yet a reader got it")
	}
	rel()
}
