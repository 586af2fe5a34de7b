package iscsi

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/ferry-san/ferry/iscsi/internal/memlun"
	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// lunBytes is the size of serveTarget's LUN: 2048 blocks, four data-in
// pieces.
const lunBytes = 2048 * memlun.BlockSize

// A streamed READ arrives whole and in order across its pieces, with the
// Data-In sequences and the residual of the whole transfer, whatever the
// negotiated segment and burst sizes.
func TestStreamedReadAcrossPieces(t *testing.T) {
	tests := []struct {
		name   string
		target func(*Config)
		ops    []pdu.KV
		edtl   uint32
		want   pdu.Residual
	}{
		{"defaults", nil, nil, lunBytes, pdu.Residual{}},
		{"bursts across pieces", func(c *Config) { c.MaxBurstLength = 100000 },
			[]pdu.KV{{Key: "MaxBurstLength", Value: "100000"}, {Key: "MaxRecvDataSegmentLength", Value: "3000"}}, lunBytes, pdu.Residual{}},
		{"overflow inside a piece", nil, nil, lunBytes - 1000, pdu.Residual{Overflow: true, Count: 1000}},
		{"underflow", nil, nil, lunBytes + 4096, pdu.Residual{Underflow: true, Count: 4096}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, srv := startTarget(t, tc.target)
			in := dial(t, addr)
			in.mustLogin(tc.ops...)
			data := pattern(lunBytes, 3)
			if w := in.command(write10(0, 2048), lunBytes, false, data); w.status != 0 {
				t.Fatalf("WRITE(10): status %#x", w.status)
			}
			// The target's writes are not synchronization the race
			// detector sees (writev): the hook's record takes a lock.
			var mu sync.Mutex
			var pieces []uint64
			srv.ReadHook = func(_ context.Context, off uint64) error {
				mu.Lock()
				defer mu.Unlock()
				pieces = append(pieces, off)
				return nil
			}
			r := in.command(read10(0, 2048), tc.edtl, true, nil)
			want := data[:min(int(tc.edtl), lunBytes)]
			if r.status != 0 || !bytes.Equal(r.data, want) || r.residual != tc.want {
				t.Fatalf("READ(10): status %#x, %d bytes (equal %v), residual %+v; want GOOD, %d bytes, %+v",
					r.status, len(r.data), bytes.Equal(r.data, want), r.residual, len(want), tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(pieces) != 4 || pieces[3] != 3*dataInPiece {
				t.Fatalf("data-in read at offsets %v, want four pieces of %d", pieces, dataInPiece)
			}
		})
	}
}

// A READ's first piece reaches the initiator before its second is read:
// the target never holds more than a piece of it.
func TestStreamedReadSendsEachPieceFirst(t *testing.T) {
	addr, srv := startTarget(t, nil)
	reached, release := make(chan struct{}), make(chan struct{})
	srv.ReadHook = func(ctx context.Context, off uint64) error {
		if off == dataInPiece {
			close(reached)
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}
	in := dial(t, addr)
	in.mustLogin()
	in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Read: true, ITT: in.nextITT(),
		ExpectedDataTransferLength: lunBytes, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: read10(0, 2048)}, nil))
	in.cmdSN++
	got := 0
	for got < dataInPiece {
		p := in.recv()
		if p.Header.Opcode() != pdu.OpDataIn {
			t.Fatalf("got %v, want Data-In", p.Header.Opcode())
		}
		got += len(p.Data)
	}
	<-reached
	close(release)
	for {
		p := in.recv()
		var d pdu.DataIn
		d.Unmarshal(&p.Header)
		got += len(p.Data)
		if d.HasStatus {
			if d.Status != 0 || got != lunBytes {
				t.Fatalf("status %#x after %d bytes", d.Status, got)
			}
			return
		}
	}
}

// A piece that fails to read ends the command after the pieces already
// sent: CHECK CONDITION with the server's sense data (or INTERNAL TARGET
// FAILURE for a server that panics), and a residual of what was not sent.
func TestStreamedReadFailingMidway(t *testing.T) {
	tests := []struct {
		name string
		fail func()
		key  sense.Key
		code sense.Code
	}{
		{"medium error", nil, sense.MediumError, sense.UnrecoveredReadError},
		{"server panics", func() { panic("piece out of range") }, sense.HardwareError, sense.InternalTargetFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, srv := startTarget(t, func(c *Config) { c.Logger = discardLogger() })
			srv.ReadHook = func(_ context.Context, off uint64) error {
				if off < 2*dataInPiece {
					return nil
				}
				if tc.fail != nil {
					tc.fail()
				}
				return sense.New(sense.MediumError, sense.UnrecoveredReadError).WithInformation(off / memlun.BlockSize)
			}
			in := dial(t, addr)
			in.mustLogin()
			r := in.command(read10(0, 2048), lunBytes, true, nil)
			if r.status != byte(task.CheckCondition) || len(r.data) != 2*dataInPiece {
				t.Fatalf("status %#x after %d bytes, want CHECK CONDITION after %d", r.status, len(r.data), 2*dataInPiece)
			}
			if len(r.sense) < 14 || sense.Key(r.sense[2]&0x0f) != tc.key || sense.MakeCode(r.sense[12], r.sense[13]) != tc.code {
				t.Fatalf("sense %x, want key %v code %v", r.sense, tc.key, tc.code)
			}
			if want := (pdu.Residual{Underflow: true, Count: lunBytes - 2*dataInPiece}); r.residual != want {
				t.Fatalf("residual %+v, want %+v", r.residual, want)
			}
			// The connection carries on.
			if r := in.command(read10(0, 1), 512, true, nil); r.status != 0 {
				t.Fatalf("READ after the failure: status %#x", r.status)
			}
		})
	}
}

// An initiator that sends a full window of large READs and never reads
// its socket holds one piece of the budget per READ, not its transfer:
// another session, given what is left, keeps reading and writing.
func TestUnreadReadsHoldOnePieceEach(t *testing.T) {
	const hostileReads = 64
	addr, _, tgt := serveTarget(t, func(c *Config) {
		c.DataBudget, c.MaxTransferLength = hostileReads*dataInPiece+lunBytes, lunBytes
		c.Logger = discardLogger()
	})
	hostile := dial(t, addr)
	hostile.mustLogin()
	for range hostileReads {
		hostile.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Read: true, ITT: hostile.nextITT(),
			ExpectedDataTransferLength: lunBytes, CmdSN: hostile.cmdSN, ExpStatSN: hostile.expStatSN, CDB: read10(0, 2048)}, nil))
		hostile.cmdSN++
	}
	// The first READs may end whole into the sockets' buffers; the rest
	// stall, holding a piece each and never more.
	waitBudget(t, tgt, "the unread READs holding their pieces", func(n uint64) bool {
		if n > hostileReads*dataInPiece {
			t.Fatalf("%d bytes in use for %d READs: more than a piece each", n, hostileReads)
		}
		return n >= hostileReads/2*dataInPiece
	})
	good := dial(t, addr)
	good.isid[5] = 7
	good.mustLogin()
	data := pattern(64<<10, 9)
	if w := good.command(write10(0, 128), uint32(len(data)), false, data); w.status != 0 {
		t.Fatalf("WRITE beside the unread READs: status %#x", w.status)
	}
	if r := good.command(read10(0, 2048), lunBytes, true, nil); r.status != 0 || !bytes.Equal(r.data[:len(data)], data) {
		t.Fatalf("READ beside the unread READs: status %#x, %d bytes", r.status, len(r.data))
	}
	hostile.nc.Close()
	waitBudget(t, tgt, "budget back after the reader left", func(n uint64) bool { return n == 0 })
}
