package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/executor"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
	"github.com/ferry-san/ferry/storage/tape"
)

// defaultGeneration is the media suffix of an imported cartridge's barcode
// when its file name does not carry one: a VOL1 label records only the six
// characters of the volume serial, and Ferry's cartridges are LTO-9.
const defaultGeneration = "L9"

// ImportTape registers an existing SIMH cartridge image, in place, into an
// empty slot: a cartridge written by another cluster, or by this one before
// its state was lost. The image must be whole (a damaged one is refused
// with the offset of the damage) and labelled; its files are read for the
// catalog. Its fence, if another cluster's, is taken over only with
// take_over. The image is never written, so a refused import leaves it as
// it was.
func (s *DeviceServer) ImportTape(ctx context.Context, req *ferryv1.ImportTapeRequest) (*ferryv1.Cartridge, error) {
	var bad []fsm.FieldViolation
	if !filepath.IsAbs(req.GetPath()) {
		bad = append(bad, fsm.FieldViolation{Field: "path", Description: "must be an absolute path"})
	}
	lib, err := s.librarySlot(ctx, req.GetLibrary(), req.GetSlot(), bad)
	if err != nil {
		return nil, err
	}
	path, id, err := identify(req.GetPath())
	if err != nil {
		return nil, fileError("path", err)
	}
	if err := checkPath(s.paths, "path", path); err != nil {
		return nil, err
	}
	if err := s.reachedByPath(id); err != nil {
		return nil, err
	}
	img, err := readImage(ctx, path)
	if err != nil {
		return nil, err
	}
	takeOver, err := s.adoptFence(ctx, path, req.GetTakeOver(), "'ferry tape import --take-over'")
	if err != nil {
		return nil, err
	}
	c := &ferryv1.Cartridge{
		Barcode: img.barcode, Library: lib.GetName(), Naa: newNAA(), Path: path,
		Location: &ferryv1.Element{Kind: ferryv1.ElementKind_ELEMENT_KIND_SLOT, Index: req.GetSlot()},
		// A cartridge from a library with larger cartridges keeps what
		// it holds.
		CapacityBytes: max(lib.GetCartridgeCapacityBytes(), uint64(img.used)),
		HomeSlot:      req.GetSlot(), Identity: id, Files: img.files, UsedBytes: uint64(img.used),
	}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_AddCartridge{AddCartridge: &ferryv1.AddCartridgeOp{Cartridge: c}}})
	if err != nil {
		return nil, err
	}
	if takeOver != nil {
		if err := takeOver(ctx); err != nil {
			return nil, err
		}
	}
	return res.Cartridge, nil
}

// image is what an import learns from a cartridge image.
type image struct {
	barcode string
	files   []*ferryv1.TapeFile
	used    int64
}

// readImage checks a cartridge image and reads its label and catalog,
// read-only.
func readImage(ctx context.Context, path string) (image, error) {
	t, err := tape.Open(path, tape.Options{ReadOnly: true})
	switch {
	case errors.Is(err, tape.ErrCorrupt):
		return image{}, imageError(path, err)
	case errors.Is(err, tape.ErrInvalidArgument):
		return image{}, invalid(fsm.FieldViolation{Field: "path", Description: err.Error()})
	case err != nil:
		return image{}, fileError("path", err)
	}
	defer t.Close()
	label, err := tape.ReadLabel(t)
	if errors.Is(err, tape.ErrNotLabeled) {
		return image{}, invalid(fsm.FieldViolation{Field: "path", Description: fmt.Sprintf("%s has no VOL1 label (%v): label it, or import only Ferry's cartridges", path, err)})
	}
	if err != nil {
		return image{}, imageError(path, err)
	}
	barcode, err := importBarcode(path, label)
	if err != nil {
		return image{}, err
	}
	files, err := catalog(ctx, t)
	if err != nil {
		return image{}, imageError(path, err)
	}
	return image{barcode: barcode, files: files, used: t.Used()}, nil
}

// importBarcode is the barcode of an imported cartridge: its file's name
// (Ferry names images BARCODE.tap) when that is a barcode of the label's
// volume serial, or else the serial with the default media suffix.
func importBarcode(path string, label tape.Label) (string, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".tap")
	if library.ValidBarcode(name) == nil {
		if name[:6] != label.VolumeID {
			return "", invalid(fsm.FieldViolation{Field: "path", Description: fmt.Sprintf(
				"%s is named for barcode %s, but its VOL1 label is of volume %q", path, name, label.VolumeID)})
		}
		return name, nil
	}
	barcode := label.VolumeID + defaultGeneration
	if err := library.ValidBarcode(barcode); err != nil {
		return "", invalid(fsm.FieldViolation{Field: "path", Description: fmt.Sprintf("the VOL1 label's volume %q makes no barcode: %v", label.VolumeID, err)})
	}
	return barcode, nil
}

// catalog reads every data file from the position (the start of file 1)
// to end of data: its records, bytes and the SHA-256 of its data. A file
// is ended by its filemark; records after the last filemark make a last
// file marked incomplete, as no writer closed it.
func catalog(ctx context.Context, t *tape.Cartridge) ([]*ferryv1.TapeFile, error) {
	var files []*ferryv1.TapeFile
	buf := make([]byte, tape.MaxRecordSize)
	for number := uint32(1); ; number++ {
		if number > fsm.MaxTapeFiles {
			return files, nil // a catalog lists the first ones (see fsm.MaxTapeFiles)
		}
		h := sha256.New()
		n, records, atMark, err := executor.ReadTapeFile(ctx, t, buf, h)
		if err != nil {
			return nil, fmt.Errorf("file %d, %w", number, err)
		}
		if !atMark && records == 0 {
			return files, nil
		}
		files = append(files, &ferryv1.TapeFile{Number: number, Bytes: n, Records: records,
			Sha256: hex.EncodeToString(h.Sum(nil)), Incomplete: !atMark})
		if !atMark {
			return files, nil
		}
	}
}

// imageError reports an image that cannot be read through.
func imageError(path string, err error) error {
	var damaged *tape.CorruptError
	if errors.As(err, &damaged) {
		return invalid(fsm.FieldViolation{Field: "path", Description: fmt.Sprintf(
			"%s is not a valid SIMH tape image: damaged at byte offset %d (%s)", path, damaged.Offset, damaged.Reason)})
	}
	return status.Errorf(codes.FailedPrecondition, "path: %s: %v", path, err)
}
