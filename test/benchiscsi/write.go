package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ferry-san/ferry/iscsi/initiator"
)

// initiatorName is the benchmark's iSCSI initiator name.
const initiatorName = "iqn.2026-11.io.ferry:benchiscsi"

// SCSI opcodes the benchmark sends itself.
const (
	opRead16  = 0x88
	opWrite16 = 0x8a
)

// rw16 is a READ(16) or WRITE(16) CDB.
func rw16(op byte, lba uint64, blocks uint32) []byte {
	cdb := make([]byte, 16)
	cdb[0] = op
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], blocks)
	return cdb
}

// checkGood turns a non-GOOD status into an error.
func checkGood(what string, res initiator.Result) error {
	if res.Status != 0 {
		return fmt.Errorf("%s: status %#02x, sense % x", what, res.Status, res.Sense)
	}
	return nil
}

// writeRun writes w.bytes chunks sequentially to the portal's destination
// LUN for d, wrapping at the LUN's end, and returns the commands per
// second.
func writeRun(ctx context.Context, p portal, w workload, d time.Duration) (float64, error) {
	s, err := initiator.Dial(ctx, p.addr, initiatorName, p.iqn)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	blocks, err := capacity(ctx, s, p.dstLUN)
	if err != nil {
		return 0, err
	}
	per := uint64(w.bytes / blockSize)
	buf := make([]byte, w.bytes)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var n int
	lba := uint64(0)
	start := time.Now()
	for time.Since(start) < d {
		if lba+per > blocks {
			lba = 0
		}
		res, err := s.Command(ctx, uint64(p.dstLUN), rw16(opWrite16, lba, uint32(per)), buf, 0)
		if err != nil {
			return 0, err
		}
		if err := checkGood("WRITE(16)", res); err != nil {
			return 0, err
		}
		lba += per
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// capacity is the LUN's number of blocks, from READ CAPACITY(16). A new
// session's first command may be answered with a UNIT ATTENTION (tgtd
// reports POWER ON OCCURRED): that command is retried.
func capacity(ctx context.Context, s *initiator.Session, lun uint32) (uint64, error) {
	cdb := make([]byte, 16)
	cdb[0] = 0x9e // SERVICE ACTION IN(16)
	cdb[1] = 0x10 // READ CAPACITY(16)
	binary.BigEndian.PutUint32(cdb[10:], 32)
	var res initiator.Result
	for range 4 {
		var err error
		if res, err = s.Command(ctx, uint64(lun), cdb, nil, 32); err != nil {
			return 0, err
		}
		if !unitAttention(res) {
			break
		}
	}
	if err := checkGood("READ CAPACITY(16)", res); err != nil {
		return 0, err
	}
	if len(res.Data) < 12 {
		return 0, fmt.Errorf("READ CAPACITY(16): %d bytes of data", len(res.Data))
	}
	return binary.BigEndian.Uint64(res.Data) + 1, nil
}

// unitAttention reports whether res is a CHECK CONDITION with sense key
// UNIT ATTENTION (fixed or descriptor format).
func unitAttention(res initiator.Result) bool {
	const checkCondition, keyUnitAttention = 0x02, 0x06
	if res.Status != checkCondition || len(res.Sense) < 3 {
		return false
	}
	switch res.Sense[0] & 0x7f {
	case 0x70, 0x71:
		return res.Sense[2]&0x0f == keyUnitAttention
	case 0x72, 0x73:
		return res.Sense[1]&0x0f == keyUnitAttention
	}
	return false
}
