package iscsi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// maxLoginText bounds the key=value text a login may accumulate over
// continued PDUs.
const maxLoginText = 64 << 10

// loginState is what one connection's login has settled so far.
type loginState struct {
	c     *conn
	first bool
	isid  [6]byte
	tsih  uint16
	cid   uint16
	// cmdSN is the initiator's CmdSN during login: immediate, so constant.
	cmdSN     uint32
	initiator string
	discovery bool
	stage     byte
	neg       negotiator
	// creds are the CHAP credentials of this login (nil: none), taken once
	// at its start (Target.chapConfig).
	creds    *CHAPConfig
	chap     *chapState
	authDone bool
	pending  []byte
}

// login runs the login phase and returns the new session.
func (c *conn) login() (*session, error) {
	st := &loginState{c: c, first: true, neg: negotiator{cfg: &c.t.cfg, p: defaultParams()}, creds: c.t.chapConfig()}
	c.statSN = 1
	for {
		p, err := c.r.Read()
		if err != nil {
			return nil, err
		}
		if p.Header.Opcode() != pdu.OpLoginReq {
			return nil, fmt.Errorf("%w: %v during login", errProtocol, p.Header.Opcode())
		}
		var req pdu.LoginRequest
		req.Unmarshal(&p.Header)
		resp := pdu.LoginResponse{ISID: req.ISID, TSIH: req.TSIH, ITT: req.ITT, CSG: req.CSG,
			VersionMax: 0, VersionActive: 0}
		kvs, s, err := st.step(&req, p.Data, &resp)
		var ke *keyError
		if errors.As(err, &ke) {
			resp.Transit, resp.Continue, resp.NSG = false, false, 0
			resp.StatusClass, resp.StatusDetail = ke.class, ke.detail
			c.sendLogin(st, &resp, nil)
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		if s == nil {
			if err := c.sendLogin(st, &resp, kvs); err != nil {
				return nil, err
			}
			continue
		}
		// The final response and the session's start are one step under
		// wmu: a Shutdown meanwhile either finds the connection still
		// logging in (and closes it) or waits and finds the session, to
		// ask it to log out, never a session whose login it cut.
		c.wmu.Lock()
		err = c.sendLogin(st, &resp, kvs)
		if err == nil {
			c.digests = pdu.Digests{Header: s.p.HeaderDigest, Data: s.p.DataDigest}
			c.sess = s
			c.loggedIn.Store(true)
		}
		c.wmu.Unlock()
		if err != nil {
			return nil, err
		}
		c.r.Digests = c.digests
		return s, nil
	}
}

func (c *conn) sendLogin(st *loginState, resp *pdu.LoginResponse, kvs []pdu.KV) error {
	p := pdu.Build(resp, pdu.AppendText(nil, kvs))
	// Before the session exists the window is the login's own CmdSN.
	p.Header.SetStatSN(c.statSN, st.cmdSN, st.cmdSN+c.t.cfg.QueueDepth-1)
	c.statSN++
	if _, err := c.nc.Write(pdu.Append(nil, p, pdu.Digests{})); err != nil {
		return fmt.Errorf("iscsi: send login response: %w", err)
	}
	return nil
}

// step handles one login request, fills resp's flags and returns the keys
// to answer with, and the session once the login is complete.
func (st *loginState) step(req *pdu.LoginRequest, data []byte, resp *pdu.LoginResponse) ([]pdu.KV, *session, error) {
	if st.first {
		if req.VersionMin != 0 {
			return nil, nil, &keyError{class: pdu.StatusInitiatorError, detail: pdu.DetailUnsupportedVersion,
				msg: fmt.Sprintf("version %d..%d", req.VersionMin, req.VersionMax)}
		}
		st.isid, st.tsih, st.cid, st.cmdSN = req.ISID, req.TSIH, req.CID, req.CmdSN
		st.stage = req.CSG
	} else if req.ISID != st.isid || req.TSIH != st.tsih || req.CID != st.cid {
		return nil, nil, initiatorError(pdu.DetailInvalidDuringLogin, "ISID, TSIH or CID changed during login")
	}
	if req.CSG != st.stage || req.CSG == 2 || req.CSG == pdu.StageFullFeature {
		return nil, nil, initiatorError(pdu.DetailInvalidDuringLogin, "login stage %d, expected %d", req.CSG, st.stage)
	}
	st.pending = append(st.pending, data...)
	if len(st.pending) > maxLoginText {
		return nil, nil, initiatorError(pdu.DetailInvalidDuringLogin, "login text over %d bytes", maxLoginText)
	}
	if req.Continue {
		// More text follows: acknowledge with an empty response.
		return nil, nil, nil
	}
	text := st.pending
	st.pending = nil
	kvs, err := pdu.ParseText(text)
	if err != nil {
		return nil, nil, initiatorError(pdu.DetailInvalidDuringLogin, "%v", err)
	}
	keys := map[string]string{}
	for _, kv := range kvs {
		if _, dup := keys[kv.Key]; dup {
			return nil, nil, initiatorError(pdu.DetailInvalidDuringLogin, "key %s sent twice", kv.Key)
		}
		keys[kv.Key] = kv.Value
	}
	var out []pdu.KV
	if st.first {
		st.first = false
		if out, err = st.identify(keys); err != nil {
			return nil, nil, err
		}
	}
	for _, kv := range kvs {
		ans, err := st.answer(kv.Key, kv.Value, keys)
		if err != nil {
			return nil, nil, err
		}
		if ans != "" {
			out = append(out, pdu.KV{Key: kv.Key, Value: ans})
		}
	}
	if st.chap != nil && st.stage == pdu.StageSecurity && !st.authDone {
		ck, err := st.chap.step(keys)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ck...)
		st.authDone = st.chap.done
	}
	if st.stage == pdu.StageOperational || req.Transit && req.NSG == pdu.StageOperational {
		out = append(out, st.neg.declarations()...)
	}
	if !req.Transit {
		return out, nil, nil
	}
	if req.NSG <= req.CSG || req.NSG == 2 {
		return nil, nil, initiatorError(pdu.DetailInvalidDuringLogin, "transit from stage %d to %d", req.CSG, req.NSG)
	}
	if st.creds != nil && !st.authDone {
		if st.chap != nil && st.stage == pdu.StageSecurity {
			// The exchange is under way: the target does not transit yet.
			return out, nil, nil
		}
		return nil, nil, initiatorError(pdu.DetailAuthFailure, "authentication required")
	}
	resp.Transit, resp.NSG = true, req.NSG
	st.stage = req.NSG
	if req.NSG != pdu.StageFullFeature {
		return out, nil, nil
	}
	s := &session{port: st.initiator, discovery: st.discovery, p: st.neg.p,
		conn: st.c, depth: st.c.t.cfg.QueueDepth, expCmdSN: st.cmdSN}
	if !st.c.t.register(s) {
		return nil, nil, &keyError{class: pdu.StatusTargetError, detail: pdu.DetailOutOfResources,
			msg: fmt.Sprintf("%d sessions already", st.c.t.cfg.MaxSessions)}
	}
	resp.TSIH = s.tsih
	return out, s, nil
}

// identify checks the declarations of the first login PDU.
func (st *loginState) identify(keys map[string]string) ([]pdu.KV, error) {
	name := keys["InitiatorName"]
	if name == "" {
		return nil, initiatorError(pdu.DetailMissingParameter, "no InitiatorName")
	}
	switch keys["SessionType"] {
	case "Discovery":
		st.discovery = true
	case "", "Normal":
		target, ok := keys["TargetName"]
		if !ok {
			return nil, initiatorError(pdu.DetailMissingParameter, "no TargetName in a normal session")
		}
		if target != st.c.t.cfg.TargetName {
			return nil, initiatorError(pdu.DetailNotFound, "no target %q", target)
		}
	default:
		return nil, initiatorError(pdu.DetailSessionTypeUnsupp, "session type %q", keys["SessionType"])
	}
	if st.tsih != 0 {
		// Adding a connection to a session needs MaxConnections > 1.
		return nil, initiatorError(pdu.DetailSessionNotExist, "TSIH %d: one connection per session", st.tsih)
	}
	st.initiator = fmt.Sprintf("%s,i,0x%x", name, st.isid[:])
	st.neg.discovery = st.discovery
	if st.creds != nil {
		st.chap = &chapState{cfg: st.creds}
	}
	if st.discovery {
		return nil, nil
	}
	return []pdu.KV{{Key: "TargetPortalGroupTag", Value: "1"}}, nil
}

// answer replies to one key of a login PDU.
func (st *loginState) answer(key, val string, keys map[string]string) (string, error) {
	switch key {
	case "InitiatorName", "InitiatorAlias", "TargetName", "SessionType":
		return "", nil
	case "AuthMethod":
		return st.authMethod(val)
	}
	if strings.HasPrefix(key, "CHAP_") {
		if st.chap == nil {
			return valNotUnderstood, nil
		}
		return "", nil
	}
	return st.neg.answer(key, val), nil
}

func (st *loginState) authMethod(val string) (string, error) {
	want := "None"
	if st.chap != nil {
		want = "CHAP"
	}
	if slices.Contains(strings.Split(val, ","), want) {
		return want, nil
	}
	if st.chap != nil {
		return "", initiatorError(pdu.DetailAuthFailure, "AuthMethod %q lacks CHAP", val)
	}
	return valReject, nil
}

// chapConfig is the CHAP credentials a login starting now must prove:
// Config.CHAPFrom's answer, or Config.CHAP.
func (t *Target) chapConfig() *CHAPConfig {
	if t.cfg.CHAPFrom != nil {
		return t.cfg.CHAPFrom()
	}
	return t.cfg.CHAP
}
