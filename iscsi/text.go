package iscsi

import (
	"net"
	"strconv"
	"strings"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// text answers a Text Request: SendTargets, in discovery and normal
// sessions alike.
func (c *conn) text(p *pdu.PDU) error {
	var m pdu.TextRequest
	m.Unmarshal(&p.Header)
	if !c.sess.admit(m.CmdSN, m.Immediate, false) {
		return nil
	}
	kvs, err := pdu.ParseText(p.Data)
	if err != nil || m.Continue {
		// Text requests split over PDUs are not needed for SendTargets.
		c.reject(p, pdu.RejectProtocolError)
		return nil
	}
	var out []pdu.KV
	for _, kv := range kvs {
		if kv.Key != "SendTargets" {
			out = append(out, pdu.KV{Key: kv.Key, Value: valNotUnderstood})
			continue
		}
		switch {
		case kv.Value == "All", kv.Value == "", kv.Value == c.t.cfg.TargetName:
			out = append(out, c.targetRecords()...)
		case isISCSIName(kv.Value):
			// Another target: this portal has nothing to say about it.
		default:
			out = append(out, pdu.KV{Key: kv.Key, Value: valReject})
		}
	}
	r := &pdu.TextResponse{Final: true, LUN: m.LUN, ITT: m.ITT, TTT: pdu.ReservedTag}
	return c.send(pdu.Build(r, pdu.AppendText(nil, out)), nextStatSN)
}

// targetRecords lists the target and its portals.
func (c *conn) targetRecords() []pdu.KV {
	out := []pdu.KV{{Key: "TargetName", Value: c.t.cfg.TargetName}}
	var portals []string
	if c.t.cfg.Portals != nil {
		portals = c.t.cfg.Portals()
	}
	if len(portals) == 0 {
		portals = []string{localPortal(c.nc.LocalAddr())}
	}
	for _, p := range portals {
		out = append(out, pdu.KV{Key: "TargetAddress", Value: p})
	}
	return out
}

// localPortal is the portal of the address a connection came in on, in
// target portal group 1.
func localPortal(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return net.JoinHostPort(ta.IP.String(), strconv.Itoa(ta.Port)) + ",1"
	}
	return a.String() + ",1"
}

// isISCSIName tells whether s has the form of an iSCSI name (RFC 7143 4.2.7).
func isISCSIName(s string) bool {
	for _, p := range []string{"iqn.", "eui.", "naa."} {
		if strings.HasPrefix(s, p) && len(s) > len(p) {
			return true
		}
	}
	return false
}
