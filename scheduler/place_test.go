package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Builders keep the cases short: a site "paris" with three movers, six
// disks and one library of two drives holding four cartridges.

func mover(name, site string, reach ...string) NodeView {
	return NodeView{Name: name, Site: site, Reach: reach, Mover: true, Eligible: true}
}

func down(n NodeView) NodeView {
	n.Eligible = false
	return n
}

func disk(name, site string) *ferryv1.Disk {
	return &ferryv1.Disk{Name: name, Site: site}
}

// library has the given drives; loaded lists the drives holding a
// cartridge, as inDrive makes them.
func library(name, site string, drives uint32, loaded ...*ferryv1.Element) *ferryv1.Library {
	return &ferryv1.Library{Name: name, Site: site, Drives: drives, Elements: loaded}
}

func inDrive(drive uint32, barcode, job string) *ferryv1.Element {
	return &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: drive, Barcode: barcode, JobId: job}
}

func inSlot(barcode, lib string, slot uint32) *ferryv1.Cartridge {
	return &ferryv1.Cartridge{Barcode: barcode, Library: lib, HomeSlot: slot,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: slot, Barcode: barcode}}
}

func inIE(barcode, lib string, ie uint32) *ferryv1.Cartridge {
	return &ferryv1.Cartridge{Barcode: barcode, Library: lib,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT, Index: ie, Barcode: barcode}}
}

func loadedCartridge(barcode, lib string, drive, home uint32) *ferryv1.Cartridge {
	return &ferryv1.Cartridge{Barcode: barcode, Library: lib, HomeSlot: home,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: drive, Barcode: barcode}}
}

func queued(id string, created uint64, priority int32) *ferryv1.Job {
	return &ferryv1.Job{Id: id, State: ferryv1.JobState_JOB_STATE_QUEUED, CreatedIndex: created,
		Spec: &ferryv1.JobSpec{Options: &ferryv1.JobOptions{Priority: priority}}}
}

func running(id, owner string, epoch, bytesLeft uint64, tapes ...*ferryv1.TapeAssignment) *ferryv1.Job {
	return &ferryv1.Job{Id: id, State: ferryv1.JobState_JOB_STATE_RUNNING, Owner: owner, Epoch: epoch, CreatedIndex: epoch - 1,
		Progress: &ferryv1.JobProgress{BytesTotal: 1000 + bytesLeft, BytesDone: 1000}, Tapes: tapes}
}

func tape(barcode, lib string, drive uint32) *ferryv1.TapeAssignment {
	return &ferryv1.TapeAssignment{Barcode: barcode, Library: lib, Drive: drive}
}

func names(s ...string) []string { return s }

const (
	a1 = "A00001L9"
	a2 = "A00002L9"
	a3 = "A00003L9"
	a4 = "A00004L9"
)

func parisDisks() []*ferryv1.Disk {
	var out []*ferryv1.Disk
	for i := 1; i <= 6; i++ {
		out = append(out, disk(fmt.Sprintf("db%02d", i), "paris"))
	}
	return out
}

func parisCartridges() []*ferryv1.Cartridge {
	return []*ferryv1.Cartridge{inSlot(a1, "lib1", 1), inSlot(a2, "lib1", 2), inSlot(a3, "lib1", 3), inSlot(a4, "lib1", 4)}
}

// paris is the usual view with the given jobs; cases change what they need.
func paris(jobs ...JobView) View {
	return View{
		Nodes:      []NodeView{mover("n1", "paris"), mover("n2", "paris"), mover("n3", "paris")},
		Jobs:       jobs,
		Disks:      parisDisks(),
		Libraries:  []*ferryv1.Library{library("lib1", "paris", 2)},
		Cartridges: parisCartridges(),
	}
}

// render writes decisions one a line, for comparing and for reading:
// "J1 -> n2 A00001L9@lib1/0 from epoch 7: reason" or "J1 waits: reason".
func render(ds []Decision) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		var b strings.Builder
		b.WriteString(d.JobID)
		if d.Node == "" {
			b.WriteString(" waits")
		} else {
			b.WriteString(" -> " + d.Node)
		}
		for _, t := range d.Tapes {
			fmt.Fprintf(&b, " %s@%s/%d", t.GetBarcode(), t.GetLibrary(), t.GetDrive())
		}
		if d.FromEpoch != 0 {
			fmt.Fprintf(&b, " from epoch %d", d.FromEpoch)
		}
		if d.Reason != "" {
			b.WriteString(": " + d.Reason)
		}
		out = append(out, b.String())
	}
	return out
}

type placeCase struct {
	name string
	cfg  PlaceConfig
	view View
	want []string
}

func placeCases() []placeCase {
	lostR1 := func(tapes ...*ferryv1.TapeAssignment) JobView {
		return JobView{Job: running("R1", "n1", 7, 500, tapes...), Disks: names("db01"), Cartridges: names(a1),
			Lost: true, LostReason: "owner n1 lost: lease expired"}
	}
	return []placeCase{
		{
			name: "six jobs spread over three nodes",
			view: paris(
				JobView{Job: queued("J1", 1, 0), Disks: names("db01")},
				JobView{Job: queued("J2", 2, 0), Disks: names("db02")},
				JobView{Job: queued("J3", 3, 0), Disks: names("db03")},
				JobView{Job: queued("J4", 4, 0), Disks: names("db04")},
				JobView{Job: queued("J5", 5, 0), Disks: names("db05")},
				JobView{Job: queued("J6", 6, 0), Disks: names("db06")},
			),
			want: []string{"J1 -> n1", "J2 -> n2", "J3 -> n3", "J4 -> n1", "J5 -> n2", "J6 -> n3"},
		},
		{
			name: "higher priority first, then creation order",
			cfg:  PlaceConfig{MaxJobsPerNode: 1},
			view: View{
				Nodes: []NodeView{mover("n1", "paris")},
				Disks: parisDisks(),
				Jobs: []JobView{
					{Job: queued("J1", 1, 0), Disks: names("db01")},
					{Job: queued("J2", 3, 5), Disks: names("db02")},
					{Job: queued("J3", 2, 5), Disks: names("db03")},
					{Job: queued("J4", 0, -1), Disks: names("db04")},
				},
			},
			want: []string{
				"J3 -> n1",
				"J2 waits: all eligible nodes are at their limit of 1 jobs",
				"J1 waits: all eligible nodes are at their limit of 1 jobs",
				"J4 waits: all eligible nodes are at their limit of 1 jobs",
			},
		},
		{
			name: "two jobs want the same cartridge",
			view: paris(
				JobView{Job: queued("J1", 1, 0), Disks: names("db01"), Cartridges: names(a1), Writes: names("db01")},
				JobView{Job: queued("J2", 2, 0), Disks: names("db02"), Cartridges: names(a1), Writes: names("db02")},
			),
			want: []string{
				"J1 -> n1 A00001L9@lib1/0",
				"J2 waits: cartridge A00001L9 is in use by job J1",
			},
		},
		{
			name: "a cartridge held by a running job",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 5, 0, tape(a1, "lib1", 0)), Disks: names("db01"), Cartridges: names(a1)},
					{Job: queued("J1", 10, 0), Disks: names("db02"), Cartridges: names(a1)},
					{Job: queued("J2", 11, 0), Disks: names("db03"), Cartridges: names(a2)},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1), inSlot(a2, "lib1", 2)},
			},
			want: []string{
				"J1 waits: cartridge A00001L9 is in use by job R1",
				"J2 -> n2 A00002L9@lib1/1",
			},
		},
		{
			name: "a job that waits does not hold back one needing other devices",
			view: View{
				Nodes: []NodeView{mover("n1", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 5, 0, tape(a1, "lib1", 0)), Cartridges: names(a1)},
					{Job: queued("J1", 10, 9), Cartridges: names(a1)},
					{Job: queued("J2", 11, 0), Cartridges: names(a2)},
				},
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1), inSlot(a2, "lib1", 2)},
			},
			want: []string{
				"J1 waits: cartridge A00001L9 is in use by job R1",
				"J2 -> n1 A00002L9@lib1/1",
			},
		},
		{
			name: "a takeover keeps the cartridge in a drive the new node reaches, and goes first",
			view: View{
				Nodes: []NodeView{down(mover("n1", "paris")), mover("n2", "paris"), mover("n3", "paris")},
				Jobs: []JobView{
					{Job: queued("J1", 1, 100), Disks: names("db02"), Cartridges: names(a2)},
					lostR1(tape(a1, "lib1", 1)),
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(1, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 1, 1), inSlot(a2, "lib1", 2)},
			},
			want: []string{
				"R1 -> n2 A00001L9@lib1/1 from epoch 7: owner n1 lost: lease expired",
				"J1 -> n3 A00002L9@lib1/0",
			},
		},
		{
			name: "a takeover moves the cartridge when the new node does not reach its drive",
			view: View{
				Nodes:      []NodeView{down(mover("n1", "paris")), mover("n2", "paris", "db01", "lib1/1")},
				Jobs:       []JobView{lostR1(tape(a1, "lib1", 0))},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1)},
			},
			want: []string{"R1 -> n2 A00001L9@lib1/1 from epoch 7: owner n1 lost: lease expired"},
		},
		{
			name: "a takeover waits when the drive the new node reaches is taken",
			view: View{
				Nodes: []NodeView{down(mover("n1", "paris")), mover("n2", "paris", "db01", "db02", "lib1/1")},
				Jobs: []JobView{
					lostR1(tape(a1, "lib1", 0)),
					{Job: running("R2", "n2", 9, 0, tape(a2, "lib1", 1)), Disks: names("db02"), Cartridges: names(a2)},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 3, inDrive(0, a1, "R1"), inDrive(1, a2, "R2"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1), loadedCartridge(a2, "lib1", 1, 2)},
			},
			want: []string{"R1 waits from epoch 7: owner n1 lost: lease expired; no free drive in library lib1 is reached by a node that can run the job"},
		},
		{
			name: "the lost owner never takes its job back",
			view: View{
				Nodes: []NodeView{mover("n1", "paris")},
				Jobs: []JobView{
					lostR1(tape(a1, "lib1", 0)),
					{Job: running("R3", "n1", 3, 0), Lost: true},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1)},
			},
			want: []string{
				"R3 waits from epoch 3: owner n1 lost; no eligible node other than n1",
				"R1 waits from epoch 7: owner n1 lost: lease expired; no eligible node other than n1",
			},
		},
		{
			name: "a lost job that waits keeps its cartridge and devices",
			view: View{
				Nodes: []NodeView{down(mover("n1", "paris")), mover("n2", "lyon")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 7, 500, tape(a1, "lib1", 0)), Disks: names("db01"), Cartridges: names(a1),
						Writes: names("db01"), Lost: true, LostReason: "owner n1 lost: not alive"},
					{Job: queued("J1", 10, 0), Disks: names("db02"), Cartridges: names(a1)},
					{Job: queued("J2", 11, 0), Disks: names("shared", "db01")},
				},
				Disks:      append(parisDisks(), disk("shared", "")),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1)},
			},
			want: []string{
				"R1 waits from epoch 7: owner n1 lost: not alive; no eligible node reaches disk db01",
				"J1 waits: cartridge A00001L9 is in use by job R1",
				"J2 waits: disk db01 is being written by job R1",
			},
		},
		{
			name: "a copy to a disk an initiator reserved waits; reading it or a takeover does not",
			view: func() View {
				v := paris(
					JobView{Job: queued("J1", 1, 0), Disks: names("db01", "db02"), Writes: names("db02")},
					JobView{Job: queued("J2", 2, 0), Disks: names("db02", "db03"), Writes: names("db03")},
					JobView{Job: queued("J3", 3, 0), Disks: names("db05", "db04"), Writes: names("db04")},
					JobView{Job: running("R1", "n1", 7, 500), Disks: names("db06"), Writes: names("db06"),
						Lost: true, LostReason: "owner n1 lost: lease expired"},
				)
				v.Nodes[0] = down(v.Nodes[0])
				v.Disks[1].Reservation = &ferryv1.PersistentReservation{Reserved: true, Type: 1,
					Holder: &ferryv1.PRNexus{Initiator: "iqn.a,i,0x1", TargetPort: 2}}
				v.Disks[3].Reservation = &ferryv1.PersistentReservation{LegacyHolder: &ferryv1.PRNexus{Initiator: "iqn.b,i,0x2", TargetPort: 3}}
				v.Disks[5].Reservation = v.Disks[1].Reservation
				return v
			}(),
			want: []string{
				"R1 -> n2 from epoch 7: owner n1 lost: lease expired",
				"J1 waits: disk db02 is reserved (Write Exclusive) by initiator iqn.a,i,0x1 through target port 2; the copy waits for its release",
				"J2 -> n3",
				"J3 waits: disk db04 is reserved (RESERVE(6)) by initiator iqn.b,i,0x2 through target port 3; the copy waits for its release",
			},
		},
		{
			name: "per-node limit, default 4",
			view: View{
				Nodes: []NodeView{mover("n1", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 0)}, {Job: running("R2", "n1", 3, 0)},
					{Job: running("R3", "n1", 4, 0)}, {Job: running("R4", "n1", 5, 0)},
					{Job: queued("J1", 10, 0), Disks: names("db01")},
				},
				Disks: parisDisks(),
			},
			want: []string{"J1 waits: all eligible nodes are at their limit of 4 jobs"},
		},
		{
			name: "per-node limit counts jobs placed in the same call",
			cfg:  PlaceConfig{MaxJobsPerNode: 2},
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris", "db01")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 0)},
					{Job: queued("J1", 10, 0), Disks: names("db02")},
					{Job: queued("J2", 11, 0), Disks: names("db03")},
					{Job: queued("J3", 12, 0), Disks: names("db01")},
					{Job: queued("J4", 13, 0), Disks: names("db01")},
				},
				Disks: parisDisks(),
			},
			want: []string{
				"J1 -> n1",
				"J2 waits: every eligible node that reaches the job's devices is at its limit of 2 jobs",
				"J3 -> n2",
				"J4 -> n2",
			},
		},
		{
			name: "per-library limit",
			cfg:  PlaceConfig{MaxJobsPerLibrary: 2},
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 0, tape(a1, "lib1", 0)), Cartridges: names(a1)},
					{Job: queued("J1", 10, 0), Cartridges: names(a2)},
					{Job: queued("J2", 11, 0), Cartridges: names(a3)},
					{Job: queued("J3", 12, 0), Disks: names("db01")},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 4, inDrive(0, a1, "R1"))},
				Cartridges: append(parisCartridges()[1:], loadedCartridge(a1, "lib1", 0, 1)),
			},
			want: []string{
				"J1 -> n2 A00002L9@lib1/1",
				"J2 waits: library lib1 is at its limit of 2 jobs",
				"J3 -> n1",
			},
		},
		{
			name: "a takeover is not held back by the library limit it already counts in",
			cfg:  PlaceConfig{MaxJobsPerLibrary: 1},
			view: View{
				Nodes:      []NodeView{down(mover("n1", "paris")), mover("n2", "paris")},
				Jobs:       []JobView{lostR1(tape(a1, "lib1", 0))},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R1"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1)},
			},
			want: []string{"R1 -> n2 A00001L9@lib1/0 from epoch 7: owner n1 lost: lease expired"},
		},
		{
			name: "no free drive",
			view: paris(
				JobView{Job: queued("J1", 1, 0), Cartridges: names(a1)},
				JobView{Job: queued("J2", 2, 0), Cartridges: names(a2)},
				JobView{Job: queued("J3", 3, 0), Cartridges: names(a3)},
			),
			want: []string{
				"J1 -> n1 A00001L9@lib1/0",
				"J2 -> n2 A00002L9@lib1/1",
				"J3 waits: no free drive in library lib1",
			},
		},
		{
			name: "two cartridges take two drives",
			view: paris(
				JobView{Job: queued("J1", 1, 0), Cartridges: names(a1, a2, a1), Writes: names(a2)},
				JobView{Job: queued("J2", 2, 0), Cartridges: names(a3, a4)},
			),
			want: []string{
				"J1 -> n1 A00001L9@lib1/0 A00002L9@lib1/1",
				"J2 waits: no free drive in library lib1",
			},
		},
		{
			name: "a cartridge left in a drive stays there",
			view: View{
				Nodes:      []NodeView{mover("n1", "paris")},
				Jobs:       []JobView{{Job: queued("J1", 1, 0), Cartridges: names(a2, a1)}},
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 3, inDrive(1, a1, ""))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 1, 1), inSlot(a2, "lib1", 2)},
			},
			want: []string{"J1 -> n1 A00002L9@lib1/0 A00001L9@lib1/1"},
		},
		{
			name: "a cartridge entering through an import/export slot needs a free storage slot",
			view: View{
				Nodes: []NodeView{mover("n1", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 0, tape(a1, "lib1", 0)), Cartridges: names(a1)},
					{Job: queued("J1", 10, 0), Cartridges: names(a3)},
					{Job: queued("J2", 11, 0), Cartridges: names(a4)},
					{Job: queued("J3", 12, 0), Cartridges: names(a2)},
				},
				Libraries: []*ferryv1.Library{{Name: "lib1", Site: "paris", Slots: 3, Drives: 4, IeSlots: 2, Elements: []*ferryv1.Element{
					inDrive(0, a1, "R1"), {Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: 2, Barcode: a2},
				}}},
				// Slot 1 is empty, but it is the loaded cartridge's home.
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1), inSlot(a2, "lib1", 2), inIE(a3, "lib1", 1), inIE(a4, "lib1", 2)},
			},
			want: []string{
				"J1 -> n1 A00003L9@lib1/1",
				"J2 waits: no free storage slot in library lib1 to take A00004L9 from its import/export slot",
				"J3 -> n1 A00002L9@lib1/2",
			},
		},
		{
			name: "sites",
			view: View{
				Nodes: []NodeView{mover("p1", "paris"), mover("l1", "lyon")},
				Jobs: []JobView{
					{Job: queued("J1", 1, 0), Disks: names("db01")},
					{Job: queued("J2", 2, 0), Disks: names("dbL")},
					{Job: queued("J3", 3, 0), Disks: names("shared"), Cartridges: names("B1")},
					{Job: queued("J4", 4, 0), Disks: names("dbT")},
					{Job: queued("J5", 5, 0), Disks: names("db01", "dbL")},
					{Job: queued("J6", 6, 0), Disks: names("db02"), Cartridges: names("L1")},
				},
				Disks: append(parisDisks(), disk("dbL", "lyon"), disk("dbT", "tokyo"), disk("shared", "")),
				Libraries: []*ferryv1.Library{
					library("open", "", 1), library("lyonlib", "lyon", 1),
				},
				Cartridges: []*ferryv1.Cartridge{inSlot("B1", "open", 1), inSlot("L1", "lyonlib", 1)},
			},
			want: []string{
				"J1 -> p1",
				"J2 -> l1",
				"J3 -> l1 B1@open/0",
				"J4 waits: no eligible node reaches disk dbT",
				"J5 waits: no eligible node reaches all of disk db01, disk dbL",
				"J6 waits: no eligible node reaches all of disk db02, a drive of library lyonlib",
			},
		},
		{
			name: "reach narrowed to some devices",
			view: View{
				Nodes: []NodeView{mover("n1", "paris", "db01", "lib1/0"), mover("n2", "paris", "db02", "lib1")},
				Jobs: []JobView{
					{Job: queued("J1", 1, 0), Disks: names("db01"), Cartridges: names(a1)},
					{Job: queued("J2", 2, 0), Disks: names("db02"), Cartridges: names(a2)},
					{Job: queued("J3", 3, 0), Disks: names("db03")},
					{Job: queued("J4", 4, 0), Disks: names("db01"), Cartridges: names(a3)},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 3)},
				Cartridges: parisCartridges(),
			},
			want: []string{
				"J1 -> n1 A00001L9@lib1/0",
				"J2 -> n2 A00002L9@lib1/1",
				"J3 waits: no eligible node reaches disk db03",
				"J4 waits: no free drive in library lib1 is reached by a node that can run the job",
			},
		},
		{
			name: "unresolvable jobs go to the least loaded mover without tapes",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris", "db01"), down(mover("n3", "paris"))},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 0)},
					{Job: queued("J1", 10, 0), Disks: names("nope"), Cartridges: names(a1), Writes: names("db01"), Unresolvable: true},
					{Job: queued("J2", 11, 0), Disks: names("db01"), Cartridges: names(a1)},
					{Job: running("R2", "n3", 4, 0, tape(a1, "lib1", 0)), Unresolvable: true, Lost: true, LostReason: "owner n3 lost: not alive"},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2, inDrive(0, a1, "R2"))},
				Cartridges: []*ferryv1.Cartridge{loadedCartridge(a1, "lib1", 0, 1)},
			},
			want: []string{
				"R2 -> n2 from epoch 4: owner n3 lost: not alive",
				"J1 -> n1",
				"J2 waits: cartridge A00001L9 is in use by job R2",
			},
		},
		{
			name: "unresolvable jobs respect the node limit",
			cfg:  PlaceConfig{MaxJobsPerNode: 1},
			view: View{
				Nodes: []NodeView{mover("n1", "paris")},
				Jobs:  []JobView{{Job: running("R1", "n1", 2, 0)}, {Job: queued("J1", 10, 0), Unresolvable: true}},
			},
			want: []string{"J1 waits: all eligible nodes are at their limit of 1 jobs"},
		},
		{
			name: "writes exclude other readers and writers, reads share",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 0), Disks: names("db01", "db02"), Writes: names("db02")},
					{Job: queued("J1", 10, 0), Disks: names("db02", "db04")},
					{Job: queued("J2", 11, 0), Disks: names("db03", "db01"), Writes: names("db01")},
					{Job: queued("J3", 12, 0), Disks: names("db01", "db03"), Writes: names("db03")},
					{Job: queued("J4", 13, 0), Disks: names("db03", "db05")},
					{Job: queued("J5", 14, 0), Disks: names("db01", "db05")},
					{Job: queued("J6", 15, 0), Cartridges: names(a1), Writes: names(a1)},
					{Job: queued("J7", 16, 0), Disks: names("db06"), Writes: names(a2)},
				},
				Disks:      parisDisks(),
				Libraries:  []*ferryv1.Library{library("lib1", "paris", 2)},
				Cartridges: parisCartridges(),
			},
			want: []string{
				"J1 waits: disk db02 is being written by job R1",
				"J2 waits: disk db01 is being read by job R1",
				"J3 -> n2",
				"J4 waits: disk db03 is being written by job J3",
				"J5 -> n1",
				"J6 -> n2 A00001L9@lib1/0",
				"J7 -> n1",
			},
		},
		{
			// Jobs of unknown size count as DefaultJobBytes each.
			name: "soonest done: bytes in flight over drive rate, then fewest jobs, then name",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris"), mover("n3", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 900)},
					{Job: running("R2", "n2", 3, 100)},
					{Job: running("R3", "n3", 4, 100)},
					{Job: running("R4", "n3", 5, 0)},
					{Job: queued("J1", 10, 0)},
					{Job: queued("J2", 11, 0)},
					{Job: queued("J3", 12, 0)},
				},
			},
			want: []string{"J1 -> n2", "J2 -> n3", "J3 -> n1"},
		},
		{
			name: "bytes, not job counts: two short copies finish before one long one",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 10<<30)},
					{Job: running("R2", "n2", 3, 100)},
					{Job: running("R3", "n2", 4, 100)},
					{Job: queued("J1", 10, 0), Bytes: 1 << 20},
					{Job: queued("J2", 11, 0), Bytes: 1 << 20},
				},
			},
			want: []string{"J1 -> n2", "J2 -> n2"},
		},
		{
			name: "live progress from the lease renewals counts, not only checkpoints",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris")},
				Jobs: []JobView{
					// 5000 left at its checkpoint, 100 by its owner's latest renewal.
					{Job: running("R1", "n1", 2, 5000), LiveBytesDone: 1000 + 4900},
					{Job: running("R2", "n2", 3, 1000)},
					{Job: queued("J1", 10, 0), Bytes: 1 << 20},
				},
			},
			want: []string{"J1 -> n1"},
		},
		{
			// Drives without a rate weigh alike: n1 reaches two, n2 one.
			name: "a node reaching more drives takes more bytes",
			view: View{
				Nodes: []NodeView{mover("n1", "paris", "lib1"), mover("n2", "paris", "lib1/0")},
				Jobs: []JobView{
					{Job: queued("J1", 10, 0), Bytes: 1 << 30},
					{Job: queued("J2", 11, 0), Bytes: 1 << 30},
					{Job: queued("J3", 12, 0), Bytes: 1 << 30},
				},
				Libraries: []*ferryv1.Library{library("lib1", "paris", 2)},
			},
			want: []string{"J1 -> n1", "J2 -> n2", "J3 -> n1"},
		},
		{
			name: "a node reaching faster drives takes more bytes",
			view: View{
				Nodes: []NodeView{mover("n1", "paris", "fast"), mover("n2", "paris", "slow")},
				Jobs: []JobView{
					{Job: running("R1", "n1", 2, 1<<30)},
					{Job: running("R2", "n2", 3, 1<<30)},
					{Job: queued("J1", 10, 0), Bytes: 1 << 30},
					{Job: queued("J2", 11, 0), Bytes: 1 << 30},
					{Job: queued("J3", 12, 0), Bytes: 1 << 30},
				},
				Libraries:  []*ferryv1.Library{library("fast", "paris", 1), library("slow", "paris", 1)},
				DriveRates: map[string]uint64{"fast": 800_000_000, "slow": 100_000_000},
			},
			want: []string{"J1 -> n1", "J2 -> n1", "J3 -> n1"},
		},
		{
			name: "no eligible node",
			view: View{
				Nodes: []NodeView{down(mover("n1", "paris")), {Name: "n2", Site: "paris", Eligible: true}},
				Jobs:  []JobView{{Job: queued("J1", 1, 0), Disks: names("db01")}, {Job: queued("J2", 2, 0), Unresolvable: true}},
				Disks: parisDisks(),
			},
			want: []string{"J1 waits: no eligible node", "J2 waits: no eligible node"},
		},
		{
			name: "odd input",
			view: View{
				Nodes: []NodeView{mover("n1", "paris"), mover("twin", "paris"), down(mover("twin", "paris")), mover("", "paris")},
				Jobs: []JobView{
					{},
					{Job: &ferryv1.Job{State: ferryv1.JobState_JOB_STATE_QUEUED}},
					{Job: &ferryv1.Job{Id: "done", State: ferryv1.JobState_JOB_STATE_SUCCEEDED}, Cartridges: names(a1)},
					{Job: &ferryv1.Job{Id: "bare", State: ferryv1.JobState_JOB_STATE_QUEUED}},
					{Job: &ferryv1.Job{Id: "odd", State: ferryv1.JobState_JOB_STATE_RUNNING, Tapes: []*ferryv1.TapeAssignment{nil}}},
					{Job: queued("J1", 1, 0), Disks: names("nope")},
					{Job: queued("J2", 2, 0), Cartridges: names("ZZZ")},
					{Job: queued("J3", 3, 0), Cartridges: names("DUP")},
					{Job: queued("J4", 4, 0), Cartridges: names("ORPHAN")},
					{Job: queued("J5", 5, 0), Disks: names("")},
					{Job: queued("J6", 6, 0), Cartridges: names("")},
					{Job: queued("J7", 7, 0), Disks: names("db01")},
					{Job: running("J7", "n1", 9, 0), Disks: names("db02"), Lost: true},
					{Job: queued("J8", 8, 0), Cartridges: names("HUGE")},
					{Job: queued("J9", 9, 0), Cartridges: names("TWINLIB")},
					{Job: queued("J10", 10, 0), Disks: names("twindisk")},
				},
				Disks: append(parisDisks(), nil, disk("", "paris"), disk("twindisk", "paris"), disk("twindisk", "lyon")),
				Libraries: []*ferryv1.Library{
					nil, library("lib1", "paris", 2, nil, inDrive(7, "", "")),
					library("huge", "paris", 1<<32-1, inDrive(0, "X", ""), inDrive(1, "", "ghost")),
					library("twinlib", "", 1), library("twinlib", "", 2),
				},
				Cartridges: []*ferryv1.Cartridge{
					nil, {Barcode: "DUP", Library: "lib1"}, {Barcode: "DUP", Library: "lib1"},
					{Barcode: "ORPHAN", Library: "ghost"}, {Barcode: "HUGE", Library: "huge"}, {Barcode: "TWINLIB", Library: "twinlib"},
					{Barcode: "NOLIB", Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE}},
				},
			},
			want: []string{
				"J7 waits: job J7 appears more than once in the view",
				"bare -> n1",
				"J1 waits: disk nope is not registered",
				"J2 waits: cartridge ZZZ is not registered",
				"J3 waits: cartridge DUP is registered more than once",
				`J4 waits: cartridge ORPHAN is in library "ghost", which is not registered`,
				"J5 waits: the job names a disk without a name",
				"J6 waits: the job names a cartridge without a barcode",
				"J8 -> n1 HUGE@huge/2",
				"J9 waits: library twinlib is registered more than once",
				"J10 waits: disk twindisk is registered more than once",
			},
		},
	}
}

const dma = "10.0.0.5:41234"

// dmaLoaded is a cartridge a DMA loaded through n2's NDMP robot.
func dmaLoaded(barcode, lib string, drive, home uint32) *ferryv1.Cartridge {
	c := loadedCartridge(barcode, lib, drive, home)
	c.NdmpLoad = &ferryv1.NdmpLoad{DmaAddress: dma, Node: "n2"}
	return c
}

// session is an NDMP tape session of n2 on the cartridge in a drive.
func session(id, owner string, epoch uint64, t *ferryv1.TapeAssignment) *ferryv1.Job {
	j := running(id, owner, epoch, 0, t)
	j.Spec = &ferryv1.JobSpec{Ndmp: &ferryv1.NdmpSession{DmaAddress: dma, Node: owner, Library: t.GetLibrary(),
		Drive: t.GetDrive(), Barcode: t.GetBarcode(), ReadWrite: true}}
	return j
}

// ndmpCases: copy jobs and DMAs share cartridges and drives.
func ndmpCases() []placeCase {
	ndmpView := func(lib *ferryv1.Library, carts []*ferryv1.Cartridge, jobs ...JobView) View {
		return View{Nodes: []NodeView{mover("n1", "paris"), mover("n2", "paris")}, Jobs: jobs, Disks: parisDisks(),
			Libraries: []*ferryv1.Library{lib}, Cartridges: carts}
	}
	return []placeCase{
		{
			name: "a cartridge a DMA loaded waits for the DMA",
			view: ndmpView(library("lib1", "paris", 2, inDrive(0, a1, "")),
				[]*ferryv1.Cartridge{dmaLoaded(a1, "lib1", 0, 1), inSlot(a2, "lib1", 2)},
				JobView{Job: queued("J1", 10, 0), Disks: names("db01"), Cartridges: names(a1), Writes: names(a1)},
				JobView{Job: queued("J2", 11, 0), Disks: names("db02"), Cartridges: names(a2), Writes: names(a2)}),
			want: []string{
				"J1 waits: cartridge A00001L9 is in drive lib1/0, loaded through NDMP by " + dma + " (via n2); the copy waits until a DMA unloads it",
				"J2 -> n1 A00002L9@lib1/1",
			},
		},
		{
			name: "once the DMA unloaded it, the copy is placed",
			view: ndmpView(library("lib1", "paris", 2), []*ferryv1.Cartridge{inSlot(a1, "lib1", 1)},
				JobView{Job: queued("J1", 10, 0), Disks: names("db01"), Cartridges: names(a1), Writes: names(a1)}),
			want: []string{"J1 -> n1 A00001L9@lib1/0"},
		},
		{
			name: "a cartridge an NDMP session holds",
			view: ndmpView(library("lib1", "paris", 2, inDrive(0, a1, "S1")),
				[]*ferryv1.Cartridge{dmaLoaded(a1, "lib1", 0, 1)},
				JobView{Job: session("S1", "n2", 5, tape(a1, "lib1", 0)), Cartridges: names(a1), Writes: names(a1)},
				JobView{Job: queued("J1", 10, 0), Disks: names("db01"), Cartridges: names(a1)}),
			want: []string{"J1 waits: cartridge A00001L9 is in use by NDMP session S1 from " + dma + " on n2"},
		},
		{
			name: "every drive is NDMP's",
			view: ndmpView(library("lib1", "paris", 2, inDrive(0, a1, ""), inDrive(1, a2, "S1")),
				[]*ferryv1.Cartridge{dmaLoaded(a1, "lib1", 0, 1), dmaLoaded(a2, "lib1", 1, 2), inSlot(a3, "lib1", 3)},
				JobView{Job: session("S1", "n2", 5, tape(a2, "lib1", 1)), Cartridges: names(a2)},
				JobView{Job: queued("J1", 10, 0), Disks: names("db01"), Cartridges: names(a3)}),
			want: []string{"J1 waits: no free drive in library lib1 (cartridge A00001L9 is in drive lib1/0, loaded through NDMP by " +
				dma + " (via n2); drive lib1/1 is held by NDMP session S1 from " + dma + " on n2)"},
		},
		{
			name: "a lost NDMP session is not taken over and keeps its drive",
			view: ndmpView(library("lib1", "paris", 2, inDrive(0, a1, "S1")),
				[]*ferryv1.Cartridge{dmaLoaded(a1, "lib1", 0, 1)},
				JobView{Job: session("S1", "n2", 5, tape(a1, "lib1", 0)), Cartridges: names(a1), Lost: true, LostReason: "owner n2 lost: lease expired"},
				JobView{Job: queued("J1", 10, 0), Disks: names("db01"), Cartridges: names(a1)}),
			want: []string{"J1 waits: cartridge A00001L9 is in use by NDMP session S1 from " + dma + " on n2"},
		},
	}
}

func TestPlace(t *testing.T) {
	for _, tc := range slices.Concat(placeCases(), ndmpCases()) {
		t.Run(tc.name, func(t *testing.T) {
			got := render(Place(tc.cfg, tc.view))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Place decided:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			checkInvariants(t, tc.cfg, tc.view, Place(tc.cfg, tc.view))
		})
	}
}

// TestPlaceDeterministic shuffles every list of each case's view whose
// order carries no meaning: the decisions must not change.
func TestPlaceDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range slices.Concat(placeCases(), ndmpCases()) {
		t.Run(tc.name, func(t *testing.T) {
			want := render(Place(tc.cfg, tc.view))
			for range 50 {
				if got := render(Place(tc.cfg, shuffled(rng, tc.view))); !slices.Equal(got, want) {
					t.Fatalf("after shuffling, Place decided:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
		})
	}
}

// TestPlaceLeavesViewAlone checks that Place only reads its view: the
// caller may hold the state machine's own records.
func TestPlaceLeavesViewAlone(t *testing.T) {
	for _, tc := range slices.Concat(placeCases(), ndmpCases()) {
		t.Run(tc.name, func(t *testing.T) {
			before := cloneView(tc.view)
			Place(tc.cfg, tc.view)
			if !equalViews(before, tc.view) {
				t.Error("Place changed its view")
			}
		})
	}
}

// shuffled returns a deep copy of v with its nodes, jobs, registry, reach
// lists and library elements in random order.
func shuffled(rng *rand.Rand, v View) View {
	c := cloneView(v)
	shuffle := func(n int, swap func(i, j int)) { rng.Shuffle(n, swap) }
	shuffle(len(c.Nodes), func(i, j int) { c.Nodes[i], c.Nodes[j] = c.Nodes[j], c.Nodes[i] })
	for _, n := range c.Nodes {
		shuffle(len(n.Reach), func(i, j int) { n.Reach[i], n.Reach[j] = n.Reach[j], n.Reach[i] })
	}
	shuffle(len(c.Jobs), func(i, j int) { c.Jobs[i], c.Jobs[j] = c.Jobs[j], c.Jobs[i] })
	shuffle(len(c.Disks), func(i, j int) { c.Disks[i], c.Disks[j] = c.Disks[j], c.Disks[i] })
	shuffle(len(c.Libraries), func(i, j int) { c.Libraries[i], c.Libraries[j] = c.Libraries[j], c.Libraries[i] })
	for _, l := range c.Libraries {
		if l != nil {
			shuffle(len(l.Elements), func(i, j int) { l.Elements[i], l.Elements[j] = l.Elements[j], l.Elements[i] })
		}
	}
	shuffle(len(c.Cartridges), func(i, j int) { c.Cartridges[i], c.Cartridges[j] = c.Cartridges[j], c.Cartridges[i] })
	return c
}

func cloneView(v View) View {
	c := View{
		Nodes:      make([]NodeView, len(v.Nodes)),
		Jobs:       make([]JobView, len(v.Jobs)),
		Disks:      cloneAll(v.Disks),
		Libraries:  cloneAll(v.Libraries),
		Cartridges: cloneAll(v.Cartridges),
		DriveRates: maps.Clone(v.DriveRates),
	}
	for i, n := range v.Nodes {
		n.Reach = slices.Clone(n.Reach)
		c.Nodes[i] = n
	}
	for i, jv := range v.Jobs {
		if jv.Job != nil {
			jv.Job = proto.Clone(jv.Job).(*ferryv1.Job)
		}
		jv.Disks, jv.Cartridges, jv.Writes = slices.Clone(jv.Disks), slices.Clone(jv.Cartridges), slices.Clone(jv.Writes)
		c.Jobs[i] = jv
	}
	return c
}

func cloneAll[T proto.Message](ms []T) []T {
	out := make([]T, len(ms))
	for i, m := range ms {
		if m.ProtoReflect().IsValid() {
			out[i] = proto.Clone(m).(T)
		}
	}
	return out
}

func equalViews(a, b View) bool {
	eqJob := func(x, y JobView) bool {
		return proto.Equal(x.Job, y.Job) && slices.Equal(x.Disks, y.Disks) && slices.Equal(x.Cartridges, y.Cartridges) &&
			slices.Equal(x.Writes, y.Writes) && x.Unresolvable == y.Unresolvable && x.Lost == y.Lost && x.LostReason == y.LostReason &&
			x.Bytes == y.Bytes && x.LiveBytesDone == y.LiveBytesDone
	}
	eqNode := func(x, y NodeView) bool {
		return x.Name == y.Name && x.Site == y.Site && slices.Equal(x.Reach, y.Reach) && x.Mover == y.Mover && x.Eligible == y.Eligible
	}
	return slices.EqualFunc(a.Nodes, b.Nodes, eqNode) && slices.EqualFunc(a.Jobs, b.Jobs, eqJob) &&
		slices.EqualFunc(a.Disks, b.Disks, func(x, y *ferryv1.Disk) bool { return proto.Equal(x, y) }) &&
		slices.EqualFunc(a.Libraries, b.Libraries, func(x, y *ferryv1.Library) bool { return proto.Equal(x, y) }) &&
		slices.EqualFunc(a.Cartridges, b.Cartridges, func(x, y *ferryv1.Cartridge) bool { return proto.Equal(x, y) }) &&
		maps.Equal(a.DriveRates, b.DriveRates)
}

// TestPlaceProperties places random views, odd ones included, and checks
// what must hold whatever the view, and that shuffling changes nothing.
func TestPlaceProperties(t *testing.T) {
	var stats placeStats
	for seed := range uint64(3000) {
		cfg, v := randomView(rand.New(rand.NewPCG(seed, 0)))
		ds := Place(cfg, v)
		checkInvariants(t, cfg, v, ds)
		stats.add(v, ds)
		rng := rand.New(rand.NewPCG(seed, 1))
		if got, want := render(Place(cfg, shuffled(rng, v))), render(ds); !slices.Equal(got, want) {
			t.Fatalf("seed %d: after shuffling, Place decided:\n\t%s\nwant:\n\t%s", seed, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		if t.Failed() {
			t.Fatalf("seed %d: view %+v decided:\n\t%s", seed, v, strings.Join(render(ds), "\n\t"))
		}
	}
	// Random views that all end in waiting would prove nothing.
	t.Logf("%+v", stats)
	if stats.placed < 1000 || stats.placedTapes < 300 || stats.takeoversStay < 100 || stats.takeoversMove < 10 || stats.waits < 1000 {
		t.Errorf("random views exercise too little: %+v", stats)
	}
}

// FuzzPlace is TestPlaceProperties driven by the fuzzer's seeds:
// go test ./scheduler -run '^$' -fuzz FuzzPlace
func FuzzPlace(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed, seed*7919)
	}
	f.Fuzz(func(t *testing.T, seed, shuffleSeed uint64) {
		cfg, v := randomView(rand.New(rand.NewPCG(seed, shuffleSeed)))
		ds := Place(cfg, v)
		checkInvariants(t, cfg, v, ds)
		if got, want := render(Place(cfg, shuffled(rand.New(rand.NewPCG(shuffleSeed, seed)), v))), render(ds); !slices.Equal(got, want) {
			t.Fatalf("after shuffling, Place decided:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	})
}

type placeStats struct {
	placed, placedTapes, waits, takeoversStay, takeoversMove int
}

func (s *placeStats) add(v View, ds []Decision) {
	for _, d := range ds {
		if d.Node == "" {
			s.waits++
			continue
		}
		s.placed++
		s.placedTapes += len(d.Tapes)
		if d.FromEpoch == 0 {
			continue
		}
		for _, jv := range v.Jobs {
			if jv.Job.GetId() != d.JobID {
				continue
			}
			for _, t := range d.Tapes {
				for _, old := range jv.Job.GetTapes() {
					if old.GetBarcode() == t.GetBarcode() && old.GetDrive() == t.GetDrive() {
						s.takeoversStay++
					} else if old.GetBarcode() == t.GetBarcode() {
						s.takeoversMove++
					}
				}
			}
		}
	}
}

// randomView makes a small cluster over two sites with running jobs
// holding consistent drives, and queued jobs wanting anything, now and then
// with odd records.
func randomView(rng *rand.Rand) (PlaceConfig, View) {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	some := func(xs []string, most int) []string {
		var out []string
		for range rng.IntN(most + 1) {
			out = append(out, pick(xs))
		}
		return out
	}
	sites := []string{"a", "b", "", "a"}
	cfg := PlaceConfig{MaxJobsPerNode: rng.IntN(4), MaxJobsPerLibrary: rng.IntN(4)}
	var v View

	var diskNames, libNames, barcodes, driveEntries, reachable []string
	libByName := make(map[string]*ferryv1.Library)
	for i := range 2 + rng.IntN(5) {
		d := disk(fmt.Sprintf("d%d", i), pick(sites))
		v.Disks = append(v.Disks, d)
		diskNames = append(diskNames, d.Name)
	}
	for i := range 1 + rng.IntN(3) {
		l := library(fmt.Sprintf("L%d", i), pick(sites), uint32(rng.IntN(5)))
		l.Slots = uint32(1 + rng.IntN(5))
		v.Libraries = append(v.Libraries, l)
		libByName[l.Name] = l
		libNames = append(libNames, l.Name)
		reachable = append(reachable, l.Name)
		for d := range l.Drives + 1 {
			driveEntries = append(driveEntries, fmt.Sprintf("%s/%d", l.Name, d))
		}
	}
	reachable = slices.Concat(reachable, driveEntries, diskNames)
	cartByCode := make(map[string]*ferryv1.Cartridge)
	inSlots := make(map[string]uint32)
	for i := range 2 + rng.IntN(9) {
		barcode, lib := fmt.Sprintf("T%02d", i), pick(libNames)
		c := inIE(barcode, lib, 1)
		if inSlots[lib] < libByName[lib].Slots && rng.IntN(4) > 0 {
			inSlots[lib]++
			c = inSlot(barcode, lib, inSlots[lib])
		}
		v.Cartridges = append(v.Cartridges, c)
		barcodes = append(barcodes, c.Barcode)
		cartByCode[c.Barcode] = c
	}
	var nodeNames []string
	for i := range 1 + rng.IntN(5) {
		n := NodeView{Name: fmt.Sprintf("n%d", i), Site: pick(sites[:2]), Mover: rng.IntN(8) > 0, Eligible: rng.IntN(4) > 0}
		switch rng.IntN(3) {
		case 0:
			n.Reach = some(reachable, 6)
		case 1:
			n.Reach = append(slices.Clone(diskNames), some(driveEntries, 3)...)
		}
		v.Nodes = append(v.Nodes, n)
		nodeNames = append(nodeNames, n.Name)
	}

	// load puts the cartridge in the lowest empty drive of its library for
	// the job ("" leaves it there idle); ok is false when none is empty.
	load := func(barcode, job string) (*ferryv1.TapeAssignment, bool) {
		c := cartByCode[barcode]
		if c.GetLocation().GetKind() != ferryv1.ElementKind_ELEMENT_KIND_SLOT {
			return nil, false
		}
		l := libByName[c.Library]
	drives:
		for d := range l.Drives {
			for _, e := range l.Elements {
				if e.Index == d {
					continue drives
				}
			}
			l.Elements = append(l.Elements, inDrive(d, barcode, job))
			c.Location = &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_DRIVE, Index: d, Barcode: barcode}
			return tape(barcode, l.Name, d), true
		}
		return nil, false
	}
	devices := func(jv *JobView) {
		jv.Disks = some(diskNames, 2)
		jv.Cartridges = some(barcodes, 2)
		for _, d := range slices.Concat(jv.Disks, jv.Cartridges) {
			if rng.IntN(2) == 0 {
				jv.Writes = append(jv.Writes, d)
			}
		}
	}
	created := uint64(1)
	for i := range rng.IntN(6) {
		id := fmt.Sprintf("R%d", i)
		j := running(id, pick(append(nodeNames, "gone")), created, uint64(rng.IntN(3))*100)
		created++
		jv := JobView{Job: j}
		devices(&jv)
		var kept []string
		for _, b := range uniq(jv.Cartridges) {
			if t, ok := load(b, id); ok {
				j.Tapes = append(j.Tapes, t)
				kept = append(kept, b)
			}
		}
		jv.Cartridges = kept
		jv.Writes = slices.DeleteFunc(jv.Writes, func(d string) bool {
			return !slices.Contains(jv.Disks, d) && !slices.Contains(kept, d)
		})
		if rng.IntN(5) < 2 {
			jv.Lost, jv.LostReason = true, "owner "+j.Owner+" lost: lease expired"
		}
		jv.Unresolvable = rng.IntN(12) == 0
		v.Jobs = append(v.Jobs, jv)
	}
	if rng.IntN(3) == 0 {
		load(pick(barcodes), "")
	}
	for i := range rng.IntN(10) {
		jv := JobView{Job: queued(fmt.Sprintf("J%d", i), created+uint64(rng.IntN(5)), int32(rng.IntN(5)-2))}
		devices(&jv)
		jv.Unresolvable = rng.IntN(10) == 0
		v.Jobs = append(v.Jobs, jv)
	}
	if rng.IntN(10) == 0 {
		v.Cartridges = append(v.Cartridges, inSlot(pick(barcodes), pick(append(libNames, "ghost")), 99))
	}
	if rng.IntN(10) == 0 && len(v.Jobs) > 0 {
		v.Jobs = append(v.Jobs, JobView{Job: queued(v.Jobs[0].Job.Id, 0, 0), Disks: names("nope")})
	}
	if rng.IntN(10) == 0 {
		v.Nodes = append(v.Nodes, mover(pick(nodeNames), "a"))
	}
	return cfg, v
}

// checkInvariants checks what must hold of any decisions, whatever the
// view: each placement is on a node that may run the job and reaches its
// devices; no drive gets two cartridges; no cartridge two jobs; no device
// written while another job uses it; no node or library above its limit.
func checkInvariants(t *testing.T, cfg PlaceConfig, v View, ds []Decision) {
	t.Helper()
	cfg = cfg.withDefaults()
	nodes := make(map[string][]NodeView)
	for _, n := range v.Nodes {
		nodes[n.Name] = append(nodes[n.Name], n)
	}
	views := make(map[string][]JobView)
	for _, jv := range v.Jobs {
		views[jv.Job.GetId()] = append(views[jv.Job.GetId()], jv)
	}
	disks := byName(v.Disks, (*ferryv1.Disk).GetName)
	libs := byName(v.Libraries, (*ferryv1.Library).GetName)
	carts := byName(v.Cartridges, (*ferryv1.Cartridge).GetBarcode)

	// What the view says is in use before any decision.
	inDrives := make(map[driveKey][]string) // barcodes, or "?" for a drive a job holds empty
	holders := make(map[string]jobSet)
	load := make(map[string]int)
	libJobs := make(map[string]jobSet)
	for _, l := range v.Libraries {
		for _, e := range l.GetElements() {
			if e.GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
				continue
			}
			k := driveKey{l.GetName(), e.GetIndex()}
			switch {
			case e.GetBarcode() != "":
				inDrives[k] = append(inDrives[k], e.GetBarcode())
			case e.GetJobId() != "":
				inDrives[k] = append(inDrives[k], "?")
			}
			if e.GetBarcode() != "" && e.GetJobId() != "" {
				addTo(holders, e.GetBarcode(), e.GetJobId())
			}
			if e.GetJobId() != "" {
				addTo(libJobs, l.GetName(), e.GetJobId())
			}
		}
	}
	for _, c := range v.Cartridges {
		if c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
			k := driveKey{c.GetLibrary(), c.GetLocation().GetIndex()}
			inDrives[k] = append(inDrives[k], c.GetBarcode())
		}
	}
	var active []JobView // jobs using devices: running ones, then those placed
	for _, jv := range v.Jobs {
		j := jv.Job
		if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
			continue
		}
		if !jv.Lost {
			load[j.GetOwner()]++
		}
		for _, tp := range j.GetTapes() {
			k := driveKey{tp.GetLibrary(), tp.GetDrive()}
			inDrives[k] = append(inDrives[k], tp.GetBarcode())
			addTo(holders, tp.GetBarcode(), j.GetId())
			addTo(libJobs, tp.GetLibrary(), j.GetId())
		}
		if !jv.Unresolvable {
			for _, b := range jv.Cartridges {
				addTo(holders, b, j.GetId())
			}
			active = append(active, jv)
		}
	}
	freeSlots := freeStorageSlots(libs, v.Libraries, v.Cartridges)

	decided := make(map[string]bool)
	drivesGiven := make(map[driveKey]string)
	cartsGiven := make(map[string]string)
	for _, d := range ds {
		if decided[d.JobID] {
			t.Errorf("job %s: two decisions", d.JobID)
		}
		decided[d.JobID] = true
		if len(views[d.JobID]) != 1 {
			if d.Node != "" {
				t.Errorf("job %s is in the view %d times but was placed on %s", d.JobID, len(views[d.JobID]), d.Node)
			}
			continue
		}
		jv := views[d.JobID][0]
		takeover := jv.Lost && jv.Job.GetState() == ferryv1.JobState_JOB_STATE_RUNNING
		if !takeover && jv.Job.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
			t.Errorf("job %s (%s, lost %v) got a decision", d.JobID, jv.Job.GetState(), jv.Lost)
		}
		if want := map[bool]uint64{true: jv.Job.GetEpoch()}[takeover]; d.FromEpoch != want {
			t.Errorf("job %s: from epoch %d, want %d", d.JobID, d.FromEpoch, want)
		}
		if d.Node == "" {
			if d.Reason == "" || len(d.Tapes) > 0 {
				t.Errorf("job %s waits with reason %q and tapes %v", d.JobID, d.Reason, d.Tapes)
			}
			continue
		}
		ns := nodes[d.Node]
		if len(ns) != 1 || !ns[0].Eligible || !ns[0].Mover {
			t.Errorf("job %s placed on %s, which may not run jobs: %+v", d.JobID, d.Node, ns)
			continue
		}
		n := ns[0]
		if takeover && d.Node == jv.Job.GetOwner() {
			t.Errorf("job %s taken over by its lost owner %s", d.JobID, d.Node)
		}
		load[d.Node]++
		if load[d.Node] > cfg.MaxJobsPerNode {
			t.Errorf("job %s placed on %s, which now runs %d jobs, above the limit of %d", d.JobID, d.Node, load[d.Node], cfg.MaxJobsPerNode)
		}
		if jv.Unresolvable {
			if len(d.Tapes) > 0 {
				t.Errorf("unresolvable job %s got tapes %v", d.JobID, d.Tapes)
			}
			continue
		}
		for _, name := range jv.Disks {
			if !n.ReachesDisk(disks[name]) {
				t.Errorf("job %s placed on %s, which does not reach disk %s", d.JobID, d.Node, name)
			}
		}
		want := uniq(jv.Cartridges)
		if len(d.Tapes) != len(want) {
			t.Errorf("job %s needs cartridges %v, got tapes %v", d.JobID, want, d.Tapes)
			continue
		}
		for i, tp := range d.Tapes {
			b, k := tp.GetBarcode(), driveKey{tp.GetLibrary(), tp.GetDrive()}
			if b != want[i] || tp.GetLibrary() != carts[b].GetLibrary() {
				t.Errorf("job %s: tape %d is %v, want %s of library %s", d.JobID, i, tp, want[i], carts[b].GetLibrary())
			}
			if !n.ReachesDrive(libs[tp.GetLibrary()], tp.GetDrive()) {
				t.Errorf("job %s placed on %s, which does not reach drive %v", d.JobID, d.Node, k)
			}
			if other, ok := drivesGiven[k]; ok {
				t.Errorf("drive %v given to both %s and %s", k, other, d.JobID)
			}
			drivesGiven[k] = d.JobID
			for _, there := range inDrives[k] {
				if there != b {
					t.Errorf("job %s: %s goes in drive %v, which holds %s", d.JobID, b, k, there)
				}
			}
			if other, ok := cartsGiven[b]; ok {
				t.Errorf("cartridge %s given to both %s and %s", b, other, d.JobID)
			}
			cartsGiven[b] = d.JobID
			if carts[b].GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_IMPORT_EXPORT {
				if freeSlots[tp.GetLibrary()]--; freeSlots[tp.GetLibrary()] < 0 {
					t.Errorf("job %s: %s enters library %s, which has no free storage slot left", d.JobID, b, tp.GetLibrary())
				}
			}
			if h, ok := holders[b].other(d.JobID); ok {
				t.Errorf("cartridge %s given to %s while job %s holds it", b, d.JobID, h)
			}
			if !libJobs[tp.GetLibrary()][d.JobID] {
				addTo(libJobs, tp.GetLibrary(), d.JobID)
				if n := len(libJobs[tp.GetLibrary()]); cfg.MaxJobsPerLibrary > 0 && n > cfg.MaxJobsPerLibrary {
					t.Errorf("job %s takes library %s to %d jobs, above the limit of %d", d.JobID, tp.GetLibrary(), n, cfg.MaxJobsPerLibrary)
				}
			}
		}
		for _, other := range active {
			if other.Job.GetId() == d.JobID {
				continue
			}
			if dev, ok := conflict(jv, other); ok {
				t.Errorf("job %s placed while job %s uses %s, one of them writing it", d.JobID, other.Job.GetId(), dev)
			}
		}
		active = append(active, jv)
	}
}

// conflict returns a device one job writes and the other uses.
func conflict(a, b JobView) (string, bool) {
	uses := func(jv JobView, dev string) bool {
		return slices.Contains(jv.Disks, dev) || slices.Contains(jv.Cartridges, dev) || slices.Contains(jv.Writes, dev)
	}
	for _, d := range a.Writes {
		if uses(b, d) {
			return d, true
		}
	}
	for _, d := range b.Writes {
		if uses(a, d) {
			return d, true
		}
	}
	return "", false
}

// BenchmarkPlace plans a large queue: the leader runs Place on every job
// change and every tick, so its cost grows with the backlog.
func BenchmarkPlace(b *testing.B) {
	v := View{Libraries: []*ferryv1.Library{library("lib1", "paris", 8)}}
	for i := range 16 {
		v.Nodes = append(v.Nodes, mover(fmt.Sprintf("n%02d", i), "paris"))
	}
	for i := range 200 {
		v.Disks = append(v.Disks, disk(fmt.Sprintf("d%03d", i), "paris"))
		v.Cartridges = append(v.Cartridges, inSlot(fmt.Sprintf("T%03d", i), "lib1", uint32(i+1)))
	}
	for i := range 10000 {
		jv := JobView{Job: queued(fmt.Sprintf("J%05d", i), uint64(i+1), int32(i%3)), Disks: names(fmt.Sprintf("d%03d", i%200))}
		if i%4 == 0 {
			jv.Cartridges = names(fmt.Sprintf("T%03d", i%200))
			jv.Writes = jv.Cartridges
		}
		v.Jobs = append(v.Jobs, jv)
	}
	b.ReportAllocs()
	for b.Loop() {
		Place(PlaceConfig{}, v)
	}
}
