package iscsi

import (
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/task"
)

// waitBudget waits until the target's data budget in use satisfies ok,
// checking on the way that it never exceeds its size.
func waitBudget(t *testing.T, tgt *Target, what string, ok func(uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := tgt.buffers.inUse()
		if n > tgt.cfg.DataBudget {
			t.Fatalf("%d bytes of data buffers in use, budget %d", n, tgt.cfg.DataBudget)
		}
		if ok(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d bytes in use", what, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Writes are admitted against the target-wide data budget: past it a
// command gets BUSY, and what a command held comes back when it ends or
// its connection drops.
func TestDataBudgetAdmitsWrites(t *testing.T) {
	const size = 64 << 10
	addr, _, tgt := serveTarget(t, func(c *Config) { c.DataBudget, c.MaxTransferLength = size, size })
	a, b := dial(t, addr), dial(t, addr)
	b.isid[5] = 9
	a.mustLogin(pdu.KV{Key: "ImmediateData", Value: "No"})
	b.mustLogin()
	// A's write holds the whole budget while it waits for its data.
	itt := a.nextITT()
	a.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Write: true, ITT: itt, ExpectedDataTransferLength: size,
		CmdSN: a.cmdSN, ExpStatSN: a.expStatSN, CDB: write10(0, size/512)}, nil))
	a.cmdSN++
	if p := a.recv(); p.Header.Opcode() != pdu.OpR2T {
		t.Fatalf("got %v, want R2T", p.Header.Opcode())
	}
	for _, op := range []struct {
		name string
		run  func() result
	}{
		{"write", func() result { return b.command(write10(100, 1), 512, false, pattern(512, 1)) }},
		{"read", func() result { return b.command(read10(100, 1), 512, true, nil) }},
	} {
		if r := op.run(); r.status != byte(task.Busy) {
			t.Fatalf("%s past the budget: status %#x, want BUSY", op.name, r.status)
		}
	}
	// A's connection drops with its write still collecting: the budget
	// comes back.
	a.nc.Close()
	waitBudget(t, tgt, "budget back after the connection dropped", func(n uint64) bool { return n == 0 })
	if r := b.command(write10(100, 1), 512, false, pattern(512, 1)); r.status != 0 {
		t.Fatalf("write after the budget came back: status %#x", r.status)
	}
}

// Initiators that send large READs and never read their sockets hold at
// most the data budget, however many they send; the rest get BUSY.
func TestDataBudgetBoundsUnreadReads(t *testing.T) {
	const size = 1 << 20
	addr, _, tgt := serveTarget(t, func(c *Config) {
		c.DataBudget, c.MaxTransferLength, c.Logger = size, size, discardLogger()
	})
	var hostile []*initiator
	for i := range 4 {
		in := dial(t, addr)
		in.isid[5] = byte(i)
		in.mustLogin()
		hostile = append(hostile, in)
		for range 32 {
			// READ(10) of 512 KiB (the LUN's first 1024 blocks).
			in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Read: true, ITT: in.nextITT(),
				ExpectedDataTransferLength: 512 << 10, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: read10(0, 1024)}, nil))
			in.cmdSN++
		}
	}
	waitBudget(t, tgt, "reads admitted", func(n uint64) bool { return n > 0 })
	// The target keeps within the budget while the reads sit unsent.
	for range 50 {
		waitBudget(t, tgt, "", func(uint64) bool { return true })
		time.Sleep(2 * time.Millisecond)
	}
	for _, in := range hostile {
		in.nc.Close()
	}
	waitBudget(t, tgt, "budget back after the readers left", func(n uint64) bool { return n == 0 })
}
