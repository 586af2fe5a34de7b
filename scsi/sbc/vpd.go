package sbc

import (
	"encoding/binary"
	"slices"

	"github.com/ferry-san/ferry/scsi/t10"
)

// VPD page codes.
const (
	vpdSupportedPages   = 0x00
	vpdUnitSerial       = 0x80
	vpdDeviceID         = 0x83
	vpdThirdPartyCopy   = 0x8F
	vpdBlockLimits      = 0xB0
	vpdBlockDevice      = 0xB1
	vpdLogicalBlockProv = 0xB2
)

// Lengths of the SBC-3 VPD pages after their 4-byte header.
const (
	blockLimitsLen = 0x3C
	blockDeviceLen = 0x3C
	provisionLen   = 0x04
)

// Designation descriptor fields (SPC-4 7.8.6.1).
const (
	codeSetBinary  = 0x01
	codeSetUTF8    = 0x03
	protocolISCSI  = 0x50 // PROTOCOL IDENTIFIER 5h in bits 7-4
	piv            = 0x80
	assocLU        = 0x00
	assocPort      = 0x10
	assocTarget    = 0x20
	typeNAA        = 0x03
	typeRelPort    = 0x04
	typeSCSIName   = 0x08
	relPortDescLen = 4
)

// vpdBuilder returns a VPD page's bytes after its 4-byte header.
type vpdBuilder func(l LUN) []byte

// vpdPages maps the supported VPD page codes to their builders; the
// third-party copy page exists only with a copy manager.
func (s *Server) vpdPages() map[byte]vpdBuilder {
	pages := map[byte]vpdBuilder{
		vpdSupportedPages:   s.supportedPages,
		vpdUnitSerial:       unitSerial,
		vpdDeviceID:         s.deviceIdentification,
		vpdBlockLimits:      s.blockLimits,
		vpdBlockDevice:      blockDeviceCharacteristics,
		vpdLogicalBlockProv: logicalBlockProvisioning,
	}
	if s.copier != nil {
		pages[vpdThirdPartyCopy] = s.thirdPartyCopy
	}
	return pages
}

// vpdPage prepends the VPD header: peripheral qualifier and device type
// (a connected direct-access block device), page code, page length.
func vpdPage(code byte, body []byte) []byte {
	b := make([]byte, 4, 4+len(body))
	b[1] = code
	binary.BigEndian.PutUint16(b[2:4], uint16(len(body)))
	return append(b, body...)
}

// supportedPages is page 00h: the page codes in ascending order, as SPC-4
// requires.
func (s *Server) supportedPages(LUN) []byte {
	pages := s.vpdPages()
	codes := make([]byte, 0, len(pages))
	for c := range pages {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// unitSerial is page 80h.
func unitSerial(l LUN) []byte {
	serial := l.Identity().Serial
	return t10.ASCII(serial, len(serial))
}

// deviceIdentification is page 83h: the LUN's NAA designator, which
// EXTENDED COPY target descriptors name it by and the only logical-unit
// designator (libiscsi copies the highest-typed one into its target
// descriptors), then the relative target port and, when configured, the
// SCSI names of the target port and the target.
func (s *Server) deviceIdentification(l LUN) []byte {
	naa := l.Identity().NAA
	b := t10.Designator(nil, codeSetBinary, assocLU|typeNAA, naa)
	rel := make([]byte, relPortDescLen)
	binary.BigEndian.PutUint16(rel[2:], s.cfg.RelativePortID)
	b = t10.Designator(b, protocolISCSI|codeSetBinary, piv|assocPort|typeRelPort, rel)
	if s.cfg.PortName != "" {
		b = t10.Designator(b, protocolISCSI|codeSetUTF8, piv|assocPort|typeSCSIName, scsiName(s.cfg.PortName))
	}
	if s.cfg.TargetName != "" {
		b = t10.Designator(b, protocolISCSI|codeSetUTF8, piv|assocTarget|typeSCSIName, scsiName(s.cfg.TargetName))
	}
	return b
}

// scsiName is a SCSI name string designator: the name, null-terminated
// and null-padded to a multiple of 4 bytes (SPC-4 7.8.6.11), at most 255.
func scsiName(name string) []byte {
	n := min(len(name)+1, 252)
	n = (n + 3) &^ 3
	b := make([]byte, n)
	copy(b[:n-1], name)
	return b
}

// blockLimits is page B0h. WSNZ is clear (WRITE SAME with zero blocks
// writes to the end of the LUN); WRITE ATOMIC is not offered, so its
// limits are zero; UNMAP's limits are a thin LUN's (unmapLimits).
func (s *Server) blockLimits(l LUN) []byte {
	bs := l.BlockSize()
	b := make([]byte, blockLimitsLen)
	b[1] = byte(s.maxCompareBlocks(l))
	binary.BigEndian.PutUint16(b[2:4], uint16(min(blocks(s.cfg.OptimalGranularityBytes, bs), 0xFFFF)))
	binary.BigEndian.PutUint32(b[4:8], s.maxTransferBlocks(l))
	binary.BigEndian.PutUint32(b[8:12], blocks(s.cfg.OptimalTransferBytes, bs))
	binary.BigEndian.PutUint64(b[32:40], s.cfg.MaxWriteSameBlocks)
	unmapLimits(l, b)
	return b
}

// maxTransferBlocks is the MAXIMUM TRANSFER LENGTH of l in blocks.
func (s *Server) maxTransferBlocks(l LUN) uint32 {
	return blocks(s.cfg.MaxTransferBytes, l.BlockSize())
}

// blockDeviceCharacteristics is page B1h; rotation rate and form factor
// are not reported, since the backing store may be anything.
func blockDeviceCharacteristics(LUN) []byte { return make([]byte, blockDeviceLen) }

// Logical block provisioning page bits.
const (
	lbpu          = 0x80 // UNMAP
	lbpws         = 0x40 // WRITE SAME(16) with UNMAP
	lbpws10       = 0x20 // WRITE SAME(10) with UNMAP
	lbprzVPD      = 0x04 // unmapped blocks read as zeroes
	provisionThin = 0x02
)

// logicalBlockProvisioning is page B2h. A thin LUN offers UNMAP and WRITE
// SAME with UNMAP, its unmapped blocks read as zeroes (its store passed
// that probe) and anchored blocks are not supported (ANC_SUP zero); a
// fully provisioned one offers none of them and reports provisioning
// type 0.
func logicalBlockProvisioning(l LUN) []byte {
	b := make([]byte, provisionLen)
	if provisioner(l) != nil {
		b[1] = lbpu | lbpws | lbpws10 | lbprzVPD
		b[2] = provisionThin
	}
	return b
}
