package fsm

import (
	"fmt"
	"slices"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// endpoint resolves one endpoint of a source → destination spec. ok is
// false when it names no registered device or a device of another kind;
// the device is recorded in the access all the same when it exists.
func (r *resolver) endpoint(field string, ep *ferryv1.Endpoint, write bool) (Device, bool) {
	d, err := r.s.resolveDevice(ep.GetDevice())
	if err != nil {
		r.missing(field+".device", "no registered device "+refText(ep.GetDevice()))
		r.acc.Unresolvable = true
		return Device{}, false
	}
	a := r.device(d)
	if write {
		a.Write = true
		r.writable(field+".device", d)
	} else {
		a.Read = true
	}
	isDisk := d.Disk != nil
	if wantDisk := ep.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK; isDisk != wantDisk {
		kind := "tape"
		if isDisk {
			kind = "disk"
		}
		r.v.add(field+".kind", fmt.Sprintf("%s is a %s", refText(ep.GetDevice()), kind))
		return d, false
	}
	return d, true
}

// endpoints resolves a source → destination spec: see resolveAccess.
func (r *resolver) endpoints(spec *ferryv1.JobSpec) {
	src, dst := spec.GetSource(), spec.GetDestination()
	if pool := DestinationPool(spec); pool != "" {
		r.poolDestination(spec, pool)
		return
	}
	sd, sok := r.endpoint("spec.source", src, false)
	dd, dok := r.endpoint("spec.destination", dst, true)
	if !sok || !dok {
		return
	}
	if sd.Cartridge != nil {
		if len(spec.GetSegments()) > 0 {
			r.v.add("spec.segments", "explicit segments need a disk source")
			return
		}
		if sd.Cartridge == dd.Cartridge {
			r.v.add("spec.destination.device", fmt.Sprintf("cartridge %s is also the source: one drive cannot read and write one cartridge", sd.Cartridge.GetBarcode()))
			return
		}
	}
	if dd.Cartridge != nil {
		if pool := dst.GetPool(); pool != "" && r.s.poolOf[dd.Cartridge.GetBarcode()] != pool {
			r.v.add("spec.destination.device", fmt.Sprintf("cartridge %s is not a member of pool %s", dd.Cartridge.GetBarcode(), pool))
		}
		r.tapeDestination(spec, dd.Cartridge)
	}
	switch {
	case sd.Disk != nil && dd.Disk != nil:
		r.diskToDisk(spec, sd.Disk, dd.Disk)
	case sd.Disk != nil:
		r.diskToTape(spec, sd.Disk)
	case dd.Disk != nil:
		r.tapeToDisk(spec, sd.Cartridge, dd.Disk)
	default:
		r.tapeSource(spec, sd.Cartridge)
	}
}

// poolDestination checks a copy to a pool whose cartridge is not chosen
// yet: the pool exists and the source reads as for any copy to tape. What
// it writes is known once the placement binds a cartridge (bindPool), which
// checks the spec again against it. A pool none of whose members can take
// the copy now is no error: the job waits for one.
func (r *resolver) poolDestination(spec *ferryv1.JobSpec, pool string) {
	r.acc.Pool = pool
	if _, ok := r.s.pools[pool]; !ok {
		r.v.add("spec.destination.pool", fmt.Sprintf("no pool named %q (ferry pool list)", pool))
	}
	sd, ok := r.endpoint("spec.source", spec.GetSource(), false)
	switch {
	case !ok:
	case sd.Disk != nil:
		r.diskToTape(spec, sd.Disk)
	case spec.GetSource().TapeFile == nil:
		r.v.add("spec.source.tape_file", "required with a pool destination: a copy to a pool appends one file")
	default:
		r.tapeSource(spec, sd.Cartridge)
	}
}

// diskRange is the byte range an endpoint names on a disk: from its LBA,
// its block count or (0) to the end of the LUN.
func (r *resolver) diskRange(field string, d *ferryv1.Disk, ep *ferryv1.Endpoint) (ByteRange, bool) {
	bs, total := uint64(d.GetBlockSize()), diskBlocks(d)
	lba, blocks := ep.GetLba(), ep.GetBlocks()
	if lba > total {
		r.v.add(field+".lba", fmt.Sprintf("LBA %d is past the end of disk %s (%d blocks of %d bytes)", lba, d.GetName(), total, bs))
		return ByteRange{}, false
	}
	if blocks == 0 {
		blocks = total - lba
	}
	if blocks > total-lba {
		r.v.add(field+".blocks", fmt.Sprintf("LBA %d + %d blocks is past the end of disk %s (%d blocks of %d bytes)", lba, blocks, d.GetName(), total, bs))
		return ByteRange{}, false
	}
	if blocks == 0 && field == "spec.source" {
		// The mover has no zero-length copy: it would fail when it ran.
		r.v.add(field+".lba", fmt.Sprintf("LBA %d is the end of disk %s (%d blocks): nothing to copy", lba, d.GetName(), total))
		return ByteRange{}, false
	}
	// lba+blocks ≤ total, so neither product can exceed the disk's size.
	return ByteRange{Offset: lba * bs, Length: blocks * bs}, true
}

// extent is one piece of a copy: Length bytes from SrcOff of the source
// range to DstOff of the destination range; field names it in messages.
type extent struct {
	field                string
	srcOff, dstOff, size uint64
}

// extents are the spec's explicit segments, or one extent covering the
// whole source range. A segment outside the source range is refused.
func (r *resolver) extents(spec *ferryv1.JobSpec, src ByteRange) []extent {
	segs := spec.GetSegments()
	if len(segs) == 0 {
		return []extent{{field: "spec.source", size: src.Length}}
	}
	out := make([]extent, 0, len(segs))
	for i, sg := range segs {
		e := extent{field: fmt.Sprintf("spec.segments[%d]", i), srcOff: sg.GetSourceOffset(), dstOff: sg.GetDestinationOffset(), size: sg.GetLength()}
		// ValidateSpec has made sure offset+length does not wrap.
		if e.srcOff+e.size > src.Length {
			r.v.add(e.field+".source_offset", fmt.Sprintf("bytes %d+%d are past the end of the source range (%d bytes)", e.srcOff, e.size, src.Length))
			continue
		}
		out = append(out, e)
	}
	return out
}

// diskToDisk checks the ranges of a disk → disk copy: they lie on their
// disks, the destination takes whole blocks, and on one disk no byte read
// is written.
func (r *resolver) diskToDisk(spec *ferryv1.JobSpec, s, d *ferryv1.Disk) {
	sr, sok := r.diskRange("spec.source", s, spec.GetSource())
	dr, dok := r.diskRange("spec.destination", d, spec.GetDestination())
	if !sok || !dok {
		return
	}
	dbs := uint64(d.GetBlockSize())
	var reads, writes []ByteRange
	var fields []string
	for _, e := range r.extents(spec, sr) {
		switch {
		case e.field == "spec.source" && e.size > dr.Length:
			r.v.add("spec.destination.blocks", fmt.Sprintf("%d bytes from the source do not fit in the destination range (%d bytes)", e.size, dr.Length))
			continue
		case e.dstOff+e.size > dr.Length:
			r.v.add(e.field+".destination_offset", fmt.Sprintf("bytes %d+%d are past the end of the destination range (%d bytes)", e.dstOff, e.size, dr.Length))
			continue
		case e.dstOff%dbs != 0:
			r.v.add(e.field+".destination_offset", fmt.Sprintf("%d is not a multiple of disk %s's %d-byte blocks: a copy to a disk writes whole blocks", e.dstOff, d.GetName(), dbs))
			continue
		case e.size%dbs != 0:
			lenField := e.field + ".length"
			if e.field == "spec.source" {
				lenField = "spec.source.blocks"
			}
			r.v.add(lenField, fmt.Sprintf("%d bytes is not a whole number of disk %s's %d-byte blocks: a copy to a disk writes whole blocks", e.size, d.GetName(), dbs))
			continue
		}
		reads = append(reads, ByteRange{Offset: sr.Offset + e.srcOff, Length: e.size})
		writes = append(writes, ByteRange{Offset: dr.Offset + e.dstOff, Length: e.size})
		fields = append(fields, e.field)
	}
	sa, da := r.device(Device{Disk: s}), r.device(Device{Disk: d})
	sa.Reads = append(sa.Reads, reads...)
	da.Writes = append(da.Writes, writes...)
	if s != d {
		return
	}
	// One disk: REFUSE, not memmove (see resolveAccess). Any read range
	// against any write range, since segments may cross each other.
	for i, w := range writes {
		for _, rd := range reads {
			if w.Overlaps(rd) {
				field := "spec.destination.lba"
				if fields[i] != "spec.source" {
					field = fields[i] + ".destination_offset"
				}
				r.v.add(field, fmt.Sprintf("writes %s of disk %s, which overlap %s it reads: Ferry refuses overlapping copies on one disk", w, s.GetName(), rd))
				break
			}
		}
	}
}

// diskToTape checks a disk → tape copy: the source ranges lie on the disk,
// and a tape is written in order, so segments cannot place their bytes.
func (r *resolver) diskToTape(spec *ferryv1.JobSpec, s *ferryv1.Disk) {
	sr, ok := r.diskRange("spec.source", s, spec.GetSource())
	if !ok {
		return
	}
	a := r.device(Device{Disk: s})
	for _, e := range r.extents(spec, sr) {
		if e.dstOff != 0 {
			r.v.add(e.field+".destination_offset", "must be 0: a tape destination is written in order, segment after segment")
			continue
		}
		a.Reads = append(a.Reads, ByteRange{Offset: sr.Offset + e.srcOff, Length: e.size})
	}
}

// tapeToDisk checks a tape → disk copy: which file it reads, and that the
// file, as the cartridge's catalog records it, fits in the destination
// range. The copy writes whole blocks: a file that ends inside a block has
// the rest of that block written with zeros, so what it writes is the file
// rounded up to the disk's blocks.
func (r *resolver) tapeToDisk(spec *ferryv1.JobSpec, c *ferryv1.Cartridge, d *ferryv1.Disk) {
	file, ok := r.tapeSource(spec, c)
	dr, dok := r.diskRange("spec.destination", d, spec.GetDestination())
	if !ok || !dok {
		return
	}
	bs := uint64(d.GetBlockSize())
	n := file.GetBytes()
	if n > dr.Length || (n%bs != 0 && n/bs*bs+bs > dr.Length) {
		r.v.add("spec.destination.blocks", fmt.Sprintf("tape file %d of cartridge %s holds %d bytes, more than the destination range (%d bytes)", file.GetNumber(), c.GetBarcode(), n, dr.Length))
		return
	}
	if n%bs != 0 {
		n = n/bs*bs + bs
	}
	a := r.device(Device{Disk: d})
	a.Writes = append(a.Writes, ByteRange{Offset: dr.Offset, Length: n})
}

// tapeSource records which file of a source cartridge a copy reads: the
// one named, for a copy to disk file 1 when none is, and for a copy to tape
// every file after the label. It refuses a file the cartridge's catalog
// does not hold (the label, a file at end of data or past it) and an image
// copy of a cartridge that holds nothing but its label. file is the one
// file read, when ok and there is one.
func (r *resolver) tapeSource(spec *ferryv1.JobSpec, c *ferryv1.Cartridge) (file *ferryv1.TapeFile, ok bool) {
	src := spec.GetSource()
	a := r.device(Device{Cartridge: c})
	switch {
	case src.TapeFile != nil:
		n := src.GetTapeFile()
		a.ReadFile = &n
	case spec.GetDestination().GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK:
		n := uint32(1)
		a.ReadFile = &n
	}
	held := len(c.GetFiles())
	switch {
	case a.ReadFile == nil && held == 0:
		r.v.add("spec.source", fmt.Sprintf("cartridge %s holds nothing but its label: no files to copy", c.GetBarcode()))
		return nil, false
	case a.ReadFile == nil:
		return nil, true
	case *a.ReadFile == 0:
		r.v.add("spec.source.tape_file", "tape file 0 is the label; data files count from 1")
		return nil, false
	}
	n := *a.ReadFile
	if i := slices.IndexFunc(c.GetFiles(), func(f *ferryv1.TapeFile) bool { return f.GetNumber() == n }); i >= 0 {
		a.ReadsIncomplete = c.GetFiles()[i].GetIncomplete()
		return c.GetFiles()[i], true
	}
	where := "past end of data"
	if int64(n) == int64(held)+1 {
		where = "at end of data"
	}
	r.v.add("spec.source.tape_file", fmt.Sprintf("tape file %d of cartridge %s does not exist: it is %s (the cartridge holds %s)", n, c.GetBarcode(), where, filesText(held)))
	return nil, false
}

// tapeDestination records where a copy starts writing a cartridge: the
// file named; for an image copy (a tape source without a file number)
// file 1; else a new file at end of data. Writing from file N replaces N
// and every file after it: refused unless the spec says to overwrite, and
// then it must start no further than end of data.
func (r *resolver) tapeDestination(spec *ferryv1.JobSpec, c *ferryv1.Cartridge) {
	dst := spec.GetDestination()
	a := r.device(Device{Cartridge: c})
	field := "spec.destination.tape_file"
	switch {
	case dst.TapeFile != nil:
		n := dst.GetTapeFile()
		a.WriteFile = &n
	case spec.GetSource().GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE && spec.GetSource().TapeFile == nil:
		n := uint32(1)
		a.WriteFile = &n
		field = "spec.destination"
	default:
		return // a new file at end of data replaces nothing
	}
	n, held := uint64(*a.WriteFile), uint64(len(c.GetFiles()))
	switch {
	case n == 0:
		r.v.add(field, "tape file 0 is the label; data files count from 1")
	case n > held+1:
		r.v.add(field, fmt.Sprintf("tape file %d of cartridge %s is past end of data (the cartridge holds %s): a copy starts at most at end of data, file %d", n, c.GetBarcode(), filesText(int(held)), held+1))
	case n <= held && !spec.GetOptions().GetOverwrite():
		r.v.add(field, fmt.Sprintf("the copy would replace %s of cartridge %s (files %d–%d): set options.overwrite (ferry copy --overwrite) to replace them",
			filesText(int(held-n+1)), c.GetBarcode(), n, held))
	case n <= held:
		a.Replaces = int(held - n + 1)
	}
}

// filesText is "1 file", "3 files", "no files".
func filesText(n int) string {
	switch n {
	case 0:
		return "no files"
	case 1:
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
