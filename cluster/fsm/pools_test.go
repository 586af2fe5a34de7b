package fsm

import (
	"errors"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func poolCmd(step int, name, lib string, barcodes ...string) *ferryv1.Command {
	return &ferryv1.Command{RequestId: "pool-" + name, Time: stamp(step), Node: "node-a",
		Op: &ferryv1.Command_CreatePool{CreatePool: &ferryv1.CreatePoolOp{Pool: &ferryv1.Pool{Name: name, Library: lib, Barcodes: barcodes}}}}
}

func poolSpec(pool string) *ferryv1.JobSpec {
	return &ferryv1.JobSpec{
		Source:      diskByName("db01", 0, 2048),
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Pool: pool},
	}
}

// wantViolation fails unless err is a ValidationError with a violation of
// the field whose description contains text.
func wantViolation(t *testing.T, err error, field, text string) {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a ValidationError on %s", err, field)
	}
	for _, v := range verr.Violations {
		if v.Field == field && strings.Contains(v.Description, text) {
			return
		}
	}
	t.Fatalf("violations %v: none on %s saying %q", verr.Violations, field, text)
}

func TestCreatePoolRefusals(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f, poolCmd(1, "east-daily", "libA", "A00001L9", "A00005L9"))
	for _, tc := range []struct {
		name  string
		cmd   *ferryv1.Command
		is    error
		field string
		text  string
	}{
		{name: "name taken", cmd: poolCmd(2, "east-daily", "libA"), is: ErrAlreadyExists},
		{name: "unknown library", cmd: poolCmd(2, "p2", "libZ"), is: ErrNotFound},
		{name: "bad name", cmd: poolCmd(2, "east daily", "libA"), field: "pool.name", text: "letters"},
		{name: "no library", cmd: poolCmd(2, "p2", ""), field: "pool.library", text: "required"},
		{name: "bad barcode", cmd: poolCmd(2, "p2", "libA", "A00009L9", "nope"), field: "pool.barcodes[1]", text: "barcode"},
		{name: "listed twice", cmd: poolCmd(2, "p2", "libA", "A00009L9", "A00009L9"), field: "pool.barcodes[1]", text: "twice"},
		{name: "in another pool", cmd: poolCmd(2, "p2", "libA", "A00005L9"), field: "pool.barcodes[0]", text: "pool east-daily"},
		{name: "other library's cartridge", cmd: poolCmd(2, "p2", "libA", "B00001L9"), field: "pool.barcodes[0]", text: "library libB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.Apply(f.AppliedIndex()+1, tc.cmd)
			if tc.is != nil {
				if !errors.Is(r.Err, tc.is) {
					t.Fatalf("err = %v, want %v", r.Err, tc.is)
				}
				return
			}
			wantViolation(t, r.Err, tc.field, tc.text)
		})
	}
	if got := len(f.Pools()); got != 1 {
		t.Fatalf("%d pools after refusals, want 1", got)
	}
}

func TestPoolMembershipAndCounts(t *testing.T) {
	f := deviceFixture(t)
	r := f.Apply(f.AppliedIndex()+1, poolCmd(1, "east-daily", "libA", "A00001L9", "A00002L9", "A00003L9", "A00010L9", "A00011L9"))
	if r.Err != nil || r.Pool.GetName() != "east-daily" || r.Pool.GetScratch() != 3 || r.Pool.GetUnlabelled() != 2 {
		t.Fatalf("create: %v, %v", r.Pool, r.Err)
	}
	capacity := validLibrary("libA").GetCartridgeCapacityBytes()
	applyAll(t, f,
		// Listed by the range: joins without asking.
		cartridgeCmd(2, cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path, c.Location.Index = "A00010L9", testNAA(110), "/vtl/libA/A00010L9.tap", 10
			c.Files, c.UsedBytes = []*ferryv1.TapeFile{{Number: 1, Bytes: 1 << 20}}, 1<<20+100
		})),
		// Full: its data reached the early-warning zone.
		cartridgeCmd(3, cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path, c.Location.Index = "A00011L9", testNAA(111), "/vtl/libA/A00011L9.tap", 11
			c.Files, c.UsedBytes = []*ferryv1.TapeFile{{Number: 1, Bytes: capacity - 1}}, capacity-1<<20
		})),
		// Asks to join: not listed before.
		cartridgeCmd(4, cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path, c.Pool = "A00020L9", testNAA(120), "/vtl/libA/A00020L9.tap", "east-daily"
			c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}
		})),
	)
	p, ok := f.Pool("east-daily")
	if !ok {
		t.Fatal("pool gone")
	}
	got := [5]uint32{p.GetScratch(), p.GetAppendable(), p.GetFull(), p.GetOffline(), p.GetUnlabelled()}
	if want := [5]uint32{3, 1, 1, 1, 0}; got != want {
		t.Fatalf("scratch, appendable, full, offline, unlabelled = %v, want %v (%v)", got, want, p)
	}
	if c, _ := f.Cartridge("A00020L9"); c.GetPool() != "east-daily" {
		t.Fatalf("A00020L9's pool = %q", c.GetPool())
	}
	if c, _ := f.Cartridge("B00001L9"); c.GetPool() != "" {
		t.Fatalf("B00001L9's pool = %q", c.GetPool())
	}
	if got := len(p.GetBarcodes()); got != 6 {
		t.Fatalf("%d members, want 6: %v", got, p.GetBarcodes())
	}
	g := restored(t, f)
	if q, _ := g.Pool("east-daily"); q.String() != p.String() {
		t.Fatalf("restored pool %v, want %v", q, p)
	}
	if c, _ := g.Cartridge("A00020L9"); c.GetPool() != "east-daily" {
		t.Fatalf("restored A00020L9's pool = %q", c.GetPool())
	}

	applyAll(t, f, poolCmd(5, "west", "libB", "B00009L9"))
	for _, tc := range []struct {
		name string
		c    *ferryv1.Cartridge
		text string
	}{
		{"unknown pool", cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path, c.Pool, c.Location.Index = "A00030L9", testNAA(130), "/vtl/libA/A00030L9.tap", "nope", 12
		}), "no pool"},
		{"pool of another library", cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Library, c.Naa, c.Path, c.Pool, c.Location.Index = "B00030L9", "libB", testNAA(131), "/vtl/libB/B00030L9.tap", "east-daily", 12
		}), "library libA"},
		{"listed in another library's pool", cartridgeWith(func(c *ferryv1.Cartridge) {
			c.Barcode, c.Naa, c.Path, c.Location.Index = "B00009L9", testNAA(132), "/vtl/libA/B00009L9.tap", 12
		}), "pool west holds cartridges of library libB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.Apply(f.AppliedIndex()+1, cartridgeCmd(5, tc.c))
			if r.Err == nil || !strings.Contains(r.Err.Error(), tc.text) {
				t.Fatalf("err = %v, want one saying %q", r.Err, tc.text)
			}
		})
	}
}

func TestPoolDestination(t *testing.T) {
	f := deviceFixture(t)
	applyAll(t, f, poolCmd(1, "east-daily", "libA", "A00001L9", "A00002L9"), poolCmd(1, "empty", "libA"))

	r := f.Apply(f.AppliedIndex()+1, submitCmd(2, "p0", "", poolSpec("nope")))
	wantViolation(t, r.Err, "spec.destination.pool", "no pool")
	if bad := ValidateSpec(specWith(func(s *ferryv1.JobSpec) { s.Source.Pool = "east-daily" })); len(bad) == 0 {
		t.Fatal("a pool as source passed ValidateSpec")
	}
	if bad := ValidateSpec(specWith(func(s *ferryv1.JobSpec) {
		s.Destination = &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Pool: "east-daily"}
	})); len(bad) == 0 {
		t.Fatal("a disk pool passed ValidateSpec")
	}
	// A pool with nothing to write to is no error at submit: the job waits.
	applyAll(t, f, submitCmd(3, "p1", "", poolSpec("east-daily")), submitCmd(3, "p2", "", poolSpec("empty")))
	acc, err := f.JobAccess(poolSpec("east-daily"))
	if err != nil || acc.Pool != "east-daily" || len(acc.Devices) != 1 || acc.Devices[0].Device.Disk == nil {
		t.Fatalf("JobAccess = %+v, %v; want the disk read and pool east-daily", acc, err)
	}

	for _, tc := range []struct {
		name  string
		tapes []*ferryv1.TapeAssignment
		is    error
	}{
		{"no pool cartridge", nil, ErrInvalid},
		{"not a member", []*ferryv1.TapeAssignment{tape("A00003L9", "libA", 0)}, ErrInvalid},
		{"two members", []*ferryv1.TapeAssignment{tape("A00001L9", "libA", 0), tape("A00002L9", "libA", 1)}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.Apply(f.AppliedIndex()+1, placeCmd(4, "p1", "node-a", 0, tc.tapes...))
			if !errors.Is(r.Err, tc.is) {
				t.Fatalf("err = %v, want %v", r.Err, tc.is)
			}
		})
	}
	r = f.Apply(f.AppliedIndex()+1, placeCmd(5, "p1", "node-a", 0, tape("A00002L9", "libA", 1)))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	j := r.Job
	if got := j.GetSpec().GetDestination().GetDevice().GetName(); got != "A00002L9" {
		t.Fatalf("bound destination %q, want A00002L9", got)
	}
	if j.GetSpec().GetDestination().GetPool() != "east-daily" {
		t.Fatal("the pool was dropped from the spec")
	}
	if last := j.GetHistory()[len(j.GetHistory())-1].GetMessage(); !strings.Contains(last, "pool east-daily chose A00002L9") {
		t.Fatalf("placed event %q does not say what the pool chose", last)
	}
	// The bound job now names the cartridge: removing it is refused.
	r = f.Apply(f.AppliedIndex()+1, &ferryv1.Command{Time: stamp(6), Node: "node-a",
		Op: &ferryv1.Command_RemoveDevice{RemoveDevice: &ferryv1.RemoveDeviceOp{Cartridge: "A00002L9"}}})
	if !errors.Is(r.Err, ErrBusy) {
		t.Fatalf("removing the bound cartridge: %v, want ErrBusy", r.Err)
	}
}

func TestUseOf(t *testing.T) {
	inSlot := &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 1}
	for _, tc := range []struct {
		name string
		c    *ferryv1.Cartridge
		want CartridgeUse
	}{
		{"unregistered", nil, Unlabelled},
		{"label only", &ferryv1.Cartridge{Location: inSlot, CapacityBytes: 96 << 20, UsedBytes: 160}, Scratch},
		{"data and room", &ferryv1.Cartridge{Location: inSlot, CapacityBytes: 96 << 20, UsedBytes: 50 << 20, Files: []*ferryv1.TapeFile{{Number: 1}}}, Appendable},
		{"in the early-warning zone", &ferryv1.Cartridge{Location: inSlot, CapacityBytes: 96 << 20, UsedBytes: 95 << 20, Files: []*ferryv1.TapeFile{{Number: 1}}}, Full},
		{"unlimited", &ferryv1.Cartridge{Location: inSlot, UsedBytes: 1 << 40, Files: []*ferryv1.TapeFile{{Number: 1}}}, Appendable},
		{"in a drive", &ferryv1.Cartridge{Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE}, CapacityBytes: 1 << 30}, Scratch},
		{"import/export slot", &ferryv1.Cartridge{Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: 1}}, Offline},
	} {
		if got := UseOf(tc.c); got != tc.want {
			t.Errorf("%s: UseOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}
