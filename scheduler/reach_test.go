package scheduler

import (
	"slices"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestReachesDisk(t *testing.T) {
	db01 := &ferryv1.Disk{Name: "db01", Site: "paris"}
	shared := &ferryv1.Disk{Name: "shared"}
	tests := []struct {
		name string
		node NodeView
		disk *ferryv1.Disk
		want bool
	}{
		{"same site, no reach list", NodeView{Site: "paris"}, db01, true},
		{"other site", NodeView{Site: "lyon"}, db01, false},
		{"node without a site", NodeView{}, db01, false},
		{"disk without a site, any node", NodeView{Site: "lyon"}, shared, true},
		{"listed", NodeView{Site: "paris", Reach: []string{"db02", "db01"}}, db01, true},
		{"not listed", NodeView{Site: "paris", Reach: []string{"db02", "lib1"}}, db01, false},
		{"listed but of another site", NodeView{Site: "lyon", Reach: []string{"db01"}}, db01, false},
		{"listed, disk without a site", NodeView{Site: "lyon", Reach: []string{"shared"}}, shared, true},
		{"nil disk", NodeView{Site: "paris"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.node.ReachesDisk(tt.disk); got != tt.want {
				t.Errorf("%+v.ReachesDisk(%v) = %v, want %v", tt.node, tt.disk, got, tt.want)
			}
		})
	}
}

func TestReachesDrive(t *testing.T) {
	lib1 := &ferryv1.Library{Name: "lib1", Site: "paris", Drives: 4}
	open := &ferryv1.Library{Name: "open", Drives: 2}
	slashed := &ferryv1.Library{Name: "row/3", Site: "paris", Drives: 2}
	tests := []struct {
		name  string
		node  NodeView
		lib   *ferryv1.Library
		drive uint32
		want  bool
	}{
		{"same site, no reach list", NodeView{Site: "paris"}, lib1, 3, true},
		{"drive the library does not have", NodeView{Site: "paris"}, lib1, 4, false},
		{"other site", NodeView{Site: "lyon"}, lib1, 0, false},
		{"library without a site", NodeView{Site: "lyon"}, open, 1, true},
		{"whole library listed", NodeView{Site: "paris", Reach: []string{"lib1"}}, lib1, 2, true},
		{"drive listed", NodeView{Site: "paris", Reach: []string{"lib1/1"}}, lib1, 1, true},
		{"other drive listed", NodeView{Site: "paris", Reach: []string{"lib1/1"}}, lib1, 0, false},
		{"other library listed", NodeView{Site: "paris", Reach: []string{"lib2", "lib2/0"}}, lib1, 0, false},
		{"listed drive beyond the library", NodeView{Site: "paris", Reach: []string{"lib1/9"}}, lib1, 9, false},
		{"listed but of another site", NodeView{Site: "lyon", Reach: []string{"lib1"}}, lib1, 0, false},
		{"malformed entries", NodeView{Site: "paris", Reach: []string{"lib1/", "lib1/x", "/0", "lib1/-1"}}, lib1, 0, false},
		{"library name with a slash", NodeView{Site: "paris", Reach: []string{"row/3/1"}}, slashed, 1, true},
		{"library name with a slash, whole", NodeView{Site: "paris", Reach: []string{"row/3"}}, slashed, 0, true},
		{"nil library", NodeView{Site: "paris"}, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.node.ReachesDrive(tt.lib, tt.drive); got != tt.want {
				t.Errorf("%+v.ReachesDrive(%v, %d) = %v, want %v", tt.node, tt.lib, tt.drive, got, tt.want)
			}
		})
	}
}

// TestReachedDrivesAgreesWithReachesDrive checks the shortcut placement
// uses against the exported, drive-by-drive answer.
func TestReachedDrivesAgreesWithReachesDrive(t *testing.T) {
	libs := []*ferryv1.Library{
		{Name: "lib1", Site: "paris", Drives: 4},
		{Name: "lib2", Drives: 3},
		{Name: "empty", Site: "paris"},
		nil,
	}
	nodes := []NodeView{
		{Site: "paris"},
		{Site: "lyon"},
		{Site: "paris", Reach: []string{"lib1/3", "lib1/1", "lib1/1", "lib1/7", "lib2/0"}},
		{Site: "lyon", Reach: []string{"lib2"}},
		{Site: "paris", Reach: []string{"db01"}},
	}
	for _, n := range nodes {
		for _, lib := range libs {
			all, listed := n.reachedDrives(lib)
			var want []uint32
			for d := range lib.GetDrives() {
				if n.ReachesDrive(lib, d) {
					want = append(want, d)
				}
			}
			var got []uint32
			if all {
				for d := range lib.GetDrives() {
					got = append(got, d)
				}
			} else {
				got = listed
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v.reachedDrives(%s) = %v, %v; ReachesDrive says %v", n, lib.GetName(), all, listed, want)
			}
		}
	}
}
