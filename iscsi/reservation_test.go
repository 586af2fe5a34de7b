package iscsi

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/sbc"
	"github.com/ferry-san/ferry/scsi/task"
)

// startReservingTarget serves a volume of blocks 512-byte blocks through
// the block server as LUN 0, with the target wired to abort tasks for
// PREEMPT AND ABORT, as rpc/iscsitarget does.
func startReservingTarget(t *testing.T, blocks int) (string, *memVolume) {
	t.Helper()
	vol := &memVolume{data: make([]byte, blocks*512)}
	srv := sbc.New(sbc.Config{Logger: discardLogger()}, nil)
	id := sbc.Identity{NAA: []byte{0x50, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08}, Serial: "pr"}
	if err := srv.Add(0, sbc.NewLUN(vol, id)); err != nil {
		t.Fatal(err)
	}
	addr, _, tgt := serveTarget(t, func(c *Config) { c.Server, c.Logger = srv, discardLogger() })
	srv.SetTaskAborter(tgt)
	return addr, vol
}

// prOut runs PERSISTENT RESERVE OUT with the basic parameter list.
func (in *initiator) prOut(sa, typ byte, key, sak uint64) byte {
	in.t.Helper()
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p, key)
	binary.BigEndian.PutUint64(p[8:], sak)
	return in.command([]byte{0x5F, sa, typ, 0, 0, 0, 0, 0, 24, 0}, 24, false, p).status
}

// unitAttention reports the ASC and ASCQ of a UNIT ATTENTION in fixed
// format sense data.
func unitAttention(r result) (byte, byte, bool) {
	if r.status != byte(task.CheckCondition) || len(r.sense) < 14 || r.sense[2]&0x0F != 0x06 {
		return 0, 0, false
	}
	return r.sense[12], r.sense[13], true
}

const (
	statusGood     = byte(task.Good)
	statusConflict = byte(task.ReservationConflict)
)

// TestReservationsAcrossSessions: two sessions of one initiator name (two
// I_T nexuses) register, reserve, preempt and abort, through the iSCSI
// target and the block server.
func TestReservationsAcrossSessions(t *testing.T) {
	addr, vol := startReservingTarget(t, 64)
	a, b := dial(t, addr), dial(t, addr)
	b.isid[5] = 9
	a.mustLogin()
	b.mustLogin()
	const ka, kb = 0xA1, 0xB2
	block := bytes.Repeat([]byte{0xAA}, 512)

	if s := a.prOut(0x00, 0, 0, ka); s != statusGood {
		t.Fatalf("a REGISTER: status %#x", s)
	}
	if s := b.prOut(0x06, 0, 0, kb); s != statusGood {
		t.Fatalf("b REGISTER AND IGNORE EXISTING KEY: status %#x", s)
	}
	if s := a.prOut(0x01, 0x03, ka, 0); s != statusGood { // RESERVE, Exclusive Access
		t.Fatalf("a RESERVE: status %#x", s)
	}
	if r := b.command(write10(1, 1), 512, false, block); r.status != statusConflict {
		t.Fatalf("b's write under a's exclusive access: status %#x", r.status)
	}
	if r := b.command(read10(1, 1), 512, true, nil); r.status != statusConflict {
		t.Fatalf("b's read under a's exclusive access: status %#x", r.status)
	}
	if r := a.command(write10(1, 1), 512, false, block); r.status != statusGood {
		t.Fatalf("a's write: status %#x", r.status)
	}
	keys := b.command([]byte{0x5E, 0, 0, 0, 0, 0, 0, 0, 64, 0}, 64, true, nil)
	if keys.status != statusGood || !bytes.Equal(keys.data[4:8], []byte{0, 0, 0, 16}) {
		t.Fatalf("READ KEYS: status %#x data % x", keys.status, keys.data)
	}

	// b preempts a's reservation: a learns of it from a unit attention,
	// then its writes conflict.
	if s := b.prOut(0x04, 0x01, kb, ka); s != statusGood { // PREEMPT, Write Exclusive
		t.Fatalf("b PREEMPT: status %#x", s)
	}
	if asc, ascq, ok := unitAttention(a.command([]byte{0, 0, 0, 0, 0, 0}, 0, false, nil)); !ok || asc != 0x2A || ascq != 0x05 {
		t.Fatalf("a's next command: want UNIT ATTENTION, REGISTRATIONS PREEMPTED, got %02x/%02x %v", asc, ascq, ok)
	}
	if r := a.command(write10(2, 1), 512, false, block); r.status != statusConflict {
		t.Fatalf("a's write after the preemption: status %#x", r.status)
	}
	if s := b.prOut(0x03, 0, kb, 0); s != statusGood { // CLEAR
		t.Fatalf("b CLEAR: status %#x", s)
	}

	// PREEMPT AND ABORT: a write of a's still waiting for its data-out is
	// aborted, and never lands, though no reservation would refuse it.
	if s := a.prOut(0x00, 0, 0, ka); s != statusGood {
		t.Fatalf("a REGISTER again: status %#x", s)
	}
	if s := b.prOut(0x00, 0, 0, kb); s != statusGood {
		t.Fatalf("b REGISTER again: status %#x", s)
	}
	itt := a.nextITT()
	a.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Write: true, ITT: itt,
		ExpectedDataTransferLength: 512, CmdSN: a.cmdSN, ExpStatSN: a.expStatSN, CDB: write16(3, 1)}, nil))
	a.cmdSN++
	p := a.recv()
	var r2t pdu.R2T
	r2t.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpR2T || r2t.ITT != itt {
		t.Fatalf("got %v for ITT %#x, want an R2T", p.Header.Opcode(), r2t.ITT)
	}
	if s := b.prOut(0x05, 0x01, kb, ka); s != statusGood { // PREEMPT AND ABORT
		t.Fatalf("b PREEMPT AND ABORT: status %#x", s)
	}
	a.sendData(itt, r2t.TTT, block, 0, 512)
	p = a.recv()
	var resp pdu.SCSIResponse
	resp.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpSCSIResponse || resp.ITT != itt || resp.Status != byte(task.TaskAborted) {
		t.Fatalf("a's write: got %v ITT %#x status %#x, want TASK ABORTED", p.Header.Opcode(), resp.ITT, resp.Status)
	}
	if !bytes.Equal(vol.block(3), make([]byte, 512)) {
		t.Fatal("a write aborted by PREEMPT AND ABORT reached the medium")
	}
	if s := b.prOut(0x03, 0, kb, 0); s != statusGood {
		t.Fatalf("b CLEAR: status %#x", s)
	}
}

// TestReserve6ReleasedOnNexusLoss: a RESERVE(6) reservation ends with its
// holder's session, by logout or by a dropped connection, as libiscsi's
// Reserve6.Logout and Reserve6.ITNexusLoss check.
func TestReserve6ReleasedOnNexusLoss(t *testing.T) {
	for _, end := range []struct {
		name string
		end  func(*initiator)
	}{
		{"logout", func(in *initiator) {
			if r := in.logout(); r.Response != 0 {
				in.t.Fatalf("logout: response %d", r.Response)
			}
		}},
		{"connection dropped", func(in *initiator) { in.nc.Close() }},
	} {
		t.Run(end.name, func(t *testing.T) { reserve6UntilNexusLoss(t, end.end) })
	}
}

// reserve6UntilNexusLoss has one session reserve the LUN, ends it with
// end, and waits for another session's RESERVE(6) to succeed.
func reserve6UntilNexusLoss(t *testing.T, end func(*initiator)) {
	addr, _ := startReservingTarget(t, 64)
	a, b := dial(t, addr), dial(t, addr)
	b.isid[5] = 9
	a.mustLogin()
	b.mustLogin()
	reserve6 := []byte{0x16, 0, 0, 0, 0, 0}
	if r := a.command(reserve6, 0, false, nil); r.status != statusGood {
		t.Fatalf("a RESERVE(6): status %#x", r.status)
	}
	if r := b.command(reserve6, 0, false, nil); r.status != statusConflict {
		t.Fatalf("b RESERVE(6): status %#x", r.status)
	}
	end(a)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := b.command(reserve6, 0, false, nil)
		if r.status == statusGood {
			break
		}
		if r.status != statusConflict || time.Now().After(deadline) {
			t.Fatalf("b RESERVE(6) after a's session ended: status %#x", r.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
