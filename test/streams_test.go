package test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestStreamsKillOneStreamsNode is issue 12's multi-stream test: a 512
// MiB LUN copied as four streams (ferry copy -streams 4 disk:db01
// tape:pool:east) to the four cartridges of a pool of a four-drive library
// by three nodes. The four streams run at once (the parent's history shows
// every stream started before any ended); the node of one stream (or two)
// is killed with SIGKILL mid-copy, its streams are taken over from their
// checkpoints, and the job completes with the four SHA-256 of the source's
// quarters. Restored with ferry copy job:ID disk:X, each stream's tape file
// is read back into its place, the streams at once (they write disjoint
// ranges of one disk, each under its own range fence), and the LUN is
// identical; the source and a bystander disk are unchanged.
func TestStreamsKillOneStreamsNode(t *testing.T) {
	const (
		size    = 512 << 20
		streams = 4
		part    = size / streams
		// A stream lasts about five seconds: long enough to kill a
		// node under it, short enough for the test's budget.
		rate = 24 << 20
		// The restore's streams last a second or two each, so that
		// they are seen running at once.
		restoreRate = 96 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	data := m.addDisk(ctx, "db01", size)
	want := sum(data)
	barcodes := []string{"S00001L9", "S00002L9", "S00003L9", "S00004L9"}
	m.addLibrary(ctx, "lib", streams, 1<<30, barcodes...)
	m.addEmptyDisk(ctx, "back", size)
	bystander := sum(m.addDisk(ctx, "keep", 4<<20))

	m.createPool(ctx, "east", "lib", barcodes...)
	c := m.cli()
	// As the issue writes it: a pool, four streams.
	id := strings.TrimSpace(c.ok("copy", "-detach", "-streams", "4", "-bwlimit", strconv.Itoa(rate), "disk:db01", "tape:pool:east").stdout)
	job, err := m.job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(job.GetStreams()) != streams {
		t.Fatalf("job %s has streams %v, want %d", id, job.GetStreams(), streams)
	}

	// Every stream running under its epoch with a checkpoint past 16 MiB.
	start := time.Now()
	phase := func(what string) { t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond)) }
	var victim *ferryv1.Job
	owners := map[string]int{}
	waitFor(t, ctx, "four streams running with a checkpoint", func() (bool, string) {
		var why []string
		clear(owners)
		for _, sid := range job.GetStreams() {
			s, err := m.job(ctx, sid)
			if err != nil {
				return false, err.Error()
			}
			if ok, w := running(s, checkpointBytes); !ok {
				why = append(why, sid+": "+w)
			}
			victim = s
			owners[s.GetOwner()]++
		}
		return len(why) == 0, strings.Join(why, "; ")
	})
	owner, epoch := victim.GetOwner(), victim.GetEpoch()
	if err := m.c.Kill(owner); err != nil {
		t.Fatal(err)
	}
	m.shun(owner, true)
	phase(fmt.Sprintf("killed %s, owner of %d streams (stream %s at checkpoint %d)", owner, owners[owner], victim.GetId(), victim.GetProgress().GetCheckpointOffset()))
	tctx, tcancel := context.WithTimeout(ctx, takeoverTimeout)
	m.waitJob(tctx, victim.GetId(), "a takeover from "+owner, func(j *ferryv1.Job) (bool, string) {
		return j.GetOwner() != owner && j.GetEpoch() > epoch, fmt.Sprintf("owner %s, epoch %d (%s)", j.GetOwner(), j.GetEpoch(), j.GetStateReason())
	})
	tcancel()

	phase("taken over")
	p := m.waitJob(ctx, id, "success", func(j *ferryv1.Job) (bool, string) {
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, fmt.Sprintf("%s (%s)", j.GetState(), j.GetStateReason())
	})
	// At once: every stream started before the first one ended.
	var lastStart, firstEnd uint64
	for _, ev := range p.GetHistory() {
		msg := ev.GetMessage()
		switch {
		case strings.Contains(msg, ": started on "):
			lastStart = max(lastStart, ev.GetRaftIndex())
		case strings.Contains(msg, ": succeeded") && firstEnd == 0:
			firstEnd = ev.GetRaftIndex()
		}
	}
	if starts := len(eventsContaining(p, ": started on ")); starts != streams || firstEnd == 0 || lastStart >= firstEnd {
		t.Errorf("want %d streams started before the first ended (last start at %d, first end at %d)\n%s", streams, lastStart, firstEnd, history(p))
	}
	phase("succeeded")
	if n := len(eventsContaining(p, ": taken over by ")); n != owners[owner] {
		t.Errorf("%d streams taken over, want the %d of %s\n%s", n, owners[owner], owner, history(p))
	}
	res := p.GetResult()
	if res.GetBytes() != size || len(res.GetStreams()) != streams {
		t.Fatalf("result %d bytes, %d streams, want %d and %d\n%s", res.GetBytes(), len(res.GetStreams()), size, streams, history(p))
	}
	for i, s := range res.GetStreams() {
		if w := sum(data[i*part : (i+1)*part]); s.GetSha256() != w || s.GetBytes() != part {
			t.Errorf("stream %d: sha256 %s of %d bytes, want %s of %d", i+1, s.GetSha256(), s.GetBytes(), w, part)
		}
		if tw := s.GetTapeWrites(); len(tw) != 1 {
			t.Errorf("stream %d wrote %v, want one cartridge", i+1, tw)
		} else {
			m.checkTape(ctx, tw[0].GetBarcode(), []string{sum(data[i*part : (i+1)*part])}, []int{part})
		}
	}
	c = m.cli() // not the node killed
	rid := strings.TrimSpace(c.ok("copy", "-detach", "-bwlimit", strconv.Itoa(restoreRate), "job:"+id, "disk:back").stdout)
	rp := m.waitJob(ctx, rid, "the restore's success", func(j *ferryv1.Job) (bool, string) {
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, fmt.Sprintf("%s (%s)", j.GetState(), j.GetStateReason())
	})
	phase("restored")
	if n := maxStreamsAtOnce(rp); n < 2 {
		t.Errorf("the restore ran at most %d stream at once, want its streams in parallel\n%s", n, history(rp))
	}
	if len(rp.GetResult().GetStreams()) != streams || rp.GetResult().GetBytes() != size {
		t.Errorf("restore result: %d streams, %d bytes; want %d and %d", len(rp.GetResult().GetStreams()), rp.GetResult().GetBytes(), streams, size)
	}
	m.checkDisk(ctx, "back", 0, 0, want)
	m.checkDisk(ctx, "db01", 0, 0, want)
	m.checkDisk(ctx, "keep", 0, 0, bystander)
	out := c.ok("job", "get", id).stdout
	if !strings.Contains(out, "streams (4):") || strings.Count(out, "succeeded") < streams {
		t.Errorf("job get lists no streams:\n%s", out)
	}
}

// TestStreamsDiskToDisk: ferry copy disk:src disk:dst -streams 4 runs its
// streams at once on three nodes (so two of them share dst on one node),
// each writing its own range of dst under its own range fence, and dst
// ends identical to src. A job of its own that writes dst, submitted while
// the streams run, waits until the last of them has ended, then claims
// the whole disk over their range claims and writes.
func TestStreamsDiskToDisk(t *testing.T) {
	const (
		size    = 32 << 20
		streams = 4
		// Two seconds a stream: they are seen at once, and the job
		// submitted behind them finds them running.
		rate  = 4 << 20
		other = 1 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	data := m.addDisk(ctx, "src", size)
	m.addEmptyDisk(ctx, "dst", size)
	keep := m.addDisk(ctx, "keep", other)
	c := m.cli()
	id := strings.TrimSpace(c.ok("copy", "-detach", "-streams", strconv.Itoa(streams), "-bwlimit", strconv.Itoa(rate), "disk:src", "disk:dst").stdout)
	foreign := strings.TrimSpace(c.ok("copy", "-detach", "disk:keep", "disk:dst").stdout)
	p := m.waitJob(ctx, id, "success", func(j *ferryv1.Job) (bool, string) {
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, fmt.Sprintf("%s (%s)", j.GetState(), j.GetStateReason())
	})
	if n := maxStreamsAtOnce(p); n < 2 {
		t.Errorf("at most %d stream ran at once, want them in parallel\n%s", n, history(p))
	}
	f := m.waitJob(ctx, foreign, "success", func(j *ferryv1.Job) (bool, string) {
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, fmt.Sprintf("%s (%s)", j.GetState(), j.GetStateReason())
	})
	var lastEnd uint64
	for _, ev := range eventsContaining(p, ": succeeded") {
		lastEnd = max(lastEnd, ev.GetRaftIndex())
	}
	for _, ev := range eventsContaining(f, "started on ") {
		if ev.GetRaftIndex() < lastEnd {
			t.Errorf("job %s started writing dst at index %d, before the streams ended (%d)\n%s\n%s", foreign, ev.GetRaftIndex(), lastEnd, history(f), history(p))
		}
	}
	m.checkDisk(ctx, "dst", 0, other/blockSize, sum(keep))
	m.checkDisk(ctx, "dst", other/blockSize, (size-other)/blockSize, sum(data[other:]))
	m.checkDisk(ctx, "src", 0, 0, sum(data))
	m.checkDisk(ctx, "keep", 0, 0, sum(keep))
}

// maxStreamsAtOnce is the most streams of a multi-stream job that ran at
// once, as its history tells: a stream runs from its start (or resume) to
// its end.
func maxStreamsAtOnce(p *ferryv1.Job) int {
	running := map[string]bool{}
	most := 0
	for _, ev := range p.GetHistory() {
		stream, msg, ok := strings.Cut(ev.GetMessage(), ": ")
		if !ok || !strings.HasPrefix(stream, "stream ") {
			continue
		}
		switch {
		case strings.HasPrefix(msg, "started on ") || strings.HasPrefix(msg, "resumed on "):
			running[stream] = true
		case strings.HasPrefix(msg, "succeeded") || strings.HasPrefix(msg, "failed") || strings.HasPrefix(msg, "cancelled"):
			delete(running, stream)
		}
		most = max(most, len(running))
	}
	return most
}

// createPool makes a pool of a library's cartridges, through any node.
func (m *moverCluster) createPool(ctx context.Context, name, library string, barcodes ...string) {
	m.t.Helper()
	err := m.call(ctx, "create pool "+name, func(ctx context.Context, node string) error {
		dev, err := m.devices(node)
		if err != nil {
			return err
		}
		_, err = dev.CreatePool(ctx, &ferryv1.CreatePoolRequest{Name: name, Library: library, Barcodes: barcodes})
		return err
	})
	if err != nil {
		m.t.Fatal(err)
	}
}

// eventsContaining returns the job's events whose message contains s.
func eventsContaining(j *ferryv1.Job, s string) []*ferryv1.JobEvent {
	var out []*ferryv1.JobEvent
	for _, ev := range j.GetHistory() {
		if strings.Contains(ev.GetMessage(), s) {
			out = append(out, ev)
		}
	}
	return out
}

// cli runs the ferry client against a node the test may ask.
func (m *moverCluster) cli() cli {
	m.t.Helper()
	for _, n := range m.askable() {
		node, err := m.c.Node(n)
		if err != nil {
			m.t.Fatal(err)
		}
		return nodeCLI(m.t, m.c, node)
	}
	m.t.Fatal("no node to ask")
	return cli{}
}
