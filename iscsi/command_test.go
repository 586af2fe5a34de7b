package iscsi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi/internal/memlun"
	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/task"
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// TestWriteRead writes through every way of sending data-out and reads
// the blocks back.
func TestWriteRead(t *testing.T) {
	tests := []struct {
		name   string
		target func(*Config)
		ops    []pdu.KV
		blocks uint16
		r2ts   int
	}{
		{"R2T only", nil, []pdu.KV{{Key: "ImmediateData", Value: "No"}}, 16, 1},
		{"immediate then R2T", func(c *Config) { c.MaxRecvDataSegmentLength = 512 }, nil, 16, 1},
		{"immediate covers all", nil, nil, 8, 0},
		{"unsolicited", nil, []pdu.KV{{Key: "InitialR2T", Value: "No"}, {Key: "ImmediateData", Value: "No"},
			{Key: "MaxRecvDataSegmentLength", Value: "512"}}, 16, 0},
		{"unsolicited beyond first burst", func(c *Config) { c.FirstBurstLength = 1024; c.MaxBurstLength = 2048 },
			[]pdu.KV{{Key: "InitialR2T", Value: "No"}, {Key: "FirstBurstLength", Value: "4096"}, {Key: "MaxBurstLength", Value: "4096"}},
			64, 16},
		{"many bursts, several outstanding R2Ts", func(c *Config) { c.MaxBurstLength = 4096; c.FirstBurstLength = 512; c.MaxOutstandingR2T = 4 },
			[]pdu.KV{{Key: "MaxBurstLength", Value: "4096"}, {Key: "FirstBurstLength", Value: "512"},
				{Key: "MaxOutstandingR2T", Value: "4"}, {Key: "ImmediateData", Value: "No"}}, 128, 16},
		{"digests", func(c *Config) { c.MaxBurstLength, c.FirstBurstLength = 8192, 8192 },
			[]pdu.KV{{Key: "HeaderDigest", Value: "CRC32C"}, {Key: "DataDigest", Value: "CRC32C"},
				{Key: "MaxBurstLength", Value: "8192"}, {Key: "MaxRecvDataSegmentLength", Value: "4096"},
				{Key: "ImmediateData", Value: "No"}}, 64, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, srv := startTarget(t, tc.target)
			in := dial(t, addr)
			in.mustLogin(tc.ops...)
			data := pattern(int(tc.blocks)*memlun.BlockSize, byte(tc.blocks))
			w := in.command(write10(10, tc.blocks), uint32(len(data)), false, data)
			if w.status != 0 || w.r2ts != tc.r2ts {
				t.Fatalf("WRITE(10): status %#x after %d R2Ts, want GOOD after %d", w.status, w.r2ts, tc.r2ts)
			}
			if got := srv.Bytes()[10*memlun.BlockSize:][:len(data)]; !bytes.Equal(got, data) {
				t.Fatal("the LUN does not hold what was written")
			}
			r := in.command(read10(10, tc.blocks), uint32(len(data)), true, nil)
			if r.status != 0 || !bytes.Equal(r.data, data) || r.residual != (pdu.Residual{}) {
				t.Fatalf("READ(10): status %#x, %d bytes, residual %+v", r.status, len(r.data), r.residual)
			}
			if lr := in.logout(); lr.Response != pdu.LogoutSuccess {
				t.Fatalf("logout response %d", lr.Response)
			}
			in.waitClosed()
		})
	}
}

func TestDataInSplitsBySegmentAndCarriesStatus(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin(pdu.KV{Key: "MaxRecvDataSegmentLength", Value: "1024"})
	r := in.command(read10(0, 16), 16*memlun.BlockSize, true, nil)
	if r.status != 0 || len(r.data) != 8192 || r.dataIns != 8 {
		t.Fatalf("status %#x, %d bytes in %d Data-In PDUs, want 8192 in 8", r.status, len(r.data), r.dataIns)
	}
}

func TestResiduals(t *testing.T) {
	tests := []struct {
		name  string
		cdb   []byte
		edtl  uint32
		read  bool
		out   []byte
		want  pdu.Residual
		bytes int
	}{
		{"read underflow", read10(0, 1), 1024, true, nil, pdu.Residual{Underflow: true, Count: 512}, 512},
		{"read overflow", read10(0, 2), 512, true, nil, pdu.Residual{Overflow: true, Count: 512}, 512},
		{"write underflow", write10(0, 1), 1024, false, make([]byte, 1024), pdu.Residual{Underflow: true, Count: 512}, 0},
		{"write overflow", write10(0, 2), 512, false, make([]byte, 512), pdu.Residual{Overflow: true, Count: 512}, 0},
		{"exact", read10(0, 1), 512, true, nil, pdu.Residual{}, 512},
	}
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := in.command(tc.cdb, tc.edtl, tc.read, tc.out)
			if r.status != 0 || r.residual != tc.want || len(r.data) != tc.bytes {
				t.Fatalf("status %#x residual %+v with %d bytes, want GOOD %+v with %d", r.status, r.residual, len(r.data), tc.want, tc.bytes)
			}
		})
	}
}

func TestCheckConditionCarriesSense(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin()
	r := in.command(read10(4096, 1), 512, true, nil)
	if r.status != byte(task.CheckCondition) {
		t.Fatalf("status %#x, want CHECK CONDITION", r.status)
	}
	// Fixed format: response code 70h, key in byte 2, ASC/ASCQ at 12/13.
	if len(r.sense) < 18 || r.sense[0] != 0x70 || r.sense[2]&0x0f != 0x05 || r.sense[12] != 0x21 {
		t.Fatalf("sense %x, want ILLEGAL REQUEST / LBA OUT OF RANGE", r.sense)
	}
	if r.residual != (pdu.Residual{Underflow: true, Count: 512}) {
		t.Fatalf("residual %+v", r.residual)
	}
}

func TestNOP(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin()
	in.send(pdu.Build(&pdu.NOPOut{Immediate: true, ITT: 0x77, TTT: pdu.ReservedTag, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN}, []byte("hello")))
	p := in.recv()
	var m pdu.NOPIn
	m.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpNOPIn || m.ITT != 0x77 || m.TTT != pdu.ReservedTag || string(p.Data) != "hello" {
		t.Fatalf("got %v ITT %#x TTT %#x data %q", p.Header.Opcode(), m.ITT, m.TTT, p.Data)
	}
}

func TestTargetPingsIdleConnections(t *testing.T) {
	addr, _ := startTarget(t, func(c *Config) { c.NOPInterval, c.NOPTimeout = 50*time.Millisecond, 200*time.Millisecond })
	in := dial(t, addr)
	in.mustLogin()
	p := in.recv()
	var m pdu.NOPIn
	m.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpNOPIn || m.ITT != pdu.ReservedTag || m.TTT == pdu.ReservedTag {
		t.Fatalf("got %v ITT %#x TTT %#x, want a ping", p.Header.Opcode(), m.ITT, m.TTT)
	}
	in.send(pdu.Build(&pdu.NOPOut{Immediate: true, ITT: pdu.ReservedTag, TTT: m.TTT, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN}, nil))
	// Answered pings keep the connection; unanswered ones end it.
	if p := in.recv(); p.Header.Opcode() != pdu.OpNOPIn {
		t.Fatalf("got %v, want the next ping", p.Header.Opcode())
	}
	in.waitClosed()
}

func TestCmdSNWindow(t *testing.T) {
	addr, _ := startTarget(t, func(c *Config) { c.QueueDepth = 4 })
	in := dial(t, addr)
	in.mustLogin()
	if in.maxCmdSN != in.cmdSN+3 {
		t.Fatalf("MaxCmdSN %d with CmdSN %d and queue depth 4", in.maxCmdSN, in.cmdSN)
	}
	// Outside the window: silently ignored.
	for _, sn := range []uint32{in.cmdSN + 4, in.cmdSN - 1} {
		in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, ITT: 0x900 + sn, CmdSN: sn, CDB: make([]byte, 6)}, nil))
	}
	r := in.command(make([]byte, 6), 0, false, nil)
	if r.status != 0 {
		t.Fatalf("status %#x", r.status)
	}
	if in.maxCmdSN != in.cmdSN+3 {
		t.Fatalf("after the command MaxCmdSN %d, CmdSN %d", in.maxCmdSN, in.cmdSN)
	}
}

// blockingLUN holds READs until released or aborted.
func blockingLUN(srv *memlun.Server) (started chan struct{}, release func()) {
	started = make(chan struct{}, 16)
	gate := make(chan struct{})
	var once sync.Once
	srv.Hook = func(ctx context.Context, t *task.Task) {
		if t.CDB[0] != 0x28 {
			return
		}
		started <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	return started, func() { once.Do(func() { close(gate) }) }
}

func TestTaskManagement(t *testing.T) {
	tests := []struct {
		name     string
		function byte
		refKnown bool
		want     byte
	}{
		{"abort task", pdu.TMFAbortTask, true, pdu.TMFComplete},
		{"abort unknown task", pdu.TMFAbortTask, false, pdu.TMFTaskDoesNotExist},
		{"abort task set", pdu.TMFAbortTaskSet, true, pdu.TMFComplete},
		{"LUN reset", pdu.TMFLogicalUnitReset, true, pdu.TMFComplete},
		{"target warm reset", pdu.TMFTargetWarmReset, true, pdu.TMFComplete},
		{"reassign", pdu.TMFTaskReassign, false, pdu.TMFReassignNotSupp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, srv := startTarget(t, nil)
			started, release := blockingLUN(srv)
			defer release()
			in := dial(t, addr)
			in.mustLogin()
			victim := in.nextITT()
			if tc.refKnown {
				in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Read: true, ITT: victim,
					ExpectedDataTransferLength: 512, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: read10(0, 1)}, nil))
				in.cmdSN++
				<-started
			}
			tmfITT := in.nextITT()
			in.send(pdu.Build(&pdu.TaskMgmtRequest{Immediate: true, Function: tc.function, ITT: tmfITT,
				ReferencedTaskTag: victim, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, RefCmdSN: in.cmdSN - 1}, nil))
			p := in.recv()
			if p.Header.Opcode() != pdu.OpTaskMgmtResp {
				t.Fatalf("got %v before the TMF response: the aborted task answered", p.Header.Opcode())
			}
			var m pdu.TaskMgmtResponse
			m.Unmarshal(&p.Header)
			if m.Response != tc.want || m.ITT != tmfITT {
				t.Fatalf("TMF response %d for ITT %#x, want %d", m.Response, m.ITT, tc.want)
			}
			release()
			// The session goes on; the aborted command's slot is free again.
			if r := in.command(make([]byte, 6), 0, false, nil); r.status != 0 {
				t.Fatalf("TEST UNIT READY after the TMF: %#x", r.status)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name    string
		portals func() []string
		query   string
		want    []pdu.KV
	}{
		{"all portals of the cluster", func() []string { return []string{"10.0.0.1:3260,1", "[fd00::2]:3260,1"} }, "All",
			[]pdu.KV{{Key: "TargetName", Value: testIQN}, {Key: "TargetAddress", Value: "10.0.0.1:3260,1"},
				{Key: "TargetAddress", Value: "[fd00::2]:3260,1"}}},
		{"default portal", nil, "All", nil},
		{"other target", nil, "iqn.2026-11.io.ferry:nope", []pdu.KV{}},
		{"bad value", nil, "Alle", []pdu.KV{{Key: "SendTargets", Value: "Reject"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startTarget(t, func(c *Config) { c.Portals = tc.portals })
			if tc.want == nil {
				tc.want = []pdu.KV{{Key: "TargetName", Value: testIQN}, {Key: "TargetAddress", Value: addr + ",1"}}
			}
			in := dial(t, addr)
			if resp := in.login(""); resp.StatusClass != 0 {
				t.Fatalf("discovery login %d/%d", resp.StatusClass, resp.StatusDetail)
			}
			in.send(pdu.Build(&pdu.TextRequest{Immediate: true, Final: true, ITT: in.nextITT(), TTT: pdu.ReservedTag,
				CmdSN: in.cmdSN, ExpStatSN: in.expStatSN}, pdu.AppendText(nil, []pdu.KV{{Key: "SendTargets", Value: tc.query}})))
			p := in.recv()
			kvs, err := pdu.ParseText(p.Data)
			if p.Header.Opcode() != pdu.OpTextResp || !p.Header.Final() || err != nil {
				t.Fatalf("got %v final %v: %v", p.Header.Opcode(), p.Header.Final(), err)
			}
			if fmt.Sprint(kvs) != fmt.Sprint(tc.want) && !(len(kvs) == 0 && len(tc.want) == 0) {
				t.Fatalf("SendTargets=%s answered %v, want %v", tc.query, kvs, tc.want)
			}
			// A discovery session runs no SCSI commands.
			in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, ITT: 5, CmdSN: in.cmdSN, CDB: make([]byte, 6)}, nil))
			if p := in.recv(); p.Header.Opcode() != pdu.OpReject {
				t.Fatalf("SCSI command in discovery answered by %v", p.Header.Opcode())
			}
		})
	}
}

func TestConcurrentSessions(t *testing.T) {
	addr, srv := startTarget(t, nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			in := dial(t, addr)
			in.isid[5] = byte(i)
			in.mustLogin(pdu.KV{Key: "ImmediateData", Value: "No"})
			for j := range 8 {
				lba := uint32(i*64 + j*8)
				data := pattern(8*memlun.BlockSize, byte(i+j))
				if w := in.command(write10(lba, 8), uint32(len(data)), false, data); w.status != 0 {
					t.Errorf("session %d write %d: %#x", i, j, w.status)
					return
				}
				if r := in.command(read10(lba, 8), uint32(len(data)), true, nil); !bytes.Equal(r.data, data) {
					t.Errorf("session %d read %d differs", i, j)
					return
				}
			}
			in.logout()
		})
	}
	wg.Wait()
	if got := binary.BigEndian.Uint32(srv.Bytes()[0:]); got == 0 {
		t.Fatal("nothing written")
	}
}

func TestSessionReinstatement(t *testing.T) {
	addr, _ := startTarget(t, nil)
	first := dial(t, addr)
	first.mustLogin()
	second := dial(t, addr)
	second.mustLogin()
	first.waitClosed()
	if r := second.command(make([]byte, 6), 0, false, nil); r.status != 0 {
		t.Fatalf("new session: %#x", r.status)
	}
}

func TestOutOfSequenceDataOutIsRejected(t *testing.T) {
	tests := []struct {
		name   string
		dataSN uint32
		offset uint32
	}{
		{"DataSN from the future", 5, 0},
		{"repeated DataSN", 0, 0},
		{"offset outside the R2T", 0, 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startTarget(t, nil)
			in := dial(t, addr)
			in.mustLogin(pdu.KV{Key: "ImmediateData", Value: "No"})
			itt := in.nextITT()
			in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Write: true, ITT: itt,
				ExpectedDataTransferLength: 1024, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: write10(0, 2)}, nil))
			in.cmdSN++
			p := in.recv()
			var r pdu.R2T
			r.Unmarshal(&p.Header)
			if p.Header.Opcode() != pdu.OpR2T {
				t.Fatalf("got %v, want R2T", p.Header.Opcode())
			}
			if tc.name == "repeated DataSN" {
				in.send(pdu.Build(&pdu.DataOut{ITT: itt, TTT: r.TTT, DataSN: 0}, make([]byte, 512)))
			}
			in.send(pdu.Build(&pdu.DataOut{Final: true, ITT: itt, TTT: r.TTT, DataSN: tc.dataSN, BufferOffset: tc.offset + 512}, make([]byte, 512)))
			p = in.recv()
			var rej pdu.Reject
			rej.Unmarshal(&p.Header)
			if p.Header.Opcode() != pdu.OpReject || rej.Reason != pdu.RejectProtocolError || binary.BigEndian.Uint32(p.Data[16:]) != itt {
				t.Fatalf("got %v reason %d, want a protocol error Reject of ITT %#x", p.Header.Opcode(), rej.Reason, itt)
			}
			// The connection and its window survive the dropped command.
			if r := in.command(make([]byte, 6), 0, false, nil); r.status != 0 {
				t.Fatalf("TEST UNIT READY afterwards: %#x", r.status)
			}
		})
	}
}

func TestCloseEndsSessions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TargetName, cfg.Server, cfg.Logger = testIQN, memlun.New(16), testLogger(t)
	tgt, err := NewTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- tgt.Serve(context.Background(), ln) }()
	in := dial(t, ln.Addr().String())
	in.mustLogin()
	if err := tgt.Close(); err != nil {
		t.Fatal(err)
	}
	in.waitClosed()
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve returned %v, want ErrClosed", err)
	}
}

func TestNewTargetChecksConfig(t *testing.T) {
	srv := memlun.New(1)
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no name", func(c *Config) { c.TargetName = "" }},
		{"no server", func(c *Config) { c.Server = nil }},
		{"first burst over max burst", func(c *Config) { c.FirstBurstLength, c.MaxBurstLength = 8192, 4096 }},
		{"tiny segments", func(c *Config) { c.MaxRecvDataSegmentLength = 100 }},
		{"CHAP without secret", func(c *Config) { c.CHAP = &CHAPConfig{User: "u"} }},
		{"mutual CHAP half set", func(c *Config) { c.CHAP = &CHAPConfig{User: "u", Secret: "s", MutualUser: "t"} }},
		{"data budget below one command", func(c *Config) { c.DataBudget = uint64(c.MaxTransferLength) - 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.TargetName, cfg.Server = testIQN, srv
			tc.mutate(&cfg)
			if _, err := NewTarget(cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

// panicky is a task server with a bug.
type panicky struct{}

func (panicky) Execute(context.Context, *task.Task) task.Result { panic("index out of range") }

func TestServerPanicFailsTheCommandOnly(t *testing.T) {
	addr, _ := startTarget(t, func(c *Config) { c.Server = panicky{} })
	in := dial(t, addr)
	in.mustLogin()
	for range 2 {
		r := in.command(read10(0, 1), 512, true, nil)
		if r.status != byte(task.CheckCondition) || len(r.sense) < 14 || r.sense[2]&0x0f != 0x04 || r.sense[12] != 0x44 {
			t.Fatalf("status %#x sense %x, want HARDWARE ERROR / INTERNAL TARGET FAILURE", r.status, r.sense)
		}
	}
}

// resettable records the LUN resets the target passes on.
type resettable struct {
	*memlun.Server
	resets chan uint64
}

func (r resettable) ResetLUN(_ string, lun uint64) { r.resets <- lun }

func TestLUNResetAbortsOtherSessionsTasks(t *testing.T) {
	srv := resettable{Server: memlun.New(64), resets: make(chan uint64, 4)}
	addr, _ := startTarget(t, func(c *Config) { c.Server = srv })
	started, release := blockingLUN(srv.Server)
	defer release()
	a, b := dial(t, addr), dial(t, addr)
	b.isid[5] = 9
	a.mustLogin()
	b.mustLogin()
	itt := a.nextITT()
	a.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Final: true, Read: true, ITT: itt, ExpectedDataTransferLength: 512,
		CmdSN: a.cmdSN, ExpStatSN: a.expStatSN, CDB: read10(0, 1)}, nil))
	a.cmdSN++
	<-started
	b.send(pdu.Build(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFLogicalUnitReset, ITT: b.nextITT(),
		ReferencedTaskTag: pdu.ReservedTag, CmdSN: b.cmdSN, ExpStatSN: b.expStatSN}, nil))
	p := b.recv()
	var tm pdu.TaskMgmtResponse
	tm.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpTaskMgmtResp || tm.Response != pdu.TMFComplete {
		t.Fatalf("got %v response %d, want FUNCTION COMPLETE", p.Header.Opcode(), tm.Response)
	}
	if lun := <-srv.resets; lun != 0 {
		t.Fatalf("ResetLUN(%d), want 0", lun)
	}
	p = a.recv()
	var r pdu.SCSIResponse
	r.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpSCSIResponse || r.ITT != itt || r.Status != byte(task.TaskAborted) {
		t.Fatalf("session A got %v ITT %#x status %#x, want TASK ABORTED", p.Header.Opcode(), r.ITT, r.Status)
	}
}

func TestShutdownAsksInitiatorsToLogOut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TargetName, cfg.Server, cfg.Logger = testIQN, memlun.New(16), testLogger(t)
	tgt, err := NewTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tgt.Serve(context.Background(), ln)
	in := dial(t, ln.Addr().String())
	in.mustLogin()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- tgt.Shutdown(ctx) }()
	p := in.recv()
	var m pdu.AsyncMessage
	m.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpAsyncMessage || m.Event != pdu.AsyncLogoutRequest || m.Parameter3 == 0 {
		t.Fatalf("got %v event %d, want a logout request", p.Header.Opcode(), m.Event)
	}
	if r := in.logout(); r.Response != pdu.LogoutSuccess {
		t.Fatalf("logout response %d", r.Response)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener still accepts connections")
	}
}

func TestTargetColdResetEndsTheConnection(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin()
	in.send(pdu.Build(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFTargetColdReset, ITT: in.nextITT(),
		ReferencedTaskTag: pdu.ReservedTag, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN}, nil))
	p := in.recv()
	var m pdu.TaskMgmtResponse
	m.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpTaskMgmtResp || m.Response != pdu.TMFComplete {
		t.Fatalf("got %v response %d", p.Header.Opcode(), m.Response)
	}
	in.waitClosed()
}
