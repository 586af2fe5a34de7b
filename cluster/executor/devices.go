package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// hashChunk is how much of a disk Hash reads at a time.
const hashChunk = 4 << 20

// OpenDisk opens a registered disk LUN. Its file must be the size
// registered, which every copy's ranges were checked against: a file
// truncated since would make a copy "to the end of the LUN" move what is
// left of it and succeed, one grown would let it move more. A thin disk
// is opened thin: its file system is probed for holes (disk.Options.Thin).
func OpenDisk(d *ferryv1.Disk, readOnly bool) (*disk.LUN, error) {
	lun, err := disk.Open(d.GetPath(), disk.Options{BlockSize: d.GetBlockSize(), ReadOnly: readOnly || d.GetReadOnly(), Thin: d.GetThin()})
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", d.GetName(), err)
	}
	if got, want := lun.Size(), d.GetSizeBytes(); d.GetSizeBytes() != 0 && uint64(got) != want {
		return nil, errors.Join(fmt.Errorf("disk %s: %w: %s is %d bytes, not the %d registered: it was truncated or grown since (remove the disk and add it again)",
			d.GetName(), ErrOtherImage, d.GetPath(), got, want), lun.Close())
	}
	return lun, nil
}

// OpenCartridge opens a registered cartridge's image as if loaded in a drive.
// A tail damaged by a crash mid-write (a record cut short by kill -9 during
// an append) is end of data: a reader reads every complete object before
// it, and a writer cuts it off with its first write (a resumed copy
// overwrites it anyway). Checking an image strictly is for importing it.
func OpenCartridge(c *ferryv1.Cartridge, readOnly bool) (*tape.Cartridge, error) {
	t, err := tape.Open(c.GetPath(), tape.Options{
		Capacity: int64(c.GetCapacityBytes()),
		ReadOnly: readOnly || c.GetWriteProtected(),
		Recover:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("cartridge %s: %w", c.GetBarcode(), err)
	}
	if err := checkLabel(t, c); err != nil {
		return nil, errors.Join(fmt.Errorf("cartridge %s: %w", c.GetBarcode(), err), t.Close())
	}
	return t, nil
}

// ErrOtherImage: a registered device's file is not the one registered (a
// cartridge image labelled for another volume, a disk of another size).
var ErrOtherImage = errors.New("not the device's own file")

// checkLabel makes sure the image is the cartridge's own: its VOL1 label
// names the cartridge's volume. An image replaced by another cartridge's (a
// file copied over it, a backup of the wrong volume restored) would give
// that cartridge's files as this one's. The tape is left rewound.
func checkLabel(t *tape.Cartridge, c *ferryv1.Cartridge) error {
	want, err := tape.VolumeID(c.GetBarcode())
	if err != nil {
		return err
	}
	want = strings.TrimRight(want, " ") // as ReadLabel gives it
	l, err := tape.ReadLabel(t)
	if err == nil && l.VolumeID != want {
		err = fmt.Errorf("%w: %s is labelled for volume %q, not %q (import it as that cartridge, or erase this one)",
			ErrOtherImage, c.GetPath(), l.VolumeID, want)
	}
	return errors.Join(err, t.Rewind())
}

// PositionAtFile puts the tape at the start of tape file n (file 0 is the
// label). A file to read must exist: spacing onto end of data is not a
// file, so n at end of data is refused like n past it. atEnd allows n to
// be the file at end of data, where the next new file would go: a
// destination written from file n on, or everything after the label.
func PositionAtFile(t *tape.Cartridge, n uint32, atEnd bool) error {
	if err := t.Rewind(); err != nil {
		return err
	}
	err := t.Space(tape.SpaceFilemarks, int64(n))
	if err != nil && !errors.Is(err, tape.ErrEndOfData) {
		return err
	}
	pos, perr := t.ReadPosition()
	if perr != nil {
		return perr
	}
	if err != nil || (pos.EOD && !atEnd) {
		files := countFiles(t)
		return fmt.Errorf("tape file %d does not exist: the cartridge holds %d (files 0 to %d): %w", n, files, int64(files)-1, tape.ErrEndOfData)
	}
	return nil
}

// countFiles is how many files a cartridge holds: one per filemark, and an
// unterminated last one. It leaves the tape at end of data.
func countFiles(t *tape.Cartridge) uint64 {
	if err := t.Space(tape.SpaceEndOfData, 0); err != nil {
		return 0
	}
	pos, err := t.ReadPosition()
	if err != nil || pos.ObjectID == 0 {
		return 0
	}
	n := pos.File
	if err := t.Space(tape.SpaceRecords, -1); err == nil {
		n++ // a record, not a filemark, ends the tape
	}
	_ = t.Space(tape.SpaceEndOfData, 0)
	return n
}

// Hash reads the endpoint's bytes and returns their SHA-256: a disk range, one
// tape file, or (no tape file given) every data record after the label.
func Hash(ctx context.Context, reg *fsm.FSM, ep *ferryv1.Endpoint) (*ferryv1.HashResponse, error) {
	dev, err := reg.ResolveDevice(ep.GetDevice())
	if err != nil {
		return nil, err
	}
	switch {
	case dev.Disk != nil:
		if ep.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE {
			return nil, fmt.Errorf("%w: %s is a disk, not a tape", fsm.ErrInvalid, dev.Disk.GetName())
		}
		return hashDisk(ctx, dev.Disk, ep)
	case dev.Cartridge != nil:
		if ep.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK {
			return nil, fmt.Errorf("%w: %s is a tape, not a disk", fsm.ErrInvalid, dev.Cartridge.GetBarcode())
		}
		return hashTape(ctx, dev.Cartridge, ep)
	}
	return nil, fmt.Errorf("%w: device", fsm.ErrNotFound)
}

func hashDisk(ctx context.Context, d *ferryv1.Disk, ep *ferryv1.Endpoint) (*ferryv1.HashResponse, error) {
	lun, err := OpenDisk(d, true)
	if err != nil {
		return nil, err
	}
	defer lun.Close()
	off, length, err := DiskRange(lun, ep)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	buf := make([]byte, min(hashChunk, max(length, 1)))
	for done := int64(0); done < length; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(int64(len(buf)), length-done)
		if _, err := lun.ReadAt(buf[:n], off+done); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("disk %s: %w", d.GetName(), err)
		}
		h.Write(buf[:n])
		done += n
	}
	return &ferryv1.HashResponse{Sha256: hex.EncodeToString(h.Sum(nil)), Bytes: uint64(length)}, nil
}

// outOfRange is the sense of a range that leaves the LUN, with the first
// LBA outside it as the INFORMATION.
func outOfRange(lba uint64) *sense.Sense {
	return sense.New(sense.IllegalRequest, sense.LBAOutOfRange).WithInformation(lba)
}

// DiskRange turns an endpoint's LBA and block count into a byte range of the
// LUN, checking it lies inside.
func DiskRange(lun *disk.LUN, ep *ferryv1.Endpoint) (off, length int64, err error) {
	bs := uint64(lun.BlockSize())
	blocks := ep.GetBlocks()
	if ep.GetLba() > lun.Blocks() {
		return 0, 0, fmt.Errorf("%w: %w: LBA %d is past the end of %s (%d blocks)", outOfRange(ep.GetLba()), disk.ErrOutOfRange, ep.GetLba(), lun.Path(), lun.Blocks())
	}
	if blocks == 0 {
		blocks = lun.Blocks() - ep.GetLba()
	}
	if ep.GetLba()+blocks > lun.Blocks() || ep.GetLba()+blocks < ep.GetLba() {
		return 0, 0, fmt.Errorf("%w: %w: LBA %d + %d blocks is past the end of %s (%d blocks)", outOfRange(lun.Blocks()), disk.ErrOutOfRange, ep.GetLba(), blocks, lun.Path(), lun.Blocks())
	}
	return int64(ep.GetLba() * bs), int64(blocks * bs), nil
}

func hashTape(ctx context.Context, c *ferryv1.Cartridge, ep *ferryv1.Endpoint) (*ferryv1.HashResponse, error) {
	h := sha256.New()
	resp := &ferryv1.HashResponse{}
	if err := hashTapeInto(ctx, c, ep, h, resp); err != nil {
		return nil, err
	}
	resp.Sha256 = hex.EncodeToString(h.Sum(nil))
	return resp, nil
}

// hashTapeInto feeds the endpoint's tape file (or every data file) to h,
// counting bytes and records in resp.
func hashTapeInto(ctx context.Context, c *ferryv1.Cartridge, ep *ferryv1.Endpoint, h hash.Hash, resp *ferryv1.HashResponse) error {
	t, err := OpenCartridge(c, true)
	if err != nil {
		return err
	}
	defer t.Close()
	oneFile := ep.TapeFile != nil
	file := uint32(1)
	if oneFile {
		file = ep.GetTapeFile()
	}
	if err := PositionAtFile(t, file, !oneFile); err != nil {
		return fmt.Errorf("cartridge %s: %w", c.GetBarcode(), err)
	}
	buf := make([]byte, tape.MaxRecordSize)
	for {
		n, records, atMark, err := ReadTapeFile(ctx, t, buf, h)
		if err != nil {
			return fmt.Errorf("cartridge %s: %w", c.GetBarcode(), err)
		}
		resp.Bytes += n
		resp.Records += records
		if !atMark || oneFile {
			return nil
		}
	}
}

// HashParts hashes tape files one after the other as one stream of bytes:
// the volumes of a copy that spanned cartridges, in order, give the
// SHA-256 of what the copy read. Each part names a cartridge and its file.
func HashParts(ctx context.Context, reg *fsm.FSM, parts []*ferryv1.Endpoint) (*ferryv1.HashResponse, error) {
	h := sha256.New()
	resp := &ferryv1.HashResponse{}
	for i, ep := range parts {
		if ep.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_TAPE || ep.TapeFile == nil {
			return nil, fmt.Errorf("%w: parts[%d]: a part is one tape file (tape:BARCODE#FILE)", fsm.ErrInvalid, i)
		}
		dev, err := reg.ResolveDevice(ep.GetDevice())
		if err != nil {
			return nil, fmt.Errorf("parts[%d]: %w", i, err)
		}
		if dev.Cartridge == nil {
			return nil, fmt.Errorf("%w: parts[%d] names a disk, not a cartridge", fsm.ErrInvalid, i)
		}
		if err := hashTapeInto(ctx, dev.Cartridge, ep, h, resp); err != nil {
			return nil, err
		}
	}
	resp.Sha256 = hex.EncodeToString(h.Sum(nil))
	return resp, nil
}

// VolumeParts are the tape files of a copy's volumes, in order, as
// HashParts and a restore read them.
func VolumeParts(vols []*ferryv1.TapeVolume) []*ferryv1.Endpoint {
	out := make([]*ferryv1.Endpoint, 0, len(vols))
	for _, v := range vols {
		out = append(out, fsm.VolumeEndpoint(v))
	}
	return out
}
