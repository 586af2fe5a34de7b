package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// tf is a catalog file as a job reports it.
func tf(n uint32, job string, incomplete bool) *ferryv1.TapeFile {
	return &ferryv1.TapeFile{Number: n, Bytes: uint64(n) << 20, Records: uint64(n), Sha256: testSHA256, JobId: job, Incomplete: incomplete}
}

// catalogSummary is "number:job[!]" per file, ! marking incomplete ones.
func catalogSummary(c *ferryv1.Cartridge) string {
	var parts []string
	for _, f := range c.GetFiles() {
		s := strings.TrimSuffix(fmt.Sprintf("%d:%s", f.GetNumber(), f.GetJobId()), ":")
		if f.GetIncomplete() {
			s += "!"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// finishWith runs job id on node-a holding A00001L9 and finishes it with
// writes, as a success or a failure.
func finishWith(t *testing.T, f *FSM, step int, id string, failed bool, writes ...*ferryv1.TapeWrite) Result {
	t.Helper()
	epoch := runJob(t, f, step, "node-a", id, tape("A00001L9", "libA", 1))
	op := &ferryv1.FinishJobOp{State: ferryv1.JobState_JOB_STATE_SUCCEEDED,
		Result: &ferryv1.JobResult{Sha256: testSHA256, TapeWrites: writes}}
	if failed {
		op = &ferryv1.FinishJobOp{State: ferryv1.JobState_JOB_STATE_FAILED, Error: &ferryv1.JobError{Message: "cut off", TapeWrites: writes}}
	}
	return f.Apply(f.AppliedIndex()+1, finishCmd(step+2, "node-a", id, epoch, op))
}

// TestTapeCatalog: each finished job's writes cut the catalog where they
// began and append its files; gaps become incomplete entries; a file a
// job only closed keeps its writer; failures record their partial file.
func TestTapeCatalog(t *testing.T) {
	f := deviceFixture(t)
	steps := []struct {
		id     string
		failed bool
		write  *ferryv1.TapeWrite
		want   string
	}{
		{"j1", false, &ferryv1.TapeWrite{Barcode: "A00001L9", FromFile: 1, Files: []*ferryv1.TapeFile{tf(1, "j1", false)}, UsedBytes: 1 << 20}, "1:j1"},
		// j2 appended at file 3: file 2 (a cancelled copy's, say) was never reported.
		{"j2", false, &ferryv1.TapeWrite{Barcode: "A00001L9", FromFile: 3, Files: []*ferryv1.TapeFile{tf(3, "j2", false)}, UsedBytes: 3 << 20}, "1:j1 2! 3:j2"},
		// j3 failed inside file 4.
		{"j3", true, &ferryv1.TapeWrite{Barcode: "A00001L9", FromFile: 4, Files: []*ferryv1.TapeFile{tf(4, "j3", true)}, UsedBytes: 4 << 20}, "1:j1 2! 3:j2 4:j3!"},
		// j4 closed file 4 (no job id: it did not write it) and appended file 5.
		{"j4", false, &ferryv1.TapeWrite{Barcode: "A00001L9", FromFile: 4, Files: []*ferryv1.TapeFile{tf(4, "", true), tf(5, "j4", false)}, UsedBytes: 5 << 20}, "1:j1 2! 3:j2 4:j3! 5:j4"},
		// j5 overwrote from file 2 on.
		{"j5", false, &ferryv1.TapeWrite{Barcode: "A00001L9", FromFile: 2, Files: []*ferryv1.TapeFile{tf(2, "j5", false)}, UsedBytes: 2 << 20}, "1:j1 2:j5"},
	}
	for i, st := range steps {
		if st.id != "j1" && st.id != "j2" && st.id != "j3" {
			applyAll(t, f, submitCmd(10*i, st.id, "", validSpec()))
		}
		if res := finishWith(t, f, 10*i+1, st.id, st.failed, st.write); res.Err != nil {
			t.Fatalf("%s: %v", st.id, res.Err)
		}
		c, _ := f.Cartridge("A00001L9")
		if got := catalogSummary(c); got != st.want {
			t.Fatalf("after %s: catalog %q, want %q", st.id, got, st.want)
		}
		if c.GetUsedBytes() != st.write.GetUsedBytes() {
			t.Fatalf("after %s: used %d, want %d", st.id, c.GetUsedBytes(), st.write.GetUsedBytes())
		}
		if st.id == "j4" && !proto.Equal(c.GetFiles()[3].GetWrittenAt(), stamp(23)) {
			t.Fatalf("file 4, closed by j4, lost j3's time: %v", c.GetFiles()[3].GetWrittenAt())
		}
		last := c.GetFiles()[len(c.GetFiles())-1]
		if last.GetWrittenAt() == nil && last.GetJobId() != "" {
			t.Fatalf("after %s: file %d has no time", st.id, last.GetNumber())
		}
	}
	c, _ := f.Cartridge("A00001L9")
	// A job's files carry its finishing entry's time.
	if c.GetFiles()[1].GetWrittenAt().AsTime() != stamp(43).AsTime() {
		t.Fatalf("file 2 written at %v, want the finishing entry's time %v", c.GetFiles()[1].GetWrittenAt().AsTime(), stamp(43).AsTime())
	}
	// The catalog survives a snapshot.
	g := restored(t, f)
	if c2, _ := g.Cartridge("A00001L9"); !proto.Equal(c, c2) {
		t.Fatalf("restored cartridge %v, want %v", c2, c)
	}
}

func TestTapeWritesValidation(t *testing.T) {
	for name, w := range map[string]*ferryv1.TapeWrite{
		"no barcode":          {FromFile: 1},
		"label":               {Barcode: "A00001L9", FromFile: 0},
		"numbering gap":       {Barcode: "A00001L9", FromFile: 1, Files: []*ferryv1.TapeFile{tf(1, "j1", false), tf(3, "j1", false)}},
		"other job":           {Barcode: "A00001L9", FromFile: 1, Files: []*ferryv1.TapeFile{tf(1, "j9", false)}},
		"bad sha":             {Barcode: "A00001L9", FromFile: 1, Files: []*ferryv1.TapeFile{{Number: 1, Sha256: "xyz"}}},
		"time from the owner": {Barcode: "A00001L9", FromFile: 1, Files: []*ferryv1.TapeFile{{Number: 1, WrittenAt: stamp(1)}}},
		"too many files":      {Barcode: "A00001L9", FromFile: MaxTapeFiles},
	} {
		t.Run(name, func(t *testing.T) {
			f := deviceFixture(t)
			if name == "too many files" {
				w.Files = []*ferryv1.TapeFile{{Number: MaxTapeFiles}, {Number: MaxTapeFiles + 1}}
			}
			res := finishWith(t, f, 1, "j1", false, w)
			var ve *ValidationError
			if !errors.As(res.Err, &ve) {
				t.Fatalf("err %v, want a validation error", res.Err)
			}
			if j, _ := f.Job("j1"); j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
				t.Fatalf("job %v after a refused finish", j.GetState())
			}
		})
	}
	// The same cartridge twice.
	f := deviceFixture(t)
	w := &ferryv1.TapeWrite{Barcode: "A00001L9", FromFile: 1}
	if res := finishWith(t, f, 1, "j1", true, w, w); !errors.Is(res.Err, ErrInvalid) {
		t.Fatalf("twice: %v", res.Err)
	}
}
