package main

import (
	"strconv"
	"strings"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Prefixes of the job history events (cluster/fsm) a takeover leaves.
const (
	eventCheckpoint = "checkpoint at "
	eventTaken      = "taken over by "
	eventResumed    = "resumed on "
	eventStarted    = "started on "
)

// takeoverEvents is what a job's history says about the takeover that
// ended an epoch.
type takeoverEvents struct {
	// since is when the old owner last stood at the offset the new owner
	// resumes from: its last committed checkpoint, or its own start if it
	// committed none (as executor.takenOverAt measures).
	since *ferryv1.JobEvent
	lost  *ferryv1.JobEvent
	taken *ferryv1.JobEvent
	// resumed is the new owner's start under the new epoch; nil until it
	// has claimed the devices.
	resumed  *ferryv1.JobEvent
	newOwner string
	newEpoch uint64
}

// findTakeover looks for the takeover of the job away from epoch: the
// "owner lost" and "taken over" events (one Raft entry, after the epoch),
// what preceded them, and the new owner's start after them.
func findTakeover(j *ferryv1.Job, epoch uint64) (takeoverEvents, bool) {
	var t takeoverEvents
	h := j.GetHistory()
	for i, ev := range h {
		if ev.GetRaftIndex() <= epoch || !strings.HasPrefix(ev.GetMessage(), eventTaken) {
			continue
		}
		t.taken, t.newOwner, t.newEpoch = ev, ev.GetNode(), ev.GetRaftIndex()
		if i > 0 && h[i-1].GetRaftIndex() == ev.GetRaftIndex() {
			t.lost = h[i-1]
		}
		for _, prev := range h[:i] {
			if isStartOrCheckpoint(prev.GetMessage()) {
				t.since = prev
			}
		}
		for _, next := range h[i+1:] {
			if next.GetNode() == t.newOwner && (strings.HasPrefix(next.GetMessage(), eventResumed) || strings.HasPrefix(next.GetMessage(), eventStarted)) {
				t.resumed = next
				break
			}
		}
		return t, true
	}
	return t, false
}

func isStartOrCheckpoint(msg string) bool {
	return strings.HasPrefix(msg, eventCheckpoint) || strings.HasPrefix(msg, eventResumed) || strings.HasPrefix(msg, eventStarted)
}

// takeoverCount counts the takeovers in a job's history.
func takeoverCount(j *ferryv1.Job) int {
	n := 0
	for _, ev := range j.GetHistory() {
		if strings.HasPrefix(ev.GetMessage(), eventTaken) {
			n++
		}
	}
	return n
}

// resumedOffset reads the offset of "resumed on N from offset X"; a
// "started on" event is offset 0.
func resumedOffset(msg string) (int64, bool) {
	if strings.HasPrefix(msg, eventStarted) {
		return 0, true
	}
	_, off, ok := strings.Cut(msg, " from offset ")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(off, 10, 64)
	return n, err == nil
}

func eventTime(ev *ferryv1.JobEvent) time.Time { return ev.GetTime().AsTime() }
