package sbc

import (
	"context"
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/ferry-san/ferry/scsi/task"
)

// READ CAPACITY parameter data (SBC-3 5.15.2, 5.16.2).
const (
	readCapacity10Len = 8
	readCapacity16Len = 32
	lbpme             = 0x80 // byte 14: logical block provisioning management
	lbprz             = 0x40 // byte 14: unmapped blocks read as zeroes
)

// readCapacity10 is READ CAPACITY(10): the last LBA, or FFFFFFFFh when it
// does not fit (the initiator must then use READ CAPACITY(16)), and the
// block length. The obsolete LBA and PMI fields must be zero, which the
// usage data enforces.
func (s *Server) readCapacity10(_ context.Context, r *request) task.Result {
	b := make([]byte, readCapacity10Len)
	binary.BigEndian.PutUint32(b[0:4], uint32(min(r.lun.Blocks()-1, math.MaxUint32)))
	binary.BigEndian.PutUint32(b[4:8], r.lun.BlockSize())
	return s.reply(b, nil)
}

// readCapacity16 is READ CAPACITY(16): no protection information, the
// physical block size of the config, and for a thin LUN logical block
// provisioning management with unmapped blocks reading zeroes. Any
// allocation length is valid, zero included.
func (s *Server) readCapacity16(_ context.Context, r *request) task.Result {
	b := make([]byte, readCapacity16Len)
	binary.BigEndian.PutUint64(b[0:8], r.lun.Blocks()-1)
	binary.BigEndian.PutUint32(b[8:12], r.lun.BlockSize())
	b[13] = s.physicalExponent(r.lun.BlockSize())
	if provisioner(r.lun) != nil {
		b[14] = lbpme | lbprz
	}
	return s.reply(truncate(b, binary.BigEndian.Uint32(r.cdb[10:14])), nil)
}

// physicalExponent is LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT for
// logical blocks of bs bytes: log2(PhysicalBlockBytes / bs), or zero.
func (s *Server) physicalExponent(bs uint32) byte {
	phys := s.cfg.PhysicalBlockBytes
	if phys&(phys-1) != 0 || phys <= bs {
		return 0
	}
	return byte(bits.TrailingZeros32(phys) - bits.TrailingZeros32(bs))
}
