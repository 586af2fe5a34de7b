package tape

import (
	"errors"
	"fmt"
	"strings"
)

// LabelSize is the length of an ANSI label record.
const LabelSize = 80

// labelStandardVersion is the VOL1 label-standard-version field for ANSI
// X3.27-1987 (ISO 1001:1986).
const labelStandardVersion = '4'

// ImplementationID is what Ferry records in the VOL1 implementation
// identifier field.
const ImplementationID = "FERRY"

// Label is the content of an ANSI X3.27 VOL1 volume label.
type Label struct {
	// VolumeID is the volume serial: the first six characters of the
	// cartridge barcode.
	VolumeID string
	// Accessibility is the volume accessibility character; space means
	// unrestricted.
	Accessibility byte
	// ImplementationID names the system that wrote the label.
	ImplementationID string
	// OwnerID names the owner of the volume.
	OwnerID string
	// Version is the label standard version.
	Version byte
}

// blockSizer lets the label code switch a drive to variable mode: labels
// are 80-byte records whatever block size the data files use.
type blockSizer interface {
	BlockSize() uint32
	SetBlockSize(n uint32) error
}

// LabelWriter is what WriteLabel needs of a drive.
type LabelWriter interface {
	blockSizer
	Rewind() error
	WriteRecord(p []byte) (bool, error)
	WriteFilemarks(n int) (bool, error)
}

// LabelReader is what ReadLabel needs of a drive.
type LabelReader interface {
	blockSizer
	Rewind() error
	ReadRecord(p []byte) (int, error)
}

// WriteLabel labels the tape for barcode: from the beginning of medium,
// discarding everything on it, it writes an 80-byte VOL1 record and one
// filemark. The label is tape file 0; data files count from 1 and the
// drive is left at the start of file 1.
//
// Only VOL1 is written, not HDR1/EOF1: those describe a labelled data file
// and Ferry's data files are unlabelled, which a lone VOL1 does not claim
// otherwise.
func WriteLabel(d LabelWriter, barcode string) (err error) {
	rec, err := encodeVOL1(barcode)
	if err != nil {
		return err
	}
	restore, err := variableMode(d)
	if err != nil {
		return fmt.Errorf("tape: label %s: %w", barcode, err)
	}
	defer func() { err = errors.Join(err, restore()) }()
	if err := d.Rewind(); err != nil {
		return fmt.Errorf("tape: label %s: %w", barcode, err)
	}
	if _, err := d.WriteRecord(rec); err != nil {
		return fmt.Errorf("tape: label %s: %w", barcode, err)
	}
	if _, err := d.WriteFilemarks(1); err != nil {
		return fmt.Errorf("tape: label %s: %w", barcode, err)
	}
	return nil
}

// ReadLabel rewinds, reads the VOL1 label of tape file 0 and leaves the
// drive at the start of file 1. A tape whose first file is not a VOL1
// record followed by a filemark gives ErrNotLabeled.
func ReadLabel(d LabelReader) (_ Label, err error) {
	restore, err := variableMode(d)
	if err != nil {
		return Label{}, fmt.Errorf("tape: read label: %w", err)
	}
	defer func() { err = errors.Join(err, restore()) }()
	if err := d.Rewind(); err != nil {
		return Label{}, fmt.Errorf("tape: read label: %w", err)
	}
	// One byte more than a label, so a longer first record shows.
	buf := make([]byte, LabelSize+1)
	n, err := d.ReadRecord(buf)
	switch {
	case errors.Is(err, ErrFilemark) || errors.Is(err, ErrEndOfData):
		return Label{}, fmt.Errorf("%w: tape file 0 holds no record", ErrNotLabeled)
	case errors.Is(err, ErrIncorrectLength):
		return Label{}, fmt.Errorf("%w: the first record is not %d bytes", ErrNotLabeled, LabelSize)
	case err != nil:
		return Label{}, fmt.Errorf("tape: read label: %w", err)
	case n != LabelSize:
		return Label{}, fmt.Errorf("%w: the first record is %d bytes, not %d", ErrNotLabeled, n, LabelSize)
	}
	l, err := decodeVOL1(buf[:n])
	if err != nil {
		return Label{}, err
	}
	if _, err := d.ReadRecord(buf); !errors.Is(err, ErrFilemark) {
		if err == nil || errors.Is(err, ErrIncorrectLength) {
			return Label{}, fmt.Errorf("%w: the VOL1 record is not followed by a filemark", ErrNotLabeled)
		}
		return Label{}, fmt.Errorf("tape: read label: %w", err)
	}
	return l, nil
}

// variableMode switches d to variable mode and returns what restores its
// block size.
func variableMode(d blockSizer) (restore func() error, err error) {
	old := d.BlockSize()
	if old == 0 {
		return func() error { return nil }, nil
	}
	if err := d.SetBlockSize(0); err != nil {
		return nil, err
	}
	return func() error { return d.SetBlockSize(old) }, nil
}

// VolumeID is the VOL1 volume identifier for a barcode: its first six
// characters, which must be ANSI "a" characters (upper-case letters, digits
// and a few symbols), padded with spaces when shorter.
func VolumeID(barcode string) (string, error) {
	if barcode == "" {
		return "", fmt.Errorf("%w: empty barcode", ErrInvalidArgument)
	}
	id := barcode[:min(6, len(barcode))]
	for i := 0; i < len(id); i++ {
		if !isACharacter(id[i]) || id[i] == ' ' {
			return "", fmt.Errorf("%w: barcode %q: %q is not allowed in a volume identifier", ErrInvalidArgument, barcode, id[i])
		}
	}
	return fmt.Sprintf("%-6s", id), nil
}

// isACharacter reports an ANSI X3.27 "a" character.
func isACharacter(b byte) bool {
	return 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(" !\"%&'()*+,-./:;<=>?_", b) >= 0
}

func encodeVOL1(barcode string) ([]byte, error) {
	id, err := VolumeID(barcode)
	if err != nil {
		return nil, err
	}
	rec := []byte(strings.Repeat(" ", LabelSize))
	copy(rec[0:4], "VOL1")
	copy(rec[4:10], id)
	// rec[10], accessibility: space, unrestricted; 11..23 reserved.
	copy(rec[24:37], ImplementationID)
	// 37..50 owner identifier: none; 51..78 reserved.
	rec[79] = labelStandardVersion
	return rec, nil
}

func decodeVOL1(rec []byte) (Label, error) {
	if string(rec[0:4]) != "VOL1" {
		return Label{}, fmt.Errorf("%w: the first record starts with %q, not \"VOL1\"", ErrNotLabeled, rec[0:4])
	}
	for i, b := range rec {
		if !isACharacter(b) {
			return Label{}, fmt.Errorf("%w: VOL1 byte %d (%#02x) is not an ANSI \"a\" character", ErrNotLabeled, i, b)
		}
	}
	return Label{
		VolumeID:         strings.TrimRight(string(rec[4:10]), " "),
		Accessibility:    rec[10],
		ImplementationID: strings.TrimRight(string(rec[24:37]), " "),
		OwnerID:          strings.TrimRight(string(rec[37:51]), " "),
		Version:          rec[79],
	}, nil
}
