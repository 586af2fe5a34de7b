package initiator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// maxRecvData is the largest data segment the initiator accepts, as it
// declares in login (MaxRecvDataSegmentLength).
const maxRecvData = 262144

// Session is one logged-in normal session over one connection. Its
// methods are safe for concurrent use; commands run one at a time.
type Session struct {
	mu  sync.Mutex
	nc  net.Conn
	r   *pdu.Reader
	err error // set once the connection is unusable

	isid      [6]byte
	tsih      uint16
	itt       uint32
	cmdSN     uint32
	expStatSN uint32

	// sendLimit is the target's MaxRecvDataSegmentLength.
	sendLimit int
	// firstBurst, immediateData and initialR2T are the negotiated outcome
	// that decides how a command's data-out is sent.
	firstBurst                int
	immediateData, initialR2T bool
}

// Options tune Dial. The zero value takes the documented defaults.
type Options struct {
	// ISID is the initiator session identifier. A session re-established
	// after a failure, through any portal, reuses the lost one's ISID so
	// that the target sees the same I_T nexus (RFC 7143 4.4.3). Default:
	// random, of the random type (10b).
	ISID [6]byte
}

// Dial connects to the portal at addr and logs in to targetName as
// initiatorName: a normal session, no authentication, no digests, a
// random ISID.
func Dial(ctx context.Context, addr, initiatorName, targetName string) (*Session, error) {
	return DialOptions(ctx, addr, initiatorName, targetName, Options{})
}

// DialOptions is Dial with Options.
func DialOptions(ctx context.Context, addr, initiatorName, targetName string, opts Options) (*Session, error) {
	isid := opts.ISID
	if isid == [6]byte{} {
		if _, err := rand.Read(isid[:]); err != nil {
			return nil, fmt.Errorf("iscsi initiator: isid: %w", err)
		}
		isid[0] = 0x80 | isid[0]&0x3f
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("iscsi initiator: dial %s: %w", addr, err)
	}
	s := &Session{nc: nc, r: pdu.NewReader(nc, maxRecvData), isid: isid, cmdSN: 1,
		sendLimit: 8192, firstBurst: 65536, immediateData: true, initialR2T: true}
	if err := s.login(ctx, initiatorName, targetName); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

// ISID is the session's initiator session identifier, to reuse when
// re-establishing the session elsewhere.
func (s *Session) ISID() [6]byte { return s.isid }

// login runs the security and operational stages, one request each.
func (s *Session) login(ctx context.Context, initiatorName, targetName string) error {
	stop := s.watch(ctx)
	defer stop()
	sec := []pdu.KV{{Key: "InitiatorName", Value: initiatorName}, {Key: "SessionType", Value: "Normal"},
		{Key: "TargetName", Value: targetName}, {Key: "AuthMethod", Value: "None"}}
	// The target may declare its keys in either stage's answer.
	keys, err := s.loginStep(pdu.LoginRequest{Transit: true, CSG: pdu.StageSecurity, NSG: pdu.StageOperational}, sec)
	if err != nil {
		return err
	}
	ops := []pdu.KV{{Key: "HeaderDigest", Value: "None"}, {Key: "DataDigest", Value: "None"},
		{Key: "MaxRecvDataSegmentLength", Value: strconv.Itoa(maxRecvData)},
		{Key: "ImmediateData", Value: "Yes"}, {Key: "InitialR2T", Value: "Yes"}}
	opKeys, err := s.loginStep(pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature}, ops)
	if err != nil {
		return err
	}
	maps.Copy(keys, opKeys)
	num := func(k string, def int) int {
		if v, err := strconv.Atoi(keys[k]); err == nil && v > 0 {
			return v
		}
		return def
	}
	s.sendLimit = num("MaxRecvDataSegmentLength", 8192)
	s.firstBurst = num("FirstBurstLength", 65536)
	if v, ok := keys["ImmediateData"]; ok {
		s.immediateData = v == "Yes"
	}
	if v, ok := keys["InitialR2T"]; ok {
		s.initialR2T = v == "Yes"
	}
	return nil
}

// loginStep sends one login request and returns the keys of its answer.
func (s *Session) loginStep(req pdu.LoginRequest, kvs []pdu.KV) (map[string]string, error) {
	req.ISID, req.TSIH, req.ITT, req.CmdSN, req.ExpStatSN = s.isid, s.tsih, s.nextITT(), s.cmdSN, s.expStatSN
	if err := s.send(pdu.Build(&req, pdu.AppendText(nil, kvs))); err != nil {
		return nil, err
	}
	p, err := s.recv()
	if err != nil {
		return nil, err
	}
	if p.Header.Opcode() != pdu.OpLoginResp {
		return nil, fmt.Errorf("%w: got %v during login", ErrLogin, p.Header.Opcode())
	}
	var resp pdu.LoginResponse
	resp.Unmarshal(&p.Header)
	if resp.StatusClass != 0 {
		return nil, fmt.Errorf("%w: status class %d detail %d", ErrLogin, resp.StatusClass, resp.StatusDetail)
	}
	if !resp.Transit || resp.NSG != req.NSG {
		return nil, fmt.Errorf("%w: target did not move to stage %d", ErrLogin, req.NSG)
	}
	got, err := pdu.ParseText(p.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogin, err)
	}
	keys := make(map[string]string, len(got))
	for _, kv := range got {
		keys[kv.Key] = kv.Value
	}
	s.tsih = resp.TSIH
	return keys, nil
}

// Close logs out and closes the connection. A session whose connection
// already broke is just closed.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		s.nc.Close()
		return nil
	}
	defer func() {
		s.err = ErrClosed
		s.nc.Close()
	}()
	s.nc.SetDeadline(time.Now().Add(10 * time.Second))
	err := s.send(pdu.Build(&pdu.LogoutRequest{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: s.nextITT(),
		CmdSN: s.cmdSN, ExpStatSN: s.expStatSN}, nil))
	if err != nil {
		return err
	}
	for {
		p, err := s.recv()
		if err != nil {
			return err
		}
		switch p.Header.Opcode() {
		case pdu.OpLogoutResp:
			var r pdu.LogoutResponse
			r.Unmarshal(&p.Header)
			if r.Response != pdu.LogoutSuccess {
				return fmt.Errorf("%w: logout response %d", ErrProtocol, r.Response)
			}
			return nil
		case pdu.OpNOPIn, pdu.OpAsyncMessage:
			// Unsolicited traffic racing the logout does not matter any more.
		default:
			return fmt.Errorf("%w: got %v for a logout", ErrProtocol, p.Header.Opcode())
		}
	}
}

// watch makes ctx's cancellation interrupt blocking I/O on the connection.
func (s *Session) watch(ctx context.Context) (stop func()) {
	if dl, ok := ctx.Deadline(); ok {
		s.nc.SetDeadline(dl)
	} else {
		s.nc.SetDeadline(time.Time{})
	}
	cancel := context.AfterFunc(ctx, func() { s.nc.SetDeadline(time.Now()) })
	return func() { cancel() }
}

func (s *Session) nextITT() uint32 {
	s.itt++
	if s.itt == pdu.ReservedTag {
		s.itt = 1
	}
	return s.itt
}

// send writes one PDU; a failure makes the session unusable.
func (s *Session) send(p *pdu.PDU) error {
	if _, err := s.nc.Write(pdu.Append(nil, p, pdu.Digests{})); err != nil {
		s.err = fmt.Errorf("%w: send %v: %w", ErrClosed, p.Header.Opcode(), err)
		return s.err
	}
	return nil
}

// recv reads one PDU, tracking StatSN and answering the target's pings;
// a failure makes the session unusable.
func (s *Session) recv() (*pdu.PDU, error) {
	for {
		p, err := s.r.Read()
		if err != nil {
			s.err = fmt.Errorf("%w: recv: %w", ErrClosed, err)
			return nil, s.err
		}
		op := p.Header.Opcode()
		if advancesStatSN(p) {
			s.expStatSN = binary.BigEndian.Uint32(p.Header[24:]) + 1
		}
		if op == pdu.OpNOPIn {
			var n pdu.NOPIn
			n.Unmarshal(&p.Header)
			if n.TTT != pdu.ReservedTag {
				out := &pdu.NOPOut{Immediate: true, LUN: n.LUN, ITT: pdu.ReservedTag, TTT: n.TTT,
					CmdSN: s.cmdSN, ExpStatSN: s.expStatSN}
				if err := s.send(pdu.Build(out, p.Data)); err != nil {
					return nil, err
				}
				continue
			}
		}
		return p, nil
	}
}

// advancesStatSN tells whether p consumed a StatSN: responses do, while
// Data-In without status, R2T, target pings and asynchronous messages
// only report it.
func advancesStatSN(p *pdu.PDU) bool {
	switch p.Header.Opcode() {
	case pdu.OpDataIn:
		return p.Header[1]&0x01 != 0
	case pdu.OpNOPIn:
		return p.Header.ITT() != pdu.ReservedTag
	case pdu.OpR2T, pdu.OpAsyncMessage, pdu.OpReject:
		return false
	}
	return true
}
