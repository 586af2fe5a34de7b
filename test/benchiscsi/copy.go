package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ferry-san/ferry/iscsi/initiator"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

const (
	// copyTimeout bounds each of the two copies.
	copyTimeout = 10 * time.Minute
	// segmentBlocks is how many blocks one block→block segment moves: its
	// BLOCK DEVICE NUMBER OF BLOCKS field is 16 bits wide.
	segmentBlocks = 32768
	// chunkBytes is what one READ(16) or WRITE(16) of the initiator copy
	// moves.
	chunkBytes = 1 << 20
	// copyListID is the EXTENDED COPY's LIST IDENTIFIER.
	copyListID = 1
)

// copyResult is the time of the whole-LUN copy both ways.
type copyResult struct {
	bytes         int64
	xcopy, reread time.Duration
}

// timeCopies copies Ferry's src LUN onto dst with EXTENDED COPY, then by
// reading and writing it through the initiator, checking dst's file against
// src's random data after each. The write workloads left dst dirty, so the
// first check shows the EXTENDED COPY moved every byte; dst is zeroed again
// before the initiator copy for the same reason.
func timeCopies(ctx context.Context, f *ferryNode, log *slog.Logger) (copyResult, error) {
	r := copyResult{bytes: int64(f.src.GetSizeBytes())}
	s, err := initiator.Dial(ctx, f.addr, initiatorName, f.iqn)
	if err != nil {
		return r, err
	}
	defer s.Close()
	list, err := copyList(f.src, f.dst)
	if err != nil {
		return r, err
	}
	log.Info("EXTENDED COPY", "bytes", r.bytes, "segments", (r.bytes/blockSize+segmentBlocks-1)/segmentBlocks)
	if r.xcopy, err = timed(ctx, func(ctx context.Context) error {
		cdb := xcopy.ExtendedCopyCDB{ParameterListLength: uint32(len(list))}.Encode()
		res, err := s.Command(ctx, uint64(f.src.GetLun()), cdb, list, 0)
		if err != nil {
			return err
		}
		return checkGood("EXTENDED COPY", res)
	}); err != nil {
		return r, err
	}
	if err := verify(f.dstPath, f.srcSum); err != nil {
		return r, fmt.Errorf("after EXTENDED COPY: %w", err)
	}
	if err := zero(ctx, s, f.dst); err != nil {
		return r, err
	}
	log.Info("READ(16)/WRITE(16) copy", "bytes", r.bytes, "chunk", chunkBytes)
	if r.reread, err = timed(ctx, func(ctx context.Context) error {
		return readWriteCopy(ctx, s, f.src, f.dst)
	}); err != nil {
		return r, err
	}
	if err := verify(f.dstPath, f.srcSum); err != nil {
		return r, fmt.Errorf("after the READ/WRITE copy: %w", err)
	}
	return r, nil
}

func timed(ctx context.Context, f func(context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, copyTimeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	return time.Since(start), err
}

// copyList is an EXTENDED COPY parameter list copying the whole of src
// onto dst in block→block segments.
func copyList(src, dst *ferryv1.Disk) ([]byte, error) {
	var targets []xcopy.TargetDescriptor
	for _, d := range []*ferryv1.Disk{src, dst} {
		naa, err := hex.DecodeString(d.GetNaa())
		if err != nil {
			return nil, fmt.Errorf("NAA of %s: %w", d.GetName(), err)
		}
		targets = append(targets, xcopy.TargetDescriptor{DeviceType: xcopy.DeviceBlock, NAA: naa, BlockLength: d.GetBlockSize()})
	}
	pl := &xcopy.ParameterList{ListID: copyListID, ListIDUsage: xcopy.ListIDHeld, Targets: targets}
	blocks := src.GetSizeBytes() / uint64(src.GetBlockSize())
	for lba := uint64(0); lba < blocks; lba += segmentBlocks {
		n := min(segmentBlocks, blocks-lba)
		pl.Segments = append(pl.Segments, xcopy.Segment{Type: xcopy.BlockToBlock, Src: 0, Dst: 1,
			Blocks: uint32(n), SrcLBA: lba, DstLBA: lba})
	}
	return pl.Encode()
}

// readWriteCopy moves src onto dst through the initiator, chunk by chunk.
func readWriteCopy(ctx context.Context, s *initiator.Session, src, dst *ferryv1.Disk) error {
	per := uint32(chunkBytes / src.GetBlockSize())
	blocks := src.GetSizeBytes() / uint64(src.GetBlockSize())
	for lba := uint64(0); lba < blocks; lba += uint64(per) {
		n := uint32(min(uint64(per), blocks-lba))
		want := n * src.GetBlockSize()
		res, err := s.Command(ctx, uint64(src.GetLun()), rw16(opRead16, lba, n), nil, want)
		if err != nil {
			return err
		}
		if err := checkGood("READ(16)", res); err != nil {
			return err
		}
		if len(res.Data) != int(want) {
			return fmt.Errorf("READ(16) at LBA %d: %d bytes, want %d", lba, len(res.Data), want)
		}
		res, err = s.Command(ctx, uint64(dst.GetLun()), rw16(opWrite16, lba, n), res.Data, 0)
		if err != nil {
			return err
		}
		if err := checkGood("WRITE(16)", res); err != nil {
			return err
		}
	}
	return nil
}

// zero writes zeros over the whole of d through the initiator.
func zero(ctx context.Context, s *initiator.Session, d *ferryv1.Disk) error {
	per := uint32(chunkBytes / d.GetBlockSize())
	blocks := d.GetSizeBytes() / uint64(d.GetBlockSize())
	buf := make([]byte, chunkBytes)
	for lba := uint64(0); lba < blocks; lba += uint64(per) {
		n := uint32(min(uint64(per), blocks-lba))
		res, err := s.Command(ctx, uint64(d.GetLun()), rw16(opWrite16, lba, n), buf[:n*d.GetBlockSize()], 0)
		if err != nil {
			return err
		}
		if err := checkGood("WRITE(16) of zeros", res); err != nil {
			return err
		}
	}
	return nil
}

// verify checks that the file at path has the SHA-256 want.
func verify(path, want string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s has SHA-256 %s, want the source's %s", path, got, want)
	}
	return nil
}
