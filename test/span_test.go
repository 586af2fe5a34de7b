package test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestSpanKillOwnerAfterCrossing is issue 12's spanning test: three nodes,
// a pool of four cartridges of 96 MiB, one of which already holds another
// job's file. A 256 MiB copy to the pool fills a scratch cartridge, spans
// to the next, and its owner is killed with kill -9 right after the copy
// crossed to that second cartridge (seen in the job's tape assignment,
// volume 2). Another node takes the copy over on the second cartridge from
// its checkpoint there, and it spans once more, to the room left on the
// cartridge holding the other file, after that file. The result lists the
// three volumes; each holds its part of the source, restoring with ferry
// copy job:ID rebuilds the LUN byte for byte, ferry verify job:ID matches
// the source, and nothing else changed: the other file, the unused
// cartridge, the source.
func TestSpanKillOwnerAfterCrossing(t *testing.T) {
	const (
		size     = 256 << 20
		capacity = 96 << 20
		small    = 4 << 20
		// The copy lasts about ten seconds: the kill lands on the second
		// cartridge, well before the third.
		rate = 24 << 20
	)
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	start := time.Now()
	phase := func(what string) { t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond)) }
	data := m.addDisk(ctx, "db01", size)
	other := m.addDisk(ctx, "small", small)
	barcodes := []string{"A00001L9", "A00002L9", "A00003L9", "A00004L9"}
	m.addLibrary(ctx, "lib", 2, capacity, barcodes...)
	m.addEmptyDisk(ctx, "back", size)
	m.createPool(ctx, "east-daily", "lib", barcodes...)
	c := m.cli()
	// Another job's file on the first scratch cartridge.
	if r := c.ok("copy", "disk:small", "tape:pool:east-daily"); !strings.Contains(r.stdout, "tape A00001L9 file 1") {
		t.Fatalf("the small copy did not go to A00001L9 file 1:\n%s", r)
	}

	id := strings.TrimSpace(c.ok("copy", "-detach", "-bwlimit", strconv.Itoa(rate), "disk:db01", "tape:pool:east-daily").stdout)
	var owner string
	var epoch uint64
	j := m.waitJob(ctx, id, "the copy on its second cartridge", func(j *ferryv1.Job) (bool, string) {
		tapes := j.GetTapes()
		if ok, why := running(j, 0); !ok {
			return false, why
		}
		if len(tapes) != 1 || tapes[0].GetVolume() < 2 {
			return false, fmt.Sprintf("tapes %v, checkpoint at %d", tapes, j.GetProgress().GetCheckpointOffset())
		}
		owner, epoch = j.GetOwner(), j.GetEpoch()
		return true, ""
	})
	if v := j.GetTapes()[0].GetVolume(); v != 2 {
		t.Fatalf("the kill came late: the copy is on volume %d\n%s", v, history(j))
	}
	if err := m.c.Kill(owner); err != nil {
		t.Fatal(err)
	}
	m.shun(owner, true)
	phase(fmt.Sprintf("killed %s on %s (volume 2), checkpoint at %d", owner, j.GetTapes()[0].GetBarcode(), j.GetProgress().GetCheckpointOffset()))
	tctx, tcancel := context.WithTimeout(ctx, takeoverTimeout)
	m.waitJob(tctx, id, "a takeover from "+owner, func(j *ferryv1.Job) (bool, string) {
		return j.GetOwner() != owner && j.GetEpoch() > epoch, fmt.Sprintf("owner %s, epoch %d (%s)", j.GetOwner(), j.GetEpoch(), j.GetStateReason())
	})
	tcancel()
	phase("taken over")
	p := m.waitJob(ctx, id, "success", func(j *ferryv1.Job) (bool, string) {
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, fmt.Sprintf("%s (%s)", j.GetState(), j.GetStateReason())
	})
	phase("succeeded")
	res := p.GetResult()
	if res.GetSha256() != sum(data) || res.GetBytes() != size {
		t.Fatalf("result sha256 %s of %d bytes, want %s of %d\n%s", res.GetSha256(), res.GetBytes(), sum(data), size, history(p))
	}
	vols := res.GetVolumes()
	if len(vols) != 3 {
		t.Fatalf("the copy lists %d volumes, want 3: %v\n%s", len(vols), vols, history(p))
	}
	var offset uint64
	for i, v := range vols {
		if v.GetVolume() != uint32(i+1) || v.GetOffset() != offset {
			t.Errorf("volume %d: %v, want volume %d from byte %d", i+1, v, i+1, offset)
		}
		h, err := m.hash(ctx, tapeEndpoint(v.GetBarcode(), int(v.GetFile())))
		part := data[offset:min(offset+v.GetBytes(), size)]
		if err != nil || h.GetSha256() != sum(part) || h.GetBytes() != v.GetBytes() {
			t.Errorf("volume %d (%s file %d): %v %v, want %d bytes of sha256 %s", i+1, v.GetBarcode(), v.GetFile(), h, err, len(part), sum(part))
		}
		offset += v.GetBytes()
	}
	if offset != size {
		t.Errorf("the volumes hold %d bytes, want %d", offset, size)
	}
	// The third volume went after the other job's file, which is intact.
	if last := vols[2]; last.GetBarcode() != "A00001L9" || last.GetFile() != 2 {
		t.Errorf("volume 3 is %s file %d, want A00001L9 file 2 (after the other job's file)", last.GetBarcode(), last.GetFile())
	}
	m.checkTape(ctx, "A00001L9", []string{sum(other), sum(data[vols[0].GetBytes()+vols[1].GetBytes():])},
		[]int{small, int(vols[2].GetBytes())})
	switch h, err := m.hash(ctx, tapeEndpoint("A00004L9", -1)); {
	case err != nil && status.Code(err) != codes.OutOfRange:
		t.Errorf("hash the unused A00004L9: %v", err)
	case err == nil && h.GetBytes() != 0:
		t.Errorf("the unused A00004L9 holds %d bytes", h.GetBytes())
	}
	m.checkDisk(ctx, "db01", 0, 0, sum(data))
	m.checkDisk(ctx, "small", 0, 0, sum(other))

	c = m.cli() // not the node killed
	out := c.ok("job", "get", id).stdout
	t.Logf("ferry job get %s:\n%s", id, out)
	if strings.Count(out, "volume:") != 3 || !strings.Contains(out, "spanned: ") {
		t.Errorf("job get does not list the volumes and spans:\n%s", out)
	}
	c.verified(sum(data), "disk:db01", "job:"+id)
	r := c.ok("copy", "job:"+id, "disk:back")
	if n := strings.Count(r.stdout, "stream "); n != 3 {
		t.Errorf("restore printed %d stream lines, want one per volume:\n%s", n, r)
	}
	phase("restored")
	m.checkDisk(ctx, "back", 0, 0, sum(data))
}
