package fsm

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// FuzzApply feeds arbitrary log entries to Apply. Whatever the bytes, Apply
// must not panic, two replicas must end up identical, and the state must
// survive a snapshot round trip (Restore's consistency checks must accept
// anything Apply can produce).
//
//	go test -run '^$' -fuzz FuzzApply -fuzztime 60s ./cluster/fsm/
func FuzzApply(f *testing.F) {
	seeds := []*ferryv1.Command{
		submitCmd(1, "new", "", validSpec()),
		submitCmd(1, "new", "k1", validSpec()),
		submitCmd(1, "j1", "", validSpec()),
		submitCmd(1, "", "", nil),
		submitCmd(1, "x", "", &ferryv1.JobSpec{XcopyParameterList: []byte{1, 2, 3}}),
		submitCmd(1, "x", "", specWith(func(s *ferryv1.JobSpec) {
			s.Segments = []*ferryv1.Segment{{SourceOffset: 1, Length: 0}}
			s.Source.TapeFile = proto.Uint32(0)
		})),
		submitCmd(1, "x", strings.Repeat("k", maxIdempotencyKeyLen+1), validSpec()),
		cancelCmd(1, "j1", "because"),
		cancelCmd(1, "j2", ""),
		cancelCmd(1, "missing", ""),
		{Time: stamp(1), Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{}}},
		{Time: stamp(1), Op: &ferryv1.Command_CancelJob{CancelJob: &ferryv1.CancelJobOp{}}},
		{},
	}
	for _, c := range seeds {
		data, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xff, 0x00, 0x12})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		var cmd ferryv1.Command
		if err := proto.Unmarshal(data, &cmd); err != nil {
			t.Skip()
		}
		replicas := [2]*FSM{New(), New()}
		var results [2]Result
		for i, r := range replicas {
			applyAll(t, r, submitCmd(0, "j1", "k1", validSpec()), submitCmd(0, "j2", "", validSpec()), cancelCmd(0, "j2", ""))
			results[i] = r.Apply(4, &cmd)
		}
		res := results[0]
		if (res.Err == nil) != (res.Job != nil) {
			t.Fatalf("Result has Job=%v and Err=%v: exactly one must be set", res.Job, res.Err)
		}
		if res.Err == nil && !proto.Equal(res.Job, results[1].Job) {
			t.Fatalf("replicas returned different jobs:\n%v\n%v", res.Job, results[1].Job)
		}
		snapA, idxA, err := replicas[0].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		snapB, _, err := replicas[1].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snapA, snapB) {
			t.Fatal("replicas diverged")
		}
		restored := New()
		if err := restored.Restore(snapA, idxA); err != nil {
			t.Fatalf("Restore of Apply's own state failed: %v", err)
		}
		again, _, err := restored.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, snapA) {
			t.Fatal("snapshot round trip changed the state")
		}
	})
}
