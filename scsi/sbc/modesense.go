package sbc

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// Mode page codes.
const (
	pageErrorRecovery = 0x01
	pageCaching       = 0x08
	pageControl       = 0x0A
	pageInfoExcept    = 0x1C
	pageAll           = 0x3F
	subpageAll        = 0xFF
)

// Page control values (MODE SENSE CDB byte 2 bits 7-6).
const (
	pcCurrent    = 0
	pcChangeable = 1
	pcDefault    = 2
	pcSaved      = 3
)

// Mode parameter header and block descriptor bits.
const (
	dbdBit           = 0x08 // CDB byte 1: disable block descriptors
	llbaaBit         = 0x10 // MODE SENSE(10) CDB byte 1: long LBA accepted
	wpBit            = 0x80 // DEVICE-SPECIFIC PARAMETER: write protected
	dpofuaBit        = 0x10 // DEVICE-SPECIFIC PARAMETER: DPO and FUA supported
	longLBABit       = 0x01 // MODE SENSE(10) header byte 4
	shortBlockDesc   = 8
	longBlockDesc    = 16
	wceBit           = 0x04 // caching page byte 2: write cache enabled
	queueUnrestrict  = 0x10 // control page byte 3: QUEUE ALGORITHM MODIFIER 1h
	dexcptBit        = 0x08 // informational exceptions page byte 2
	savingNotAllowed = 0x3900
)

// modePages are the pages MODE SENSE returns, in page code order, with
// their current (and default) values. None is changeable.
//
// Caching: WCE, since a write is durable only after SYNCHRONIZE CACHE or
// FUA. Control: unrestricted reordering, as the server runs commands
// concurrently; busy timeout unlimited. Informational exceptions: DEXCPT,
// none are reported.
func modePages() map[byte][]byte {
	return map[byte][]byte{
		pageErrorRecovery: {pageErrorRecovery, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		pageCaching:       {pageCaching, 0x12, wceBit, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		pageControl:       {pageControl, 0x0A, 0, queueUnrestrict, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0},
		pageInfoExcept:    {pageInfoExcept, 0x0A, dexcptBit, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}
}

// modeSense is MODE SENSE(6) and (10): the mode parameter header (WP for a
// read-only LUN, DPOFUA since READ and WRITE take DPO and FUA), a short
// block descriptor (long with MODE SENSE(10) LLBAA) unless DBD, and the
// page asked for, or all of them for page 3Fh.
func (s *Server) modeSense(_ context.Context, r *request) task.Result {
	ten := r.cdb[0] == opModeSense10
	pc, code, sub := r.cdb[2]>>6, r.cdb[2]&0x3F, r.cdb[3]
	if pc == pcSaved {
		return task.Fail(sense.New(sense.IllegalRequest, savingNotAllowed))
	}
	pages, err := selectPages(code, sub, pc == pcChangeable)
	if err != nil {
		return s.reply(nil, err)
	}

	var desc []byte
	if r.cdb[1]&dbdBit == 0 {
		desc = blockDescriptor(r.lun, ten && r.cdb[1]&llbaaBit != 0)
	}
	devSpecific := byte(dpofuaBit)
	if r.lun.ReadOnly() {
		devSpecific |= wpBit
	}

	var b []byte
	var alloc uint32
	if ten {
		b = make([]byte, 8, 8+len(desc)+len(pages))
		b[3] = devSpecific
		if len(desc) == longBlockDesc {
			b[4] = longLBABit
		}
		binary.BigEndian.PutUint16(b[6:8], uint16(len(desc)))
		alloc = uint32(binary.BigEndian.Uint16(r.cdb[7:9]))
	} else {
		b = make([]byte, 4, 4+len(desc)+len(pages))
		b[2] = devSpecific
		b[3] = byte(len(desc))
		alloc = uint32(r.cdb[4])
	}
	b = append(append(b, desc...), pages...)
	if ten {
		binary.BigEndian.PutUint16(b[0:2], uint16(len(b)-2))
	} else {
		b[0] = byte(len(b) - 1)
	}
	return s.reply(truncate(b, alloc), nil)
}

// selectPages returns the pages for page code and subpage: one page, or
// all for 3Fh; there are no subpages, so subpage FFh (all subpages) is the
// same as 00h. For changeable values every field is zero.
func selectPages(code, sub byte, changeable bool) ([]byte, error) {
	all := modePages()
	var codes []byte
	switch {
	case sub != 0 && sub != subpageAll:
		return nil, sense.InvalidCDB(3, 7)
	case code == pageAll:
		codes = []byte{pageErrorRecovery, pageCaching, pageControl, pageInfoExcept}
	case all[code] != nil:
		codes = []byte{code}
	default:
		return nil, sense.InvalidCDB(2, 5)
	}
	var b []byte
	for _, c := range codes {
		p := all[c]
		if changeable {
			p = append([]byte{p[0], p[1]}, make([]byte, len(p)-2)...)
		}
		b = append(b, p...)
	}
	return b, nil
}

// blockDescriptor is the short (8-byte) or long (16-byte) block
// descriptor of l; a short one caps the block count at FFFFFFFFh.
func blockDescriptor(l LUN, long bool) []byte {
	if long {
		d := make([]byte, longBlockDesc)
		binary.BigEndian.PutUint64(d[0:8], l.Blocks())
		binary.BigEndian.PutUint32(d[12:16], l.BlockSize())
		return d
	}
	d := make([]byte, shortBlockDesc)
	binary.BigEndian.PutUint32(d[0:4], uint32(min(l.Blocks(), math.MaxUint32)))
	bs := l.BlockSize()
	d[5], d[6], d[7] = byte(bs>>16), byte(bs>>8), byte(bs)
	return d
}
