package sbc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/t10"
	"github.com/ferry-san/ferry/scsi/task"
)

// Standard INQUIRY data layout (SPC-4 6.6.2).
const (
	standardInquiryLen = 96
	// peripheralNoLUN is PERIPHERAL QUALIFIER 011b with device type 1Fh:
	// the device server cannot support a logical unit at this LUN.
	peripheralNoLUN = 0x7F
	versionSPC4     = 0x06
	// responseFormat is RESPONSE DATA FORMAT 2 with HISUP (hierarchical
	// LUN addressing) set.
	responseFormat = 0x12
	tpcBit         = 0x08 // byte 5: third-party copy commands supported
	cmdQueBit      = 0x02 // byte 7: command queuing
	versionDescOff = 58
)

// Version descriptors claimed (SPC-4 table 150): SAM-5, iSCSI, SPC-4 and
// SBC-3; libiscsi enables its SBC-3 checks on 04C0h.
var versionDescriptors = [...]uint16{0x00A0, 0x0960, 0x0460, 0x04C0}

// inquiry is INQUIRY: standard data, or a VPD page when EVPD is set. A LUN
// the server does not have answers standard data with peripheral qualifier
// 011b, as SPC-4 requires, and no VPD pages.
func (s *Server) inquiry(_ context.Context, r *request) task.Result {
	evpd := r.cdb[1]&0x01 != 0
	page := r.cdb[2]
	alloc := uint32(binary.BigEndian.Uint16(r.cdb[3:5]))
	if !evpd {
		if page != 0 {
			return s.reply(nil, sense.InvalidCDB(2, 7))
		}
		return s.reply(truncate(s.standardInquiry(r.lun), alloc), nil)
	}
	if r.lun == nil {
		return task.Fail(sense.New(sense.IllegalRequest, sense.LUNotSupported))
	}
	build, ok := s.vpdPages()[page]
	if !ok {
		return s.reply(nil, sense.InvalidCDB(2, 7))
	}
	return s.reply(truncate(vpdPage(page, build(r.lun)), alloc), nil)
}

// standardInquiry is the standard INQUIRY data for l (nil: no LUN).
func (s *Server) standardInquiry(l LUN) []byte {
	b := make([]byte, standardInquiryLen)
	if l == nil {
		b[0] = peripheralNoLUN
	}
	b[2] = versionSPC4
	b[3] = responseFormat
	b[4] = standardInquiryLen - 5
	if s.copier != nil {
		b[5] = tpcBit
	}
	b[7] = cmdQueBit
	copy(b[8:16], t10.ASCII(s.cfg.Vendor, 8))
	copy(b[16:32], t10.ASCII(s.cfg.Product, 16))
	copy(b[32:36], t10.ASCII(s.cfg.Revision, 4))
	for i, v := range versionDescriptors {
		binary.BigEndian.PutUint16(b[versionDescOff+2*i:], v)
	}
	return b
}
