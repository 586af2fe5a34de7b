package iscsi

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

func TestLoginNegotiation(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin(
		pdu.KV{Key: "HeaderDigest", Value: "CRC32C,None"},
		pdu.KV{Key: "DataDigest", Value: "None"},
		pdu.KV{Key: "MaxRecvDataSegmentLength", Value: "65536"},
		pdu.KV{Key: "MaxBurstLength", Value: "1048576"},
		pdu.KV{Key: "FirstBurstLength", Value: "1000000"},
		pdu.KV{Key: "InitialR2T", Value: "No"},
		pdu.KV{Key: "ImmediateData", Value: "Yes"},
		pdu.KV{Key: "MaxOutstandingR2T", Value: "8"},
		pdu.KV{Key: "ErrorRecoveryLevel", Value: "2"},
		pdu.KV{Key: "MaxConnections", Value: "4"},
		pdu.KV{Key: "DefaultTime2Wait", Value: "0"},
		pdu.KV{Key: "DefaultTime2Retain", Value: "60"},
		pdu.KV{Key: "DataPDUInOrder", Value: "No"},
		pdu.KV{Key: "X-com.example.Foo", Value: "1"},
		pdu.KV{Key: "IFMarker", Value: "Yes"},
	)
	want := map[string]string{
		"HeaderDigest": "CRC32C", "DataDigest": "None", "MaxBurstLength": "262144",
		"FirstBurstLength": "65536", "InitialR2T": "No", "ImmediateData": "Yes", "MaxOutstandingR2T": "1",
		"ErrorRecoveryLevel": "0", "MaxConnections": "1", "DefaultTime2Wait": "2", "DefaultTime2Retain": "0",
		"DataPDUInOrder": "Yes", "X-com.example.Foo": "NotUnderstood", "IFMarker": "No",
		"MaxRecvDataSegmentLength": "262144", "TargetPortalGroupTag": "1",
	}
	for k, v := range want {
		if got := in.answers[k]; got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	// The header digest is in force from the first full feature PDU.
	if r := in.command([]byte{0, 0, 0, 0, 0, 0}, 0, false, nil); r.status != 0 {
		t.Fatalf("TEST UNIT READY with header digests: status %#x", r.status)
	}
}

func TestLoginRejectsBadValues(t *testing.T) {
	tests := []struct {
		key, val string
	}{
		{"MaxBurstLength", "lots"},
		{"MaxBurstLength", "100"},
		{"HeaderDigest", "MD5"},
		{"InitialR2T", "Maybe"},
		{"MaxRecvDataSegmentLength", "16777216"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.val, func(t *testing.T) {
			addr, _ := startTarget(t, nil)
			in := dial(t, addr)
			in.mustLogin(pdu.KV{Key: tc.key, Value: tc.val})
			if got := in.answers[tc.key]; got != "Reject" {
				t.Fatalf("%s=%s answered %q, want Reject", tc.key, tc.val, got)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	name := pdu.KV{Key: "InitiatorName", Value: "iqn.2026-11.io.ferry:i"}
	tests := []struct {
		name          string
		req           pdu.LoginRequest
		keys          []pdu.KV
		chap          bool
		class, detail byte
	}{
		{"no initiator name", pdu.LoginRequest{}, []pdu.KV{{Key: "TargetName", Value: testIQN}},
			false, pdu.StatusInitiatorError, pdu.DetailMissingParameter},
		{"no target name", pdu.LoginRequest{}, []pdu.KV{name},
			false, pdu.StatusInitiatorError, pdu.DetailMissingParameter},
		{"unknown target", pdu.LoginRequest{}, []pdu.KV{name, {Key: "TargetName", Value: "iqn.2026-11.io.ferry:other"}},
			false, pdu.StatusInitiatorError, pdu.DetailNotFound},
		{"bad session type", pdu.LoginRequest{}, []pdu.KV{name, {Key: "SessionType", Value: "Weird"}},
			false, pdu.StatusInitiatorError, pdu.DetailSessionTypeUnsupp},
		{"unsupported version", pdu.LoginRequest{VersionMin: 1, VersionMax: 1},
			[]pdu.KV{name, {Key: "TargetName", Value: testIQN}},
			false, pdu.StatusInitiatorError, pdu.DetailUnsupportedVersion},
		{"malformed text", pdu.LoginRequest{}, []pdu.KV{name, {Key: "TargetName", Value: testIQN}, {Key: "", Value: "x"}},
			false, pdu.StatusInitiatorError, pdu.DetailInvalidDuringLogin},
		{"CHAP required, None offered", pdu.LoginRequest{Transit: true, NSG: pdu.StageOperational},
			[]pdu.KV{name, {Key: "TargetName", Value: testIQN}, {Key: "AuthMethod", Value: "None"}},
			true, pdu.StatusInitiatorError, pdu.DetailAuthFailure},
		{"CHAP required, stage skipped", pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature},
			[]pdu.KV{name, {Key: "TargetName", Value: testIQN}},
			true, pdu.StatusInitiatorError, pdu.DetailAuthFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startTarget(t, func(c *Config) {
				if tc.chap {
					c.CHAP = &CHAPConfig{User: "u", Secret: "s3cret-s3cret"}
				}
			})
			in := dial(t, addr)
			resp, _ := in.loginStep(tc.req, tc.keys)
			if resp.StatusClass != tc.class || resp.StatusDetail != tc.detail {
				t.Fatalf("status %d/%d, want %d/%d", resp.StatusClass, resp.StatusDetail, tc.class, tc.detail)
			}
			in.waitClosed()
		})
	}
}

func TestLoginWithTSIHOfUnknownSession(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.tsih = 77
	resp := in.login(testIQN)
	if resp.StatusClass != pdu.StatusInitiatorError || resp.StatusDetail != pdu.DetailSessionNotExist {
		t.Fatalf("status %d/%d", resp.StatusClass, resp.StatusDetail)
	}
}

func TestCHAP(t *testing.T) {
	const user, secret = "alice", "alice-secret-12"
	const mutualUser, mutualSecret = "ferry", "ferry-secret-34"
	tests := []struct {
		name          string
		secret        string
		mutual        bool
		class, detail byte
	}{
		{"one-way", secret, false, 0, 0},
		{"mutual", secret, true, 0, 0},
		{"wrong secret", "guess", false, pdu.StatusInitiatorError, pdu.DetailAuthFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startTarget(t, func(c *Config) {
				c.CHAP = &CHAPConfig{User: user, Secret: secret, MutualUser: mutualUser, MutualSecret: mutualSecret}
			})
			in := dial(t, addr)
			sec := pdu.LoginRequest{CSG: pdu.StageSecurity, NSG: pdu.StageOperational}
			resp, keys := in.loginStep(sec, []pdu.KV{{Key: "InitiatorName", Value: "iqn.2026-11.io.ferry:i"},
				{Key: "TargetName", Value: testIQN}, {Key: "AuthMethod", Value: "None,CHAP"}})
			if resp.StatusClass != 0 || keys["AuthMethod"] != "CHAP" {
				t.Fatalf("AuthMethod answer %q, status %d", keys["AuthMethod"], resp.StatusClass)
			}
			_, keys = in.loginStep(sec, []pdu.KV{{Key: "CHAP_A", Value: "7,5"}})
			if keys["CHAP_A"] != "5" || keys["CHAP_I"] == "" || len(keys["CHAP_C"]) < 34 {
				t.Fatalf("challenge %v", keys)
			}
			id, _ := strconv.Atoi(keys["CHAP_I"])
			reply := []pdu.KV{{Key: "CHAP_N", Value: user}, {Key: "CHAP_R", Value: chapAnswer(byte(id), tc.secret, keys["CHAP_C"])}}
			if tc.mutual {
				reply = append(reply, pdu.KV{Key: "CHAP_I", Value: "9"}, pdu.KV{Key: "CHAP_C", Value: "0x0102030405060708090a0b0c0d0e0f10"})
			}
			sec.Transit = true
			resp, keys = in.loginStep(sec, reply)
			if resp.StatusClass != tc.class || resp.StatusDetail != tc.detail {
				t.Fatalf("status %d/%d, want %d/%d", resp.StatusClass, resp.StatusDetail, tc.class, tc.detail)
			}
			if tc.class != 0 {
				return
			}
			if tc.mutual {
				want := chapAnswer(9, mutualSecret, "0102030405060708090a0b0c0d0e0f10")
				if keys["CHAP_N"] != mutualUser || keys["CHAP_R"] != want {
					t.Fatalf("mutual answer %v, want %s %s", keys, mutualUser, want)
				}
			}
			if !resp.Transit || resp.NSG != pdu.StageOperational {
				t.Fatalf("no transit after authentication: %+v", resp)
			}
			resp, _ = in.loginStep(pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature}, nil)
			in.finishLogin(resp)
			if resp.TSIH == 0 {
				t.Fatalf("no session after CHAP: %+v", resp)
			}
		})
	}
}

func TestLoginTextOverSeveralPDUs(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	text := pdu.AppendText(nil, []pdu.KV{{Key: "InitiatorName", Value: "iqn.2026-11.io.ferry:i"},
		{Key: "TargetName", Value: testIQN}, {Key: "MaxBurstLength", Value: "4096"}})
	cut := len(text) / 2
	// The first half goes with the C bit: the target asks for the rest
	// with an empty response in the same stage.
	req := pdu.LoginRequest{Continue: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature}
	req.ISID, req.ITT, req.CmdSN = in.isid, in.nextITT(), in.cmdSN
	in.send(pdu.Build(&req, text[:cut]))
	p := in.recv()
	var resp pdu.LoginResponse
	resp.Unmarshal(&p.Header)
	if resp.StatusClass != 0 || resp.Transit || len(p.Data) != 0 {
		t.Fatalf("continue answered with status %d transit %v and %d bytes", resp.StatusClass, resp.Transit, len(p.Data))
	}
	req.Continue, req.Transit = false, true
	in.send(pdu.Build(&req, text[cut:]))
	p = in.recv()
	resp.Unmarshal(&p.Header)
	kvs, _ := pdu.ParseText(p.Data)
	if resp.StatusClass != 0 || !resp.Transit || resp.TSIH == 0 {
		t.Fatalf("login after continuation: %+v", resp)
	}
	found := false
	for _, kv := range kvs {
		found = found || kv == pdu.KV{Key: "MaxBurstLength", Value: "4096"}
	}
	if !found {
		t.Fatalf("MaxBurstLength not negotiated from the joined text: %v", kvs)
	}
}

func TestDataDigestErrorEndsConnection(t *testing.T) {
	addr, _ := startTarget(t, nil)
	in := dial(t, addr)
	in.mustLogin(pdu.KV{Key: "DataDigest", Value: "CRC32C"}, pdu.KV{Key: "ImmediateData", Value: "No"})
	wire := pdu.Append(nil, pdu.Build(&pdu.NOPOut{Immediate: true, ITT: 9, TTT: pdu.ReservedTag, CmdSN: in.cmdSN}, []byte("ping")), in.digests)
	wire[len(wire)-1] ^= 0xff
	if _, err := in.nc.Write(wire); err != nil {
		t.Fatal(err)
	}
	p := in.recv()
	var rej pdu.Reject
	rej.Unmarshal(&p.Header)
	if p.Header.Opcode() != pdu.OpReject || rej.Reason != pdu.RejectDataDigest {
		t.Fatalf("got %v reason %d, want a data digest Reject", p.Header.Opcode(), rej.Reason)
	}
	in.waitClosed()
}

func TestMaxSessions(t *testing.T) {
	addr, _ := startTarget(t, func(c *Config) { c.MaxSessions = 2 })
	for i := range 2 {
		in := dial(t, addr)
		in.isid[5] = byte(i)
		in.mustLogin()
	}
	in := dial(t, addr)
	in.isid[5] = 2
	if resp := in.login(testIQN); resp.StatusClass != pdu.StatusTargetError || resp.StatusDetail != pdu.DetailOutOfResources {
		t.Fatalf("third session: status %d/%d, want TARGET ERROR, OUT OF RESOURCES", resp.StatusClass, resp.StatusDetail)
	}
	// Reinstating a session takes no new place.
	again := dial(t, addr)
	again.isid[5] = 1
	again.mustLogin()
}

// chapLogin runs a one-way CHAP login as user with secret and returns the
// final status.
func chapLogin(t *testing.T, addr, user, secret string) (class, detail byte) {
	t.Helper()
	in := dial(t, addr)
	sec := pdu.LoginRequest{CSG: pdu.StageSecurity, NSG: pdu.StageOperational}
	in.loginStep(sec, []pdu.KV{{Key: "InitiatorName", Value: "iqn.2026-11.io.ferry:i"},
		{Key: "TargetName", Value: testIQN}, {Key: "AuthMethod", Value: "CHAP"}})
	_, keys := in.loginStep(sec, []pdu.KV{{Key: "CHAP_A", Value: "5"}})
	id, _ := strconv.Atoi(keys["CHAP_I"])
	sec.Transit = true
	resp, _ := in.loginStep(sec, []pdu.KV{{Key: "CHAP_N", Value: user}, {Key: "CHAP_R", Value: chapAnswer(byte(id), secret, keys["CHAP_C"])}})
	return resp.StatusClass, resp.StatusDetail
}

// TestCHAPRotation: credentials from CHAPFrom change between logins
// without a restart; the next login proves the new ones.
func TestCHAPRotation(t *testing.T) {
	var creds atomic.Pointer[CHAPConfig]
	creds.Store(&CHAPConfig{User: "alice", Secret: "old-secret-123"})
	addr, _ := startTarget(t, func(c *Config) { c.CHAPFrom = creds.Load })
	if class, _ := chapLogin(t, addr, "alice", "old-secret-123"); class != 0 {
		t.Fatalf("login with the first secret: class %d", class)
	}
	creds.Store(&CHAPConfig{User: "alice", Secret: "new-secret-456"})
	if class, detail := chapLogin(t, addr, "alice", "old-secret-123"); class != pdu.StatusInitiatorError || detail != pdu.DetailAuthFailure {
		t.Fatalf("login with the rotated-out secret: %d/%d", class, detail)
	}
	if class, _ := chapLogin(t, addr, "alice", "new-secret-456"); class != 0 {
		t.Fatalf("login with the new secret: class %d", class)
	}
}
