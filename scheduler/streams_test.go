package scheduler

import (
	"slices"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// stream is stream job id of the multi-stream job parent.
func stream(id, parent string, created uint64) *ferryv1.Job {
	j := queued(id, created, 0)
	j.Parent = parent
	return j
}

// A multi-stream job is never placed; its streams are. Streams of one job
// that write one disk run at once (their ranges never overlap, and each is
// fenced by its own range); any other job that reads or writes that disk
// waits, and a stream waits for another job's writer like any job.
func TestPlaceStreams(t *testing.T) {
	parent := queued("P", 1, 0)
	parent.Streams = []string{"P-s1", "P-s2", "P-s3"}
	runningParent := running("Q", "", 3, 0)
	runningParent.Streams = []string{"Q-s1"}
	other := running("R-s1", "n3", 4, 100)
	other.Parent = "R"
	view := paris(
		JobView{Job: parent, Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: runningParent, Disks: names("db03"), Writes: names("db03"), Lost: true, LostReason: "owner  lost"},
		JobView{Job: other, Disks: names("db04"), Writes: names("db04")},
		JobView{Job: stream("P-s1", "P", 1), Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: stream("P-s2", "P", 1), Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: stream("P-s3", "P", 1), Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: queued("J", 2, 0), Disks: names("db05", "db01"), Writes: names("db05")},
		JobView{Job: queued("K", 5, 0), Disks: names("db02", "db06"), Writes: names("db06")},
		JobView{Job: queued("L", 6, 0), Disks: names("db06", "db01"), Writes: names("db01")},
		JobView{Job: stream("S-s1", "S", 7), Disks: names("db04"), Writes: names("db04")},
	)
	got := render(Place(PlaceConfig{}, view))
	want := []string{
		"P-s1 -> n1", "P-s2 -> n2", "P-s3 -> n3",
		"J -> n1",
		"K waits: disk db02 is being written by job P-s1",
		"L waits: disk db01 is being read by job J",
		"S-s1 waits: disk db04 is being written by job R-s1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Place decided:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// A lost stream is taken over while its siblings keep writing the disk it
// shares with them; a stream of another job still waits for all of them.
func TestPlaceStreamTakeoverBesideSiblings(t *testing.T) {
	sib := running("P-s1", "n2", 5, 100)
	sib.Parent = "P"
	lost := running("P-s2", "n1", 6, 100)
	lost.Parent = "P"
	view := paris(
		JobView{Job: sib, Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: lost, Disks: names("db01", "db02"), Writes: names("db02"), Lost: true, LostReason: "owner n1 lost: lease expired"},
		JobView{Job: stream("Q-s1", "Q", 8), Disks: names("db03", "db02"), Writes: names("db02")},
	)
	view.Nodes[0] = down(view.Nodes[0])
	got := render(Place(PlaceConfig{}, view))
	want := []string{
		"P-s2 -> n3 from epoch 6: owner n1 lost: lease expired",
		"Q-s1 waits: disk db02 is being written by job P-s1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Place decided:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
