package sbc

import (
	"context"
	"testing"

	"github.com/ferry-san/ferry/scsi/task"
)

// FuzzCDB executes arbitrary CDBs and data-out buffers against a small
// LUN: no panic, and a result that is GOOD, RESERVATION CONFLICT, or CHECK
// CONDITION with sense data (TASK ABORTED only if the context ended, which
// it does not).
func FuzzCDB(f *testing.F) {
	seeds := [][]byte{
		inquiryCDB(false, 0, 96), inquiryCDB(true, vpdThirdPartyCopy, 1024), inquiryCDB(true, vpdDeviceID, 255),
		rw10(opRead10, 0, 1, 0, 0), rw16(opWrite16, 1, 1, 0, fuaBit), rw10(opWriteSame10, 0, 0, 0, unmapBit),
		rw16(opWriteSame16, 0, 0, 0, ndobBit), rw10(opVerify10, 0, 2, 0, 1<<bytchkShift), rw16(opVerify16, 0, 2, 0, 3<<bytchkShift),
		rw10(opSyncCache10, 0, 0, 0, 0), rsocCDB(true, 0, 0, 0, 65535), rsocCDB(false, 2, opReceiveCopyResults, 3, 512),
		modeSense6CDB(false, 0, pageAll, subpageAll, 255), {opModeSense10, llbaaBit, pageAll, 0, 0, 0, 0, 1, 0, 0},
		{opReportLUNs, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, {opRequestSense, 1, 0, 0, 252, 0},
		{opServiceActionIn16, saReadCapacity16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0},
		{opExtendedCopy, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0},
		rw6(opRead6, 0x1FFFFF, 0), rw6(opWrite6, 1, 1), prefetchCDB(true, 0, 0, true, 3), startStopCDB(true, 0, 0, false, true, false),
		readDefect10CDB(true, true, formatLongBlock, 4), readDefect12CDB(true, false, 7, 1, 8),
		prOutCDB(saRegister, 0), prOutCDB(saReserve, 0x03), prOutCDB(saPreemptAndAbort, 0x01), prInCDB(saReadFullStatus, 512),
		{opReserve6, 0, 0, 0, 0, 0}, {opRelease6, 0, 0, 0, 0, 0},
		cawCDB(0, 1, 0, fuaBit), cawCDB(62, 2, 0, 0), orWriteCDB(1, 2, 0, 0),
		unmapCDB(24, 0), lbaStatusCDB(3, 1000),
	}
	for _, s := range seeds {
		f.Add(s, []byte{1, 2, 3}, uint8(1))
	}
	f.Add(cawCDB(0, 1, 0, 0), make([]byte, 1024), uint8(1)) // a MISCOMPARE-free COMPARE AND WRITE of zeroes
	f.Fuzz(func(t *testing.T, cdb, data []byte, lun uint8) {
		fx := newFixture(t)
		fx.disk.data = fx.disk.data[:64*512] // keep WRITE SAME to the end cheap
		// As the iSCSI target does: cut the data-out to the CDB's length.
		if n, ok := fx.srv.DataOutLength(uint64(lun%3), cdb); ok && n < uint32(len(data)) {
			data = data[:n]
		}
		res := fx.srv.Execute(context.Background(), &task.Task{LUN: uint64(lun % 3), CDB: cdb, DataOut: data, AllocationLength: 1 << 16})
		switch res.Status {
		case task.Good:
		case task.ReservationConflict: // a reservation command refused by the reservations
			if res.Sense != nil {
				t.Fatalf("RESERVATION CONFLICT with sense for % x", cdb)
			}
		case task.CheckCondition:
			if res.Sense == nil {
				t.Fatalf("CHECK CONDITION without sense for % x", cdb)
			}
		default:
			t.Fatalf("status %#x for % x", res.Status, cdb)
		}
	})
}

// FuzzUnmapList parses arbitrary UNMAP parameter lists: no panic, and
// whatever is accepted lies on the LUN within the limits.
func FuzzUnmapList(f *testing.F) {
	f.Add(uint16(40), unmapList(unmapDesc{0, 1}, unmapDesc{63, 1}))
	f.Add(uint16(7), []byte{0, 6, 0, 0, 0, 0, 0})
	f.Add(uint16(24), unmapList(unmapDesc{^uint64(0), 2}))
	f.Fuzz(func(t *testing.T, plen uint16, data []byte) {
		const lunBlocks = 64
		ranges, err := parseUnmapList(unmapCDB(plen, 0), data, lunBlocks, 512)
		if err != nil {
			return
		}
		total := uint64(0)
		for _, r := range ranges {
			if r.lba > lunBlocks || r.count > lunBlocks-r.lba {
				t.Fatalf("accepted %+v on a LUN of %d blocks", r, lunBlocks)
			}
			total += r.count
		}
		if len(ranges) > maxUnmapDescriptors || total > uint64(maxUnmapBlocks(512)) {
			t.Fatalf("accepted %d descriptors of %d blocks", len(ranges), total)
		}
	})
}
