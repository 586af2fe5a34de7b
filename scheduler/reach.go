package scheduler

import (
	"slices"
	"strconv"
	"strings"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// ReachesDisk reports whether the node reaches the disk. The disk must be
// of the node's site (or of none: a device without a site is on every
// site's fabric) and, when the node lists its reach, named there. A listed
// reach narrows the site's devices; it never adds another site's.
func (n NodeView) ReachesDisk(d *ferryv1.Disk) bool {
	if d == nil || !n.onSite(d.GetSite()) {
		return false
	}
	return len(n.Reach) == 0 || slices.Contains(n.Reach, d.GetName())
}

// ReachesDrive reports whether the node reaches drive (counted from 0) of
// the library. A drive the library does not have is reached by no one.
func (n NodeView) ReachesDrive(lib *ferryv1.Library, drive uint32) bool {
	if lib == nil || drive >= lib.GetDrives() || !n.onSite(lib.GetSite()) {
		return false
	}
	if len(n.Reach) == 0 {
		return true
	}
	for _, e := range n.Reach {
		if e == lib.GetName() {
			return true
		}
		if name, i, ok := parseDriveEntry(e); ok && name == lib.GetName() && i == drive {
			return true
		}
	}
	return false
}

// reachedDrives says which drives of the library the node reaches without
// walking every index, as a library may claim billions of drives: either
// all of them, or the listed ones (ascending, each one the library has).
func (n NodeView) reachedDrives(lib *ferryv1.Library) (all bool, listed []uint32) {
	if lib == nil || lib.GetDrives() == 0 || !n.onSite(lib.GetSite()) {
		return false, nil
	}
	if len(n.Reach) == 0 || slices.Contains(n.Reach, lib.GetName()) {
		return true, nil
	}
	for _, e := range n.Reach {
		if name, i, ok := parseDriveEntry(e); ok && name == lib.GetName() && i < lib.GetDrives() {
			listed = append(listed, i)
		}
	}
	slices.Sort(listed)
	return false, slices.Compact(listed)
}

func (n NodeView) onSite(site string) bool {
	return site == "" || site == n.Site
}

// parseDriveEntry splits a reach entry of the form "LIB/N". The library
// name is what precedes the last slash, so a name may itself hold slashes.
func parseDriveEntry(e string) (lib string, drive uint32, ok bool) {
	i := strings.LastIndexByte(e, '/')
	if i <= 0 {
		return "", 0, false
	}
	d, err := strconv.ParseUint(e[i+1:], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return e[:i], uint32(d), true
}
