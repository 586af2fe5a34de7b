package smc

import (
	"context"
	"encoding/binary"
	"hash/fnv"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/t10"
)

// Standard INQUIRY data (SPC-4 6.6.2).
const (
	standardInquiryLen = 96
	deviceTypeChanger  = 0x08 // PERIPHERAL DEVICE TYPE: medium changer
	rmbBit             = 0x80 // byte 1: removable medium
	versionSPC4        = 0x06
	responseFormat2    = 0x02
	cmdQueBit          = 0x02
	versionDescOff     = 58
)

// Version descriptors claimed: SAM-5, SPC-4, SMC-3.
var versionDescriptors = [...]uint16{0x00A0, 0x0460, 0x0480}

// VPD pages.
const (
	vpdSupported = 0x00
	vpdSerial    = 0x80
	vpdDeviceID  = 0x83
)

// Designation descriptor fields (SPC-4 7.8.6.1).
const (
	codeSetBinary = 0x01
	codeSetASCII  = 0x02
	typeT10Vendor = 0x01
	typeNAA       = 0x03
)

// inquiry is INQUIRY (12h): standard data, or VPD pages 00h, 80h and 83h.
// Both DMAs check byte 0 for 08h: ndmjob refuses anything else as "Not a
// media changer", Amanda's chg-ndmp as "not a SCSI media changer device".
func (d *Device) inquiry(_ context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	cdb := c.CDB
	if cdb[1]&^0x01 != 0 { // CMDDT (obsolete) and reserved bits
		return nil, nil, sense.InvalidCDB(1, bitOf(cdb[1]&^0x01))
	}
	evpd, page := cdb[1]&0x01 != 0, cdb[2]
	alloc := int(binary.BigEndian.Uint16(cdb[3:5]))
	if !evpd {
		if page != 0 {
			return nil, nil, sense.InvalidCDB(2, -1)
		}
		return truncate(d.standardInquiry(), alloc), nil, nil
	}
	var body []byte
	switch page {
	case vpdSupported:
		body = []byte{vpdSupported, vpdSerial, vpdDeviceID}
	case vpdSerial:
		body = t10.ASCII(d.cfg.Serial, len(d.cfg.Serial))
	case vpdDeviceID:
		body = d.deviceIdentification()
	default:
		return nil, nil, sense.InvalidCDB(2, -1)
	}
	b := []byte{deviceTypeChanger, page, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(body)))
	return truncate(append(b, body...), alloc), nil, nil
}

func (d *Device) standardInquiry() []byte {
	b := make([]byte, standardInquiryLen)
	b[0] = deviceTypeChanger
	b[1] = rmbBit
	b[2] = versionSPC4
	b[3] = responseFormat2
	b[4] = standardInquiryLen - 5
	b[7] = cmdQueBit
	copy(b[8:16], t10.ASCII(d.cfg.Vendor, 8))
	copy(b[16:32], t10.ASCII(d.cfg.Product, 16))
	copy(b[32:36], t10.ASCII(d.cfg.Revision, 4))
	for i, v := range versionDescriptors {
		binary.BigEndian.PutUint16(b[versionDescOff+2*i:], v)
	}
	return b
}

// deviceIdentification is VPD page 83h: a T10 vendor ID based designator
// (vendor, product, serial: readable, and what SPC-4 suggests) and an NAA
// locally assigned one (3h) hashed from it, for software that wants a
// fixed-size binary name. Both depend only on the configuration, so every
// node's changer for a library has the same identity.
func (d *Device) deviceIdentification() []byte {
	vendorID := append(t10.ASCII(d.cfg.Vendor, 8), t10.ASCII(d.cfg.Product, 16)...)
	vendorID = append(vendorID, t10.ASCII(d.cfg.Serial, len(d.cfg.Serial))...)
	h := fnv.New64a()
	h.Write(vendorID)
	naa := make([]byte, 8)
	binary.BigEndian.PutUint64(naa, h.Sum64()&(1<<60-1)|3<<60)
	b := t10.Designator(nil, codeSetASCII, typeT10Vendor, vendorID)
	return t10.Designator(b, codeSetBinary, typeNAA, naa)
}
