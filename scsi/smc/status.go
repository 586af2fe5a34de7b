package smc

import (
	"context"
	"encoding/binary"
	"strings"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/t10"
)

// READ ELEMENT STATUS CDB bits.
const (
	voltagBit  = 0x10 // byte 1
	typeMask   = 0x0F // byte 1
	curdataBit = 0x02 // byte 6: report without moving anything (always so here)
	dvcidBit   = 0x01 // byte 6: report the drives' identifiers
)

// Element descriptor bits (SMC-3 6.11).
const (
	fullBit   = 0x01 // byte 2
	impExpBit = 0x02 // byte 2, import/export: placed by an operator
	accessBit = 0x08 // byte 2: the transport may reach the element
	exEnabBit = 0x10 // byte 2, import/export: can export
	inEnabBit = 0x20 // byte 2, import/export: can import
	svalidBit = 0x80 // byte 9: SOURCE STORAGE ELEMENT ADDRESS valid
	pvoltag   = 0x80 // page header byte 1: primary volume tags present
)

// Medium types (descriptor byte 9 bits 2-0).
const (
	mediumData     = 0x01
	mediumCleaning = 0x02
)

const (
	descBaseLen  = 12   // element address .. source storage element address
	volTagLen    = 36   // 32-byte volume identifier, 2 reserved, 2 sequence
	identHeadLen = 4    // code set, identifier type, reserved, identifier length
	identVendor  = 0x00 // identifier type: vendor specific
)

// readElementStatus is READ ELEMENT STATUS (B8h): the elements of the
// selected type (or all), from the starting address on, at most the
// number asked for, in address order and one element status page per
// type. With VOLTAG each descriptor carries the cartridge's barcode as
// its primary volume tag; with DVCID each drive carries its serial
// number (Config.DriveID) as a vendor-specific ASCII identifier.
//
// The header's NUMBER OF ELEMENTS AVAILABLE and BYTE COUNT OF REPORT
// AVAILABLE describe the whole report even when the allocation length
// cuts it: Amanda's chg-ndmp asks with an allocation length of 8 to learn
// the size, then again with that size. ndmjob asks for 80 elements from
// address 0 into an 8 KiB buffer.
func (d *Device) readElementStatus(ctx context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	cdb := c.CDB
	voltag := cdb[1]&voltagBit != 0
	typ := cdb[1] & typeMask
	start := binary.BigEndian.Uint16(cdb[2:4])
	n := int(binary.BigEndian.Uint16(cdb[4:6]))
	dvcid := cdb[6]&dvcidBit != 0
	alloc := int(cdb[7])<<16 | int(cdb[8])<<8 | int(cdb[9])
	switch {
	case cdb[1]&0xE0 != 0:
		return nil, nil, sense.InvalidCDB(1, bitOf(cdb[1]&0xE0))
	case typ > TypeDrive:
		return nil, nil, sense.InvalidCDB(1, 3)
	case cdb[6]&^(curdataBit|dvcidBit) != 0:
		return nil, nil, sense.InvalidCDB(6, bitOf(cdb[6]&^(curdataBit|dvcidBit)))
	}
	snap, err := d.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := MapOf(snap.State)
	if int(start) >= m.Count() {
		return nil, nil, invalidAddress(2)
	}

	var elems []Element
	for a := int(start); a < m.Count() && len(elems) < n; a++ {
		e, _ := m.Lookup(uint16(a))
		if typ == TypeAll || e.Type == typ {
			elems = append(elems, e)
		}
	}

	var pages []byte
	for i := 0; i < len(elems); {
		j := i
		for j < len(elems) && elems[j].Type == elems[i].Type {
			j++
		}
		pages = append(pages, d.statusPage(snap, elems[i:j], voltag, dvcid)...)
		i = j
	}
	head := make([]byte, 8, 8+len(pages))
	if len(elems) > 0 {
		binary.BigEndian.PutUint16(head[0:2], elems[0].Address)
	}
	binary.BigEndian.PutUint16(head[2:4], uint16(len(elems)))
	putUint24(head[5:8], len(pages))
	return truncate(append(head, pages...), alloc), nil, nil
}

// statusPage is one element status page: its header and the descriptors
// of elems, all of one type.
func (d *Device) statusPage(snap Snapshot, elems []Element, voltag, dvcid bool) []byte {
	typ := elems[0].Type
	idents := make([]string, len(elems))
	identLen := 0
	if dvcid && typ == TypeDrive {
		for i, e := range elems {
			idents[i] = d.cfg.DriveID(e.Location.Index)
			identLen = max(identLen, min(len(idents[i]), 255))
		}
	}
	descLen := descBaseLen + identHeadLen + identLen
	if voltag {
		descLen += volTagLen
	}
	page := make([]byte, 8, 8+len(elems)*descLen)
	page[0] = typ
	if voltag {
		page[1] = pvoltag
	}
	binary.BigEndian.PutUint16(page[2:4], uint16(descLen))
	putUint24(page[5:8], len(elems)*descLen)
	m := MapOf(snap.State)
	for i, e := range elems {
		page = append(page, descriptor(snap, m, e, voltag, idents[i], identLen)...)
	}
	return page
}

// descriptor is one element descriptor.
func descriptor(snap Snapshot, m Map, e Element, voltag bool, ident string, identLen int) []byte {
	b := make([]byte, descBaseLen, descBaseLen+volTagLen+identHeadLen+identLen)
	binary.BigEndian.PutUint16(b[0:2], e.Address)
	var barcode string
	if e.Type != TypeTransport {
		barcode, _ = snap.State.At(e.Location)
	}
	_, busy := snap.Busy[barcode]
	var flags byte
	switch e.Type {
	case TypeStorage:
		flags = accessBit
	case TypeIE:
		flags = accessBit | inEnabBit | exEnabBit
	case TypeDrive:
		flags = accessBit
		if snap.Holders[e.Location.Index] != "" {
			flags = 0
		}
	}
	if barcode != "" {
		flags |= fullBit
		if busy {
			flags &^= accessBit
		}
		b[9] = mediumData
		if strings.HasPrefix(barcode, "CLN") {
			b[9] = mediumCleaning
		}
	}
	b[2] = flags
	if e.Type == TypeDrive && barcode != "" {
		if o, ok := snap.State.Origins[barcode]; ok {
			if a, ok := m.Address(o); ok {
				b[9] |= svalidBit
				binary.BigEndian.PutUint16(b[10:12], a)
			}
		}
	}
	if voltag {
		tag := make([]byte, volTagLen)
		if barcode != "" {
			copy(tag[:32], t10.ASCII(barcode, 32))
		}
		b = append(b, tag...)
	}
	if identLen == 0 {
		return append(b, 0, 0, 0, 0)
	}
	b = append(b, codeSetASCII, identVendor, 0, byte(identLen))
	return append(b, t10.ASCII(ident, identLen)...)
}

func putUint24(b []byte, v int) {
	b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
}
