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

// A multi-stream job is never placed; its streams are. Streams that write
// one disk go one at a time, like any jobs: a disk's fence holds one
// epoch, so two writers with different epochs would fence each other.
func TestPlaceStreams(t *testing.T) {
	parent := queued("P", 1, 0)
	parent.Streams = []string{"P-s1", "P-s2"}
	runningParent := running("Q", "", 3, 0)
	runningParent.Streams = []string{"Q-s1"}
	view := paris(
		JobView{Job: parent, Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: runningParent, Disks: names("db03"), Writes: names("db03"), Lost: true, LostReason: "owner  lost"},
		JobView{Job: stream("P-s1", "P", 1), Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: stream("P-s2", "P", 1), Disks: names("db01", "db02"), Writes: names("db02")},
		JobView{Job: queued("J", 2, 0), Disks: names("db05", "db01"), Writes: names("db05")},
	)
	got := render(Place(PlaceConfig{}, view))
	want := []string{"P-s1 -> n1", "P-s2 waits: disk db02 is being written by job P-s1", "J -> n2"}
	if !slices.Equal(got, want) {
		t.Fatalf("Place decided:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
