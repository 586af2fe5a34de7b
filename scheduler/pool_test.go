package scheduler

import (
	"slices"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

const mib = 1 << 20

// member is a pool cartridge of 96 MiB holding used bytes (files: data).
func member(barcode string, used uint64, files int) *ferryv1.Cartridge {
	c := inSlot(barcode, "lib1", 1)
	c.Pool, c.CapacityBytes, c.UsedBytes = "east-daily", 96*mib, used
	for i := range files {
		c.Files = append(c.Files, &ferryv1.TapeFile{Number: uint32(i + 1)})
	}
	return c
}

func TestChoosePoolCartridge(t *testing.T) {
	scratch := func(b string) PoolCandidate { return PoolCandidate{Cartridge: member(b, 160, 0)} }
	appendable := func(b string, used uint64) PoolCandidate { return PoolCandidate{Cartridge: member(b, used, 1)} }
	full := PoolCandidate{Cartridge: member("F00001L9", 95*mib, 3)}
	busy := PoolCandidate{Cartridge: member("B00001L9", 160, 0), Busy: "used by job J9"}
	offline := PoolCandidate{Cartridge: inIE("O00001L9", "lib1", 1)}
	for _, tc := range []struct {
		name    string
		need    uint64
		members []PoolCandidate
		want    string // a barcode, or the wait reason
	}{
		{"scratch by lowest barcode", 10 * mib, []PoolCandidate{scratch(a3), scratch(a2)}, a2},
		{"appendable that fits before scratch", 10 * mib, []PoolCandidate{scratch(a1), appendable(a2, 20*mib)}, a2},
		{"tightest fit", 10 * mib, []PoolCandidate{appendable(a1, 20*mib), appendable(a2, 70*mib), appendable(a3, 90*mib)}, a2},
		{"scratch when no appendable fits", 50 * mib, []PoolCandidate{appendable(a1, 70*mib), scratch(a2)}, a2},
		{"most room when nothing else: the copy spans", 50 * mib, []PoolCandidate{appendable(a1, 70*mib), appendable(a2, 80*mib)}, a1},
		{"size unknown: fill what is open", 0, []PoolCandidate{scratch(a1), appendable(a2, 80*mib), appendable(a3, 20*mib)}, a2},
		{"busy, full and offline skipped", 0, []PoolCandidate{busy, full, offline, scratch(a4)}, a4},
		{"exhausted", 0, []PoolCandidate{busy, full, offline}, "pool east-daily has no scratch cartridge (1 full, 1 in use, 1 offline)"},
		{"nothing labelled", 0, nil, "pool east-daily has no scratch cartridge (no member is labelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, wait := ChoosePoolCartridge("east-daily", tc.need, tc.members)
			got := b
			if b == "" {
				got = wait
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func poolJob(id string, created uint64) JobView {
	j := queued(id, created, 0)
	j.Spec.Source = &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}}
	j.Spec.Destination = &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Pool: "east-daily"}
	return JobView{Job: j, Disks: names("db01"), Pool: "east-daily"}
}

// Placement binds each copy to a pool member: two copies get two
// cartridges (the first takes the appendable one), a third waits with the
// pool's reason, and a cartridge held by a running job is not chosen.
func TestPlacePool(t *testing.T) {
	v := paris(poolJob("J1", 1), poolJob("J2", 2), poolJob("J3", 3),
		JobView{Job: running("R1", "n3", 9, 100, tape(a4, "lib1", 1)), Cartridges: names(a4), Writes: names(a4)})
	v.Libraries = []*ferryv1.Library{library("lib1", "paris", 4, inDrive(1, a4, "R1"))}
	v.Cartridges = []*ferryv1.Cartridge{member(a1, 160, 0), member(a2, 20*mib, 1), member(a3, 95*mib, 2), member(a4, 160, 0), inSlot("B00001L9", "lib1", 9)}
	v.Cartridges[3].Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: 1}
	got := render(Place(PlaceConfig{}, v))
	want := []string{
		"J1 -> n1 A00002L9@lib1/0",
		"J2 -> n2 A00001L9@lib1/2",
		"J3 waits: pool east-daily has no scratch cartridge (1 full, 3 in use)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("decisions\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
