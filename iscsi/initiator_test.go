package iscsi

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi/internal/memlun"
	"github.com/ferry-san/ferry/iscsi/pdu"
)

// This file is a minimal initiator for the tests: enough of RFC 7143 to
// log in, run reads and writes with immediate, unsolicited and solicited
// data, ping and log out, checking what the target sends on the way.

const testIQN = "iqn.2026-11.io.ferry:test"

// startTarget serves an in-memory LUN of 2048 blocks on a loopback port.
func startTarget(t *testing.T, mutate func(*Config)) (string, *memlun.Server) {
	t.Helper()
	addr, srv, _ := serveTarget(t, mutate)
	return addr, srv
}

// serveTarget is startTarget that also returns the Target.
func serveTarget(t *testing.T, mutate func(*Config)) (string, *memlun.Server, *Target) {
	t.Helper()
	srv := memlun.New(2048)
	cfg := DefaultConfig()
	cfg.TargetName, cfg.Server = testIQN, srv
	cfg.Logger = testLogger(t)
	if mutate != nil {
		mutate(&cfg)
	}
	tgt, err := NewTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tgt.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		tgt.Close()
	})
	return ln.Addr().String(), srv, tgt
}

type initiator struct {
	t         *testing.T
	nc        net.Conn
	r         *pdu.Reader
	digests   pdu.Digests
	isid      [6]byte
	tsih      uint16
	itt       uint32
	cmdSN     uint32
	expStatSN uint32
	maxCmdSN  uint32
	// answers are the target's replies during login, by key.
	answers map[string]string
	// sendLimit is the target's MaxRecvDataSegmentLength.
	sendLimit int
	// firstBurst, maxBurst, immediateData, initialR2T are the outcome of
	// the operational negotiation.
	firstBurst, maxBurst      int
	immediateData, initialR2T bool
}

func dial(t *testing.T, addr string) *initiator {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &initiator{t: t, nc: nc, r: pdu.NewReader(nc, 1<<24), isid: [6]byte{0x80, 1, 2, 3, 4, 5},
		itt: 0x100, cmdSN: 1, answers: map[string]string{}, sendLimit: 8192, firstBurst: 65536,
		maxBurst: 262144, immediateData: true, initialR2T: true}
}

func (in *initiator) send(p *pdu.PDU) {
	in.t.Helper()
	if _, err := in.nc.Write(pdu.Append(nil, p, in.digests)); err != nil {
		in.t.Fatalf("send %v: %v", p.Header.Opcode(), err)
	}
}

// recv returns the next PDU, failing the test after 10 s.
func (in *initiator) recv() *pdu.PDU {
	in.t.Helper()
	p, err := in.tryRecv(10 * time.Second)
	if err != nil {
		in.t.Fatalf("recv: %v", err)
	}
	return p
}

func (in *initiator) tryRecv(d time.Duration) (*pdu.PDU, error) {
	in.nc.SetReadDeadline(time.Now().Add(d))
	p, err := in.r.Read()
	if err != nil {
		return nil, err
	}
	if p.Header.Opcode() != pdu.OpDataIn && p.Header.Opcode() != pdu.OpR2T {
		in.expStatSN = binary.BigEndian.Uint32(p.Header[24:]) + 1
	}
	in.maxCmdSN = binary.BigEndian.Uint32(p.Header[32:])
	return p, nil
}

func (in *initiator) nextITT() uint32 { in.itt++; return in.itt }

// loginStep sends one login request and returns the response and keys.
func (in *initiator) loginStep(req pdu.LoginRequest, kvs []pdu.KV) (pdu.LoginResponse, map[string]string) {
	in.t.Helper()
	req.ISID, req.TSIH, req.ITT, req.CmdSN, req.ExpStatSN = in.isid, in.tsih, in.nextITT(), in.cmdSN, in.expStatSN
	in.send(pdu.Build(&req, pdu.AppendText(nil, kvs)))
	p := in.recv()
	if p.Header.Opcode() != pdu.OpLoginResp {
		in.t.Fatalf("got %v during login", p.Header.Opcode())
	}
	var resp pdu.LoginResponse
	resp.Unmarshal(&p.Header)
	got, err := pdu.ParseText(p.Data)
	if err != nil {
		in.t.Fatal(err)
	}
	keys := map[string]string{}
	for _, kv := range got {
		keys[kv.Key] = kv.Value
		in.answers[kv.Key] = kv.Value
	}
	return resp, keys
}

// login logs in to a normal session (or a discovery one when target is
// empty) in two steps, security then operational, offering ops.
func (in *initiator) login(target string, ops ...pdu.KV) pdu.LoginResponse {
	in.t.Helper()
	sec := []pdu.KV{{Key: "InitiatorName", Value: "iqn.2026-11.io.ferry:test-initiator"}, {Key: "AuthMethod", Value: "None"}}
	if target == "" {
		sec = append(sec, pdu.KV{Key: "SessionType", Value: "Discovery"})
	} else {
		sec = append(sec, pdu.KV{Key: "SessionType", Value: "Normal"}, pdu.KV{Key: "TargetName", Value: target})
	}
	resp, _ := in.loginStep(pdu.LoginRequest{Transit: true, CSG: pdu.StageSecurity, NSG: pdu.StageOperational}, sec)
	if resp.StatusClass != 0 {
		return resp
	}
	resp, _ = in.loginStep(pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature}, ops)
	in.finishLogin(resp)
	return resp
}

// finishLogin applies the negotiated values once the login completed.
func (in *initiator) finishLogin(resp pdu.LoginResponse) {
	if resp.StatusClass != 0 || !resp.Transit || resp.NSG != pdu.StageFullFeature {
		return
	}
	in.tsih = resp.TSIH
	a := in.answers
	in.digests = pdu.Digests{Header: a["HeaderDigest"] == "CRC32C", Data: a["DataDigest"] == "CRC32C"}
	in.r.Digests = in.digests
	num := func(k string, def int) int {
		if v, err := strconv.Atoi(a[k]); err == nil {
			return v
		}
		return def
	}
	in.sendLimit = num("MaxRecvDataSegmentLength", 8192)
	in.firstBurst, in.maxBurst = num("FirstBurstLength", 65536), num("MaxBurstLength", 262144)
	if v, ok := a["ImmediateData"]; ok {
		in.immediateData = v == "Yes"
	}
	if v, ok := a["InitialR2T"]; ok {
		in.initialR2T = v == "Yes"
	}
}

// mustLogin logs in to the test target and fails on anything but success.
func (in *initiator) mustLogin(ops ...pdu.KV) {
	in.t.Helper()
	if resp := in.login(testIQN, ops...); resp.StatusClass != 0 || resp.TSIH == 0 {
		in.t.Fatalf("login: status %d/%d tsih %d", resp.StatusClass, resp.StatusDetail, resp.TSIH)
	}
}

// result is what a command came back with.
type result struct {
	status   byte
	data     []byte
	sense    []byte
	residual pdu.Residual
	dataIns  int
	r2ts     int
}

// command runs one SCSI command, sending its data-out as the negotiated
// values allow, and collects its data-in and status.
func (in *initiator) command(cdb []byte, edtl uint32, read bool, out []byte) result {
	in.t.Helper()
	itt := in.nextITT()
	m := &pdu.SCSICommand{Final: true, Read: read, Write: out != nil, Attr: 1, ITT: itt,
		ExpectedDataTransferLength: edtl, CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: cdb}
	in.cmdSN++
	sent := 0
	var imm []byte
	if out != nil && in.immediateData {
		sent = min(len(out), in.firstBurst, in.sendLimit)
		imm = out[:sent]
	}
	unsolicited := out != nil && !in.initialR2T && sent < min(len(out), in.firstBurst)
	m.Final = !unsolicited
	in.send(pdu.EncodeSCSICommand(m, imm))
	if unsolicited {
		in.sendData(itt, pdu.ReservedTag, out, sent, min(len(out), in.firstBurst)-sent)
	}
	var res result
	for {
		p := in.recv()
		switch p.Header.Opcode() {
		case pdu.OpR2T:
			var r pdu.R2T
			r.Unmarshal(&p.Header)
			if r.ITT != itt || r.R2TSN != uint32(res.r2ts) {
				in.t.Fatalf("R2T ITT %#x R2TSN %d, want %#x %d", r.ITT, r.R2TSN, itt, res.r2ts)
			}
			if r.DesiredDataTransferLength > uint32(in.maxBurst) {
				in.t.Fatalf("R2T asks for %d bytes, more than MaxBurstLength %d", r.DesiredDataTransferLength, in.maxBurst)
			}
			res.r2ts++
			in.sendData(itt, r.TTT, out, int(r.BufferOffset), int(r.DesiredDataTransferLength))
		case pdu.OpDataIn:
			var d pdu.DataIn
			d.Unmarshal(&p.Header)
			if d.DataSN != uint32(res.dataIns) || int(d.BufferOffset) != len(res.data) || len(p.Data) > 8192 {
				in.t.Fatalf("Data-In DataSN %d offset %d size %d after %d PDUs of %d bytes",
					d.DataSN, d.BufferOffset, len(p.Data), res.dataIns, len(res.data))
			}
			res.dataIns++
			res.data = append(res.data, p.Data...)
			if d.HasStatus {
				res.status, res.residual = d.Status, d.Residual
				return res
			}
		case pdu.OpSCSIResponse:
			var r pdu.SCSIResponse
			r.Unmarshal(&p.Header)
			res.status, res.residual = r.Status, r.Residual
			if len(p.Data) >= 2 {
				n := int(binary.BigEndian.Uint16(p.Data))
				res.sense = p.Data[2 : 2+n]
			}
			return res
		default:
			in.t.Fatalf("unexpected %v during a command", p.Header.Opcode())
		}
	}
}

// sendData sends out[off:off+n] in Data-Out PDUs no larger than the
// target accepts, as one sequence.
func (in *initiator) sendData(itt, ttt uint32, out []byte, off, n int) {
	in.t.Helper()
	var sn uint32
	for end := off + n; off < end; sn++ {
		k := min(end-off, in.sendLimit)
		d := &pdu.DataOut{Final: off+k == end, ITT: itt, TTT: ttt, ExpStatSN: in.expStatSN, DataSN: sn, BufferOffset: uint32(off)}
		in.send(pdu.Build(d, out[off:off+k]))
		off += k
	}
}

func (in *initiator) logout() pdu.LogoutResponse {
	in.t.Helper()
	in.send(pdu.Build(&pdu.LogoutRequest{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: in.nextITT(),
		CmdSN: in.cmdSN, ExpStatSN: in.expStatSN}, nil))
	p := in.recv()
	if p.Header.Opcode() != pdu.OpLogoutResp {
		in.t.Fatalf("got %v for a logout", p.Header.Opcode())
	}
	var r pdu.LogoutResponse
	r.Unmarshal(&p.Header)
	return r
}

// waitClosed waits for the target to close the connection.
func (in *initiator) waitClosed() {
	in.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, err := in.tryRecv(time.Until(deadline))
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || err != nil && !isTimeout(err) {
			return
		}
	}
	in.t.Fatal("the target did not close the connection")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// CDB builders.
func read10(lba uint32, blocks uint16) []byte {
	c := make([]byte, 10)
	c[0] = 0x28
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint16(c[7:], blocks)
	return c
}

func write10(lba uint32, blocks uint16) []byte {
	c := read10(lba, blocks)
	c[0] = 0x2a
	return c
}

func chapAnswer(id byte, secret, challengeHex string) string {
	ch, _ := hex.DecodeString(strings.TrimPrefix(challengeHex, "0x"))
	sum := md5.Sum(append(append([]byte{id}, secret...), ch...))
	return "0x" + hex.EncodeToString(sum[:])
}
