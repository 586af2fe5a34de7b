package fence

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
)

func openRange(t testing.TB, devicePath string, off, n uint64) *Fence {
	t.Helper()
	f, err := OpenRange(devicePath, testCluster, Range{Offset: off, Length: n})
	if err != nil {
		t.Fatalf("OpenRange(%s, %d+%d): %v", devicePath, off, n, err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// writes reports whether f may write at epoch, and that the refusal, if
// any, is ErrFenced.
func writes(t *testing.T, f *Fence, epoch uint64) bool {
	t.Helper()
	wrote := false
	err := f.Write(epoch, func() error { wrote = true; return nil })
	if err != nil && !errors.Is(err, ErrFenced) {
		t.Fatalf("Write(%d) = %v, want nil or ErrFenced", epoch, err)
	}
	if wrote != (err == nil) {
		t.Fatalf("Write(%d) = %v but the write ran: %v", epoch, err, wrote)
	}
	return wrote
}

// TestRangeTakeover is the case range fences exist for: the streams of one
// job write disjoint ranges of one disk, each under its own epoch; stream
// 2's owner is replaced, and from then on its stale owner is refused while
// stream 3's keeps writing.
func TestRangeTakeover(t *testing.T) {
	ctx := context.Background()
	dev := newDevice(t)
	s1, s2, s3 := openRange(t, dev, 0, 1000), openRange(t, dev, 1000, 1000), openRange(t, dev, 2000, 1000)
	for _, c := range []struct {
		f     *Fence
		epoch uint64
	}{{s1, 10}, {s2, 11}, {s3, 12}} {
		if err := c.f.Claim(ctx, c.epoch); err != nil {
			t.Fatal(err)
		}
	}
	if !writes(t, s1, 10) || !writes(t, s2, 11) || !writes(t, s3, 12) {
		t.Fatal("a stream was refused by its siblings' claims")
	}
	// Stream 2 is taken over at epoch 20 by another node.
	s2new := openRange(t, dev, 1000, 1000)
	if err := s2new.Claim(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if writes(t, s2, 11) {
		t.Fatal("stream 2's stale owner wrote after the takeover")
	}
	if !writes(t, s2new, 20) || !writes(t, s3, 12) || !writes(t, s1, 10) {
		t.Fatal("a current owner was refused after another stream's takeover")
	}
	// The stale owner cannot claim its range back.
	if err := s2.Claim(ctx, 11); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale claim = %v, want ErrFenced", err)
	}
	if e, err := s2.Epoch(); err != nil || e != 20 {
		t.Fatalf("Epoch of range 2 = %d, %v; want 20", e, err)
	}
	if e, err := s3.Epoch(); err != nil || e != 12 {
		t.Fatalf("Epoch of range 3 = %d, %v; want 12", e, err)
	}
	// Re-claiming the same range with the same epoch (a restarted owner)
	// works and does not grow the table.
	if err := s2new.Claim(ctx, 20); err != nil {
		t.Fatal(err)
	}
	assertClaims(t, dev, 3)
	if r, err := Read(dev); err != nil || r != (Record{Cluster: testCluster, Epoch: 20}) {
		t.Fatalf("Read = %+v, %v; want the highest epoch, 20", r, err)
	}
}

// TestRangeOverlaps: a claim overlapping a newer claim is refused; one
// newer than everything it overlaps takes the overlap, and only the
// overlap, from older writers.
func TestRangeOverlaps(t *testing.T) {
	ctx := context.Background()
	dev := newDevice(t)
	a, b := openRange(t, dev, 0, 100), openRange(t, dev, 100, 100)
	if err := a.Claim(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if err := b.Claim(ctx, 21); err != nil {
		t.Fatal(err)
	}
	over := openRange(t, dev, 50, 100)
	if err := over.Claim(ctx, 15); !errors.Is(err, ErrFenced) {
		t.Fatalf("older claim over newer ranges = %v, want ErrFenced", err)
	}
	if err := over.Claim(ctx, 20); !errors.Is(err, ErrFenced) { // b's 21 is newer
		t.Fatalf("claim over a newer range = %v, want ErrFenced", err)
	}
	if !writes(t, a, 20) || !writes(t, b, 21) {
		t.Fatal("refused claims changed the fence")
	}
	if err := over.Claim(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if writes(t, a, 20) || writes(t, b, 21) {
		t.Fatal("an older writer of an overlapped range still writes")
	}
	other := openRange(t, dev, 500, 100)
	if err := other.Claim(ctx, 5); err != nil {
		t.Fatalf("claim of a range nothing newer overlaps: %v", err)
	}
	if !writes(t, other, 5) {
		t.Fatal("a range clear of the newer claims was refused")
	}
	// A claim covering older ones frees their slots.
	cover := openRange(t, dev, 0, 1000)
	if err := cover.Claim(ctx, 40); err != nil {
		t.Fatal(err)
	}
	assertClaims(t, dev, 1)
	if writes(t, over, 30) || writes(t, other, 5) || !writes(t, cover, 40) {
		t.Fatal("the covering claim does not decide alone")
	}
}

// TestRangesAndTheDevice: a claim of the whole device (a job that is not
// a stream) and range claims hold each other back by epoch: either way the
// newer wins, a whole-device claim empties the table, and devices fenced
// before range claims existed keep their epoch.
func TestRangesAndTheDevice(t *testing.T) {
	ctx := context.Background()
	dev := newDevice(t)
	if err := os.WriteFile(dev+".fence", encodeV1(50), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openRange(t, dev, 0, 4096)
	if err := r.Claim(ctx, 49); !errors.Is(err, ErrFenced) {
		t.Fatalf("range claim under the old device epoch = %v, want ErrFenced", err)
	}
	if err := r.Claim(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if rec, err := Read(dev); err != nil || rec != (Record{Cluster: testCluster, Epoch: 60}) {
		t.Fatalf("Read after the range claim = %+v, %v; want this cluster's, at 60", rec, err)
	}
	whole := openFence(t, dev)
	if writes(t, whole, 55) {
		t.Fatal("a whole-device writer older than a range claim wrote")
	}
	if err := whole.Claim(ctx, 59); !errors.Is(err, ErrFenced) {
		t.Fatalf("whole-device claim under a range's epoch = %v, want ErrFenced", err)
	}
	if err := whole.Claim(ctx, 70); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dev + ".fence"); err != nil || len(b) != recordSize {
		t.Fatalf("fence file after a whole-device claim: %d bytes, %v; want the record alone", len(b), err)
	}
	if writes(t, r, 60) || !writes(t, whole, 70) {
		t.Fatal("the whole-device claim does not hold the range writer back")
	}
	if err := openRange(t, dev, 0, 10).Claim(ctx, 65); !errors.Is(err, ErrFenced) {
		t.Fatalf("range claim under the device's epoch = %v, want ErrFenced", err)
	}
}

// TestRangeClusters: range claims follow the cluster rule: another
// cluster's fence refuses them, and a takeover of the device drops the
// ranges its epochs counted.
func TestRangeClusters(t *testing.T) {
	const other = "99999999-8888-7777-6666-555555555555"
	ctx := context.Background()
	dev := newDevice(t)
	mine := openRange(t, dev, 0, 100)
	if err := mine.Claim(ctx, 500); err != nil {
		t.Fatal(err)
	}
	theirs, err := OpenRange(dev, other, Range{Offset: 100, Length: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	if err := theirs.Claim(ctx, 9000); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("other cluster's range claim = %v, want ErrOtherCluster", err)
	}
	if err := theirs.Write(9000, func() error { return nil }); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("other cluster's range write = %v, want ErrOtherCluster", err)
	}
	if err := theirs.TakeOver(ctx, 3); err == nil {
		t.Fatal("TakeOver of a range succeeded")
	}
	takeover, err := Open(dev, other)
	if err != nil {
		t.Fatal(err)
	}
	defer takeover.Close()
	if err := takeover.TakeOver(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := theirs.Claim(ctx, 4); err != nil {
		t.Fatalf("range claim after the takeover: %v (the old cluster's range epoch 500 must not count)", err)
	}
	if err := mine.Write(500, func() error { return nil }); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("old cluster's range write after the takeover = %v, want ErrOtherCluster", err)
	}
}

// TestRangeTableDecisions claims and writes at random and checks every
// decision against the rule with nothing ever dropped: the reuse and
// freeing of slots never change what is refused.
func TestRangeTableDecisions(t *testing.T) {
	ctx := context.Background()
	dev := newDevice(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type claim struct {
		r     *Range
		epoch uint64
	}
	var device uint64
	var all []claim
	refused := func(r *Range, e uint64) bool {
		if e < device {
			return true
		}
		for _, c := range all {
			if c.epoch > e && (r == nil || c.r.Overlaps(*r)) {
				return true
			}
		}
		return false
	}
	randomFence := func() (*Fence, *Range) {
		var f *Fence
		var r *Range
		var err error
		if rng.IntN(8) == 0 {
			f, err = Open(dev, testCluster)
		} else {
			r = &Range{Offset: uint64(rng.IntN(16)) * 64, Length: uint64(1+rng.IntN(4)) * 64}
			f, err = OpenRange(dev, testCluster, *r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return f, r
	}
	for i := range 400 {
		f, r := randomFence()
		e := uint64(rng.IntN(300))
		want := refused(r, e)
		if got := !writes(t, f, e); got != want {
			t.Fatalf("step %d: write of %v at %d refused %v, want %v", i, r, e, got, want)
		}
		err := f.Claim(ctx, e)
		if got := errors.Is(err, ErrFenced); got != want || (err != nil && !got) {
			t.Fatalf("step %d: claim of %v at %d = %v, want refused %v", i, r, e, err, want)
		}
		if err == nil {
			if r == nil {
				device = e
			} else {
				all = append(all, claim{r, e})
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// assertClaims checks how many range slots are in use.
func assertClaims(t *testing.T, dev string, want int) {
	t.Helper()
	b, err := os.ReadFile(dev + ".fence")
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.claims(); got != want {
		t.Fatalf("%d range claims in use, want %d", got, want)
	}
}

func TestDecodeRangeTable(t *testing.T) {
	head := encode(Record{Cluster: testCluster, Epoch: 7})
	pad := make([]byte, slotsStart-recordSize)
	slot := encodeSlot(rangeClaim{Range: Range{Offset: 512, Length: 512}, Epoch: 9})
	file := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	tests := []struct {
		name    string
		in      []byte
		claims  int
		corrupt bool
	}{
		{name: "one claim", in: file(head, pad, slot), claims: 1},
		{name: "a free slot", in: file(head, pad, make([]byte, slotSize), slot), claims: 1},
		{name: "a crash while the first claim extended the file", in: file(head, pad, make([]byte, slotSize))},
		{name: "torn slot", in: file(head, pad, slot[:10]), corrupt: true},
		{name: "bad slot checksum", in: file(head, pad, flip(slot, 7)), corrupt: true},
		{name: "bytes in the padding", in: file(head, flip(pad, 3), slot), corrupt: true},
		{name: "claims without a cluster", in: file(make([]byte, recordSize), pad, slot), corrupt: true},
		{name: "empty range", in: file(head, pad, encodeSlot(rangeClaim{Range: Range{Offset: 1}, Epoch: 3})), corrupt: true},
		{name: "range past 2^64", in: file(head, pad, encodeSlot(rangeClaim{Range: Range{Offset: ^uint64(0), Length: 2}, Epoch: 3})), corrupt: true},
		{name: "too many slots", in: file(head, pad, bytes.Repeat(slot, maxSlots+1)), corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := decodeFile(tt.in)
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decodeFile = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil || s.claims() != tt.claims || s.Record != (Record{Cluster: testCluster, Epoch: 7}) {
				t.Fatalf("decodeFile = %+v (%d claims), %v; want %d claims", s, s.claims(), err, tt.claims)
			}
		})
	}
}

func FuzzDecodeFile(f *testing.F) {
	head := encode(Record{Cluster: testCluster, Epoch: 7})
	pad := make([]byte, slotsStart-recordSize)
	slot := encodeSlot(rangeClaim{Range: Range{Offset: 512, Length: 512}, Epoch: 9})
	f.Add(head)
	f.Add(bytes.Join([][]byte{head, pad, slot}, nil))
	f.Add(bytes.Join([][]byte{head, pad, make([]byte, slotSize), slot}, nil))
	f.Add(bytes.Join([][]byte{encodeV1(3), make([]byte, slotsStart-recordV1Size), slot}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeFile(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeFile(%x): error %v is not ErrCorrupt", b, err)
			}
			return
		}
		if len(b) <= recordSize {
			if r, err := decode(b); err != nil || r != s.Record || len(s.slots) != 0 {
				t.Fatalf("decodeFile(%x) = %+v, decode = %+v, %v", b, s, r, err)
			}
			return
		}
		// Anything longer accepted is a record with a cluster (or none,
		// without claims) and exactly the slots it decodes to.
		if r, err := decode(b[:recordSize]); err != nil || r != s.Record {
			t.Fatalf("decodeFile(%x) record %+v, decode = %+v, %v", b, s.Record, r, err)
		}
		if s.Cluster == "" && s.claims() > 0 {
			t.Fatalf("decodeFile(%x) = %d claims without a cluster", b, s.claims())
		}
		for i, c := range s.slots {
			want := make([]byte, slotSize)
			if c != nil {
				want = encodeSlot(*c)
				if c.Length == 0 || c.End() < c.Offset {
					t.Fatalf("slot %d: %+v is not a range", i, *c)
				}
			}
			if got := b[slotOffset(i) : slotOffset(i)+slotSize]; !bytes.Equal(got, want) {
				t.Fatalf("slot %d decodes to %+v, which encodes as %x, not %x", i, c, want, got)
			}
		}
	})
}
