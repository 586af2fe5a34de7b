package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// endpointGrammar is quoted in every endpoint syntax error, so the user sees
// what would have been accepted.
const endpointGrammar = "disk:NAME[@LBA[+BLOCKS]], tape:BARCODE[#FILE] or tape:pool:POOL (NAME or BARCODE may be naa.<hex designator>)"

// poolPrefix marks a tape destination that names a pool: a barcode never
// holds a colon, so "pool:" cannot be the start of one.
const poolPrefix = "pool:"

// naaPrefix marks a device named by its NAA designator instead of its name.
const naaPrefix = "naa."

// parseEndpoint reads one side of a copy:
//
//	disk:NAME[@LBA[+BLOCKS]]   blocks from LBA (default 0) to the end, or BLOCKS of them
//	tape:BARCODE[#FILE]        one tape file, or (without #FILE) the whole tape as a
//	                           source and a new file at end of data as a destination
//	tape:pool:POOL             (destination) a new file on a cartridge of the pool,
//	                           chosen when the copy is placed
//
// NAME and BARCODE may be "naa." followed by the device's NAA designator.
func parseEndpoint(s string) (*ferryv1.Endpoint, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, endpointError(s, "missing disk: or tape:")
	}
	switch kind {
	case "disk":
		return parseDiskEndpoint(s, rest)
	case "tape":
		return parseTapeEndpoint(s, rest)
	default:
		return nil, endpointError(s, fmt.Sprintf("unknown device kind %q", kind))
	}
}

func parseDiskEndpoint(s, rest string) (*ferryv1.Endpoint, error) {
	name, where, hasLBA := strings.Cut(rest, "@")
	e := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK}
	ref, err := parseDeviceRef(name)
	if err != nil {
		return nil, endpointError(s, err.Error())
	}
	e.Device = ref
	if !hasLBA {
		if strings.ContainsAny(name, "+#") {
			return nil, endpointError(s, "a disk range is written NAME@LBA+BLOCKS")
		}
		return e, nil
	}
	lba, blocks, hasBlocks := strings.Cut(where, "+")
	if e.Lba, err = parseCount(lba, 64); err != nil {
		return nil, endpointError(s, "LBA "+err.Error())
	}
	if hasBlocks {
		if e.Blocks, err = parseCount(blocks, 64); err != nil {
			return nil, endpointError(s, "BLOCKS "+err.Error())
		}
		// Zero blocks on the wire means "to the end of the LUN": an explicit
		// +0 cannot mean what it says.
		if e.Blocks == 0 {
			return nil, endpointError(s, "BLOCKS must be at least 1 (leave out +BLOCKS to copy to the end of the disk)")
		}
	}
	return e, nil
}

func parseTapeEndpoint(s, rest string) (*ferryv1.Endpoint, error) {
	e := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE}
	if pool, ok := strings.CutPrefix(rest, poolPrefix); ok {
		if pool == "" || strings.ContainsAny(pool, "#@+") {
			return nil, endpointError(s, "a pool is named tape:pool:POOL, without a file or range (the copy appends a new file)")
		}
		e.Pool = pool
		return e, nil
	}
	name, file, hasFile := strings.Cut(rest, "#")
	ref, err := parseDeviceRef(name)
	if err != nil {
		return nil, endpointError(s, err.Error())
	}
	if strings.ContainsAny(name, "@+") {
		return nil, endpointError(s, "a tape takes no LBA range; name a tape file with #FILE")
	}
	e.Device = ref
	if hasFile {
		n, err := parseCount(file, 32)
		if err != nil {
			return nil, endpointError(s, "FILE "+err.Error())
		}
		f := uint32(n)
		e.TapeFile = &f
	}
	return e, nil
}

// parseDeviceRef reads a device name or "naa." and a hexadecimal NAA
// designator of 8 or 16 bytes.
func parseDeviceRef(name string) (*ferryv1.DeviceRef, error) {
	if name == "" {
		return nil, errors.New("missing device name")
	}
	if len(name) > len(naaPrefix) && strings.EqualFold(name[:len(naaPrefix)], naaPrefix) {
		naa := strings.ToLower(name[len(naaPrefix):])
		if _, err := hex.DecodeString(naa); err != nil || (len(naa) != 16 && len(naa) != 32) {
			return nil, fmt.Errorf("NAA designator %q: want 16 or 32 hexadecimal digits", name[len(naaPrefix):])
		}
		return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: naa}}, nil
	}
	return &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}, nil
}

// parseCount reads a decimal count of the given bit size.
func parseCount(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	return n, nil
}

func endpointError(s, why string) error {
	return usageError{fmt.Sprintf("endpoint %q: %s; want %s", s, why, endpointGrammar)}
}

// endpointArg writes e in the syntax parseEndpoint reads ("disk:db01@2048+8",
// "tape:A00001L9#1"), for listings.
func endpointArg(e *ferryv1.Endpoint) string {
	if e == nil {
		return "-"
	}
	s := deviceText(e.GetDevice())
	if e.GetPool() != "" && e.GetDevice().GetRef() == nil {
		s = poolPrefix + e.GetPool()
	}
	switch e.GetKind() {
	case ferryv1.DeviceKind_DEVICE_KIND_TAPE:
		s = "tape:" + s
		if e.TapeFile != nil {
			s += fmt.Sprintf("#%d", e.GetTapeFile())
		}
	case ferryv1.DeviceKind_DEVICE_KIND_DISK:
		s = "disk:" + s
		if e.GetLba() != 0 || e.GetBlocks() != 0 {
			s += fmt.Sprintf("@%d", e.GetLba())
		}
		if e.GetBlocks() != 0 {
			s += fmt.Sprintf("+%d", e.GetBlocks())
		}
	default:
		s = "?:" + s
	}
	return s
}

// copyName is the name ferry copy gives a job when -name is not set:
// "db01 → A00001L9", the devices without ranges or files.
func copyName(src, dst *ferryv1.Endpoint) string {
	to := deviceText(dst.GetDevice())
	if dst.GetPool() != "" && dst.GetDevice().GetRef() == nil {
		to = poolPrefix + dst.GetPool() // the cartridge is chosen at placement
	}
	return deviceText(src.GetDevice()) + " → " + to
}
