package iscsi

import (
	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/task"
)

// abortedResult is what an aborted command would have said; nobody hears it.
var abortedResult = task.Result{Status: task.TaskAborted}

// logout ends the session or connection once its commands are done; done
// reports whether the connection ends.
func (c *conn) logout(p *pdu.PDU) (bool, error) {
	var m pdu.LogoutRequest
	m.Unmarshal(&p.Header)
	if !c.sess.admit(m.CmdSN, m.Immediate, false) {
		return false, nil
	}
	resp := pdu.LogoutSuccess
	switch {
	case m.Reason == pdu.LogoutRemoveForRecov:
		resp = pdu.LogoutRecoveryNotSupp
	case m.Reason == pdu.LogoutCloseConnection && m.CID != c.cid:
		resp = pdu.LogoutCIDNotFound
	case m.Reason > pdu.LogoutRemoveForRecov:
		c.reject(p, pdu.RejectInvalidField)
		return false, nil
	}
	if resp != pdu.LogoutSuccess {
		r := &pdu.LogoutResponse{Response: resp, ITT: m.ITT}
		return false, c.send(pdu.Build(r, nil), nextStatSN)
	}
	// Commands still waiting for data will not get it; the others finish
	// and answer before the logout response.
	c.cmdMu.Lock()
	var collecting []*command
	for _, cmd := range c.cmds {
		if cmd.collecting {
			cmd.collecting, cmd.aborted = false, true
			collecting = append(collecting, cmd)
		}
	}
	c.cmdMu.Unlock()
	for _, cmd := range collecting {
		c.finish(cmd, abortedResult)
	}
	c.running.Wait()
	r := &pdu.LogoutResponse{Response: pdu.LogoutSuccess, ITT: m.ITT, Time2Wait: 0, Time2Retain: 0}
	return true, c.send(pdu.Build(r, nil), nextStatSN)
}
