package executor

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOwnerLeaseValidity(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		extends []time.Time
		want    bool
	}{
		{"never granted", nil, false},
		{"granted", []time.Time{now.Add(time.Hour)}, true},
		{"run out", []time.Time{now.Add(-time.Millisecond)}, false},
		{"a later grant extends", []time.Time{now.Add(-time.Millisecond), now.Add(time.Hour)}, true},
		// Renewals answered out of order: the one sent earlier must not
		// cut short the lease of the one sent later.
		{"an earlier grant does not shorten", []time.Time{now.Add(time.Hour), now.Add(-time.Millisecond)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newOwnerLease()
			for _, until := range tt.extends {
				l.extend(until)
			}
			if got := l.valid(); got != tt.want {
				t.Fatalf("valid() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOwnerLeaseWaitReturnsAtOnceWhileValid(t *testing.T) {
	l := newOwnerLease()
	l.extend(time.Now().Add(time.Hour))
	held := 0
	if err := l.wait(context.Background(), func() { held++ }); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Fatalf("a write under a valid lease was counted as held %d times", held)
	}
}

func TestOwnerLeaseWaitUntilRenewed(t *testing.T) {
	l := newOwnerLease()
	heldCh := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() { done <- l.wait(context.Background(), func() { heldCh <- struct{}{} }) }()
	<-heldCh
	// A grant that has already run out (a slow renewal) wakes the waiter
	// but lets nothing through.
	l.extend(time.Now().Add(-time.Second))
	select {
	case err := <-done:
		t.Fatalf("wait returned %v on a lease that had run out", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.extend(time.Now().Add(time.Hour))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return after the renewal")
	}
	if n := len(heldCh); n != 0 {
		t.Fatalf("one held write counted %d more times", n)
	}
}

func TestOwnerLeaseWaitGivesUpWithItsContext(t *testing.T) {
	l := newOwnerLease()
	cause := errors.New("job taken over")
	ctx, cancel := context.WithCancelCause(context.Background())
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- l.wait(ctx, func() { close(held) }) }()
	<-held
	cancel(cause)
	select {
	case err := <-done:
		if !errors.Is(err, cause) {
			t.Fatalf("wait returned %v, want the context's cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait ignored its context")
	}
}
