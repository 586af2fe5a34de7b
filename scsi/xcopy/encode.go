package xcopy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrEncode is wrapped by every Encode error: a value does not fit its wire
// field.
var ErrEncode = errors.New("xcopy: cannot encode")

const max24 = 1<<24 - 1

// Encode returns the parameter list's bytes. It checks only that every
// value fits its field, not that a copy manager would accept the list, so
// tests can build the invalid lists Decode must refuse. Fields a segment
// type does not use are not encoded.
func (p *ParameterList) Encode() ([]byte, error) {
	if p.Priority > 7 {
		return nil, fmt.Errorf("%w: priority %d exceeds 7", ErrEncode, p.Priority)
	}
	if p.ListIDUsage > 3 {
		return nil, fmt.Errorf("%w: list ID usage %d exceeds 3", ErrEncode, p.ListIDUsage)
	}
	tdll := len(p.Targets) * targetDescLen
	if tdll > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d CSCD descriptors overflow the 16-bit list length", ErrEncode, len(p.Targets))
	}
	sdll := 0
	for i, s := range p.Segments {
		if _, ok := layoutOf(s.Type); !ok {
			return nil, fmt.Errorf("%w: segment %d: unsupported type %02Xh", ErrEncode, i, uint8(s.Type))
		}
		sdll += segmentLen(s.Type)
	}
	if uint64(len(p.InlineData)) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: %d bytes of inline data", ErrEncode, len(p.InlineData))
	}
	b := make([]byte, headerLen+tdll+sdll+len(p.InlineData))
	b[0] = p.ListID
	b[1] = byte(p.ListIDUsage)<<3 | p.Priority
	if p.STR {
		b[1] |= 0x20
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(tdll))
	binary.BigEndian.PutUint32(b[8:12], uint32(sdll))
	binary.BigEndian.PutUint32(b[12:16], uint32(len(p.InlineData)))
	off := headerLen
	for i, t := range p.Targets {
		if err := t.encode(b[off : off+targetDescLen]); err != nil {
			return nil, fmt.Errorf("CSCD descriptor %d: %w", i, err)
		}
		off += targetDescLen
	}
	for i, s := range p.Segments {
		n := segmentLen(s.Type)
		if err := s.encode(b[off : off+n]); err != nil {
			return nil, fmt.Errorf("segment descriptor %d: %w", i, err)
		}
		off += n
	}
	copy(b[off:], p.InlineData)
	return b, nil
}

// encode fills the 32 bytes of an identification CSCD descriptor.
func (t TargetDescriptor) encode(d []byte) error {
	if t.LUIDType > 3 {
		return fmt.Errorf("%w: LU ID type %d exceeds 3", ErrEncode, t.LUIDType)
	}
	if t.DeviceType > 0x1F {
		return fmt.Errorf("%w: peripheral device type %02Xh exceeds 1Fh", ErrEncode, uint8(t.DeviceType))
	}
	if len(t.NAA) > 20 {
		return fmt.Errorf("%w: %d-byte designator exceeds 20 bytes", ErrEncode, len(t.NAA))
	}
	if t.BlockLength > max24 {
		return fmt.Errorf("%w: block length %d exceeds 24 bits", ErrEncode, t.BlockLength)
	}
	d[0] = identCSCD
	d[1] = t.LUIDType<<6 | byte(t.DeviceType)
	if t.NUL {
		d[1] |= 0x20
	}
	binary.BigEndian.PutUint16(d[2:4], t.RelativeInitiatorPort)
	d[4] = codeSetBinary
	d[5] = designatorNAA // association 00b: logical unit
	d[7] = byte(len(t.NAA))
	copy(d[8:28], t.NAA)
	if t.PAD {
		d[28] |= 0x04
	}
	if t.Fixed {
		d[28] |= 0x01
	}
	put24(d[29:32], t.BlockLength)
	return nil
}

// Designation descriptor values an identification CSCD descriptor must carry.
const (
	codeSetBinary = 0x1
	designatorNAA = 0x3
)

// encode fills a segment descriptor of segmentLen(s.Type) bytes.
func (s Segment) encode(d []byte) error {
	l, _ := layoutOf(s.Type)
	for _, f := range []struct {
		name string
		v    uint32
		max  uint32
	}{
		{"stream device transfer length", s.StreamLength, max24},
		{"destination stream device transfer length", s.DstStreamLength, max24},
		{"number of blocks", s.Blocks, math.MaxUint16},
		{"filemark count", s.Filemarks, max24},
		{"space code", uint32(s.SpaceCode), 0x0F},
	} {
		if f.v > f.max {
			return fmt.Errorf("%w: %s %d exceeds %d", ErrEncode, f.name, f.v, f.max)
		}
	}
	if s.SpaceCount < -(1<<23) || s.SpaceCount >= 1<<23 {
		return fmt.Errorf("%w: space count %d exceeds 24 bits", ErrEncode, s.SpaceCount)
	}
	d[0] = byte(s.Type)
	if s.CAT {
		d[1] |= flagCAT
	}
	if s.DC {
		d[1] |= flagDC
	}
	binary.BigEndian.PutUint16(d[2:4], l.descLen)
	if l.src != roleNone {
		binary.BigEndian.PutUint16(d[4:6], s.Src)
	}
	if l.dst != roleNone {
		binary.BigEndian.PutUint16(d[6:8], s.Dst)
	}
	switch s.Type {
	case BlockToStream, StreamToBlock:
		put24(d[9:12], s.StreamLength)
		binary.BigEndian.PutUint16(d[14:16], uint16(s.Blocks))
		lba := s.SrcLBA
		if s.Type == StreamToBlock {
			lba = s.DstLBA
		}
		binary.BigEndian.PutUint64(d[16:24], lba)
	case BlockToBlock:
		binary.BigEndian.PutUint16(d[10:12], uint16(s.Blocks))
		binary.BigEndian.PutUint64(d[12:20], s.SrcLBA)
		binary.BigEndian.PutUint64(d[20:28], s.DstLBA)
	case StreamToStream:
		put24(d[9:12], s.StreamLength)
		put24(d[13:16], s.DstStreamLength)
		binary.BigEndian.PutUint32(d[16:20], s.ByteCount)
	case InlineToStream:
		put24(d[9:12], s.StreamLength)
		binary.BigEndian.PutUint32(d[12:16], s.InlineOffset)
		binary.BigEndian.PutUint32(d[16:20], s.ByteCount)
	case StreamToDiscard:
		put24(d[9:12], s.StreamLength)
		binary.BigEndian.PutUint32(d[12:16], s.ByteCount)
	case VerifyCSCD:
		if s.TUR {
			d[8] = 0x01
		}
	case BlockToBlockOffsets:
		binary.BigEndian.PutUint32(d[8:12], s.ByteCount)
		binary.BigEndian.PutUint64(d[12:20], s.SrcLBA)
		binary.BigEndian.PutUint64(d[20:28], s.DstLBA)
		binary.BigEndian.PutUint16(d[28:30], s.SrcOffset)
		binary.BigEndian.PutUint16(d[30:32], s.DstOffset)
	case WriteFilemarks:
		put24(d[9:12], s.Filemarks)
	case Space:
		d[8] = byte(s.SpaceCode)
		put24(d[9:12], uint32(s.SpaceCount)&max24)
	case Locate:
		binary.BigEndian.PutUint32(d[8:12], s.LocateBlock)
	case TapeImageCopy:
		binary.BigEndian.PutUint32(d[8:12], s.ImageCount)
	}
	return nil
}

func put24(b []byte, v uint32) {
	b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
}

func get24(b []byte) uint32 {
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}
