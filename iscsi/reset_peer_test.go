package iscsi

import (
	"bytes"
	"testing"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sbc"
	"github.com/ferry-san/ferry/scsi/task"
)

// TestPeerResetAbortsEveryTask: a logical unit reset received by another
// node's portal reaches this one as the reset's Effect (Server.Deliver, as
// rpc/iscsitarget does when it applies the reset from the log). Every
// session's write still waiting for its data here is aborted: its data-out
// is dropped, it ends TASK ABORTED and the block is never written, so
// that no write lands through any portal once the reset is answered.
func TestPeerResetAbortsEveryTask(t *testing.T) {
	vol := &memVolume{data: make([]byte, 128*512)}
	srv := sbc.New(sbc.Config{Logger: discardLogger()}, nil)
	id := sbc.Identity{NAA: []byte{0x50, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x09}, Serial: "peer-reset"}
	if err := srv.Add(0, sbc.NewLUN(vol, id)); err != nil {
		t.Fatal(err)
	}
	addr, _, tgt := serveTarget(t, func(c *Config) { c.Server, c.Logger = srv, discardLogger() })
	srv.SetTaskAborter(tgt)
	_, reset, err := pr.Apply(pr.State{}, pr.Nexus{Initiator: "iqn.elsewhere,i,0x1", TargetPort: 2}, pr.ResetCDB(), nil)
	if err != nil {
		t.Fatal(err)
	}

	a, b := dial(t, addr), dial(t, addr)
	b.isid[5] = 9
	a.mustLogin()
	b.mustLogin()
	// Each I_T nexus addresses the LUN (clearing the unit attention a
	// new one has), so that the reset's reaches it.
	for _, in := range []*initiator{a, b} {
		for range 3 {
			if in.command(make([]byte, 6), 0, false, nil).status == statusGood {
				break
			}
		}
	}
	const rounds = 50
	for i := range rounds {
		itts := make([]uint32, 2)
		ttts := make([]uint32, 2)
		for j, in := range []*initiator{a, b} {
			itts[j] = in.nextITT()
			in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Write: true, ITT: itts[j],
				ExpectedDataTransferLength: 512, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: write16(uint64(2*i+j), 1)}, nil))
			in.cmdSN++
			p := in.recv()
			var r2t pdu.R2T
			r2t.Unmarshal(&p.Header)
			if p.Header.Opcode() != pdu.OpR2T || r2t.ITT != itts[j] {
				t.Fatalf("round %d: got %v for ITT %#x, want an R2T", i, p.Header.Opcode(), r2t.ITT)
			}
			ttts[j] = r2t.TTT
		}
		srv.Deliver(id, reset)
		for j, in := range []*initiator{a, b} {
			in.sendData(itts[j], ttts[j], bytes.Repeat([]byte{0xee}, 512), 0, 512)
			p := in.recv()
			var r pdu.SCSIResponse
			r.Unmarshal(&p.Header)
			if p.Header.Opcode() != pdu.OpSCSIResponse || r.ITT != itts[j] || r.Status != byte(task.TaskAborted) {
				t.Fatalf("round %d session %d: got %v ITT %#x status %#x, want TASK ABORTED", i, j, p.Header.Opcode(), r.ITT, r.Status)
			}
			if got := vol.block(uint64(2*i + j)); !bytes.Equal(got, make([]byte, 512)) {
				t.Fatalf("round %d session %d: a write aborted by another portal's reset reached the medium", i, j)
			}
			// The reset's unit attention, then the session goes on.
			if asc, _, ok := unitAttention(in.command(make([]byte, 6), 0, false, nil)); !ok || asc != 0x29 {
				t.Fatalf("round %d session %d: no reset unit attention after the reset", i, j)
			}
		}
	}
}
