package iscsi

import (
	"github.com/ferry-san/ferry/iscsi/pdu"
)

// lunResetter is implemented by a task.Server that keeps state a logical
// unit reset clears, such as reservations, or that raises the unit
// attention SAM-5 asks for after one. initiator is the initiator port that
// asked for the reset.
type lunResetter interface {
	ResetLUN(initiator string, lun uint64)
}

// taskMgmt aborts tasks (RFC 7143 11.5) and answers once they are gone.
func (c *conn) taskMgmt(p *pdu.PDU) error {
	var m pdu.TaskMgmtRequest
	m.Unmarshal(&p.Header)
	exp, maxSN := c.sess.window()
	if !c.sess.admit(m.CmdSN, m.Immediate, false) {
		return nil
	}
	resp := pdu.TMFComplete
	var match func(*command) bool
	// Resets reach the tasks of every session, not just this one's.
	allSessions := false
	switch m.Function {
	case pdu.TMFAbortTask:
		c.cmdMu.Lock()
		cmd := c.cmds[m.ReferencedTaskTag]
		if cmd != nil && cmd.answered {
			// Its response is on its way: the task completed.
			cmd = nil
		}
		c.cmdMu.Unlock()
		if cmd != nil {
			match = func(x *command) bool { return x == cmd }
		} else if snLess(m.RefCmdSN, exp) || snLess(maxSN, m.RefCmdSN) || !snLess(m.RefCmdSN, m.CmdSN) {
			// A task the target never saw inside the window counts as
			// received and aborted; anything else does not exist.
			resp = pdu.TMFTaskDoesNotExist
		}
	case pdu.TMFAbortTaskSet, pdu.TMFClearTaskSet:
		match = func(x *command) bool { return x.lunRaw == m.LUN }
	case pdu.TMFLogicalUnitReset:
		match, allSessions = func(x *command) bool { return x.lunRaw == m.LUN }, true
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
		match, allSessions = func(*command) bool { return true }, true
	case pdu.TMFClearACA:
		// The target never establishes ACA, so there is none to clear.
	case pdu.TMFTaskReassign:
		resp = pdu.TMFReassignNotSupp
	default:
		resp = pdu.TMFNotSupported
	}
	var victims []*command
	if match != nil {
		victims = c.abort(match, false)
		if m.Function == pdu.TMFAbortTask && len(victims) == 0 {
			// The task's response went out between the look-up and the
			// abort: it completed.
			resp = pdu.TMFTaskDoesNotExist
		}
		if allSessions {
			for _, other := range c.t.otherConns(c) {
				victims = append(victims, other.abort(match, true)...)
			}
		}
	}
	if r, ok := c.t.cfg.Server.(lunResetter); ok && resp == pdu.TMFComplete {
		switch m.Function {
		case pdu.TMFLogicalUnitReset:
			r.ResetLUN(c.sess.port, lunNumber(m.LUN))
		case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
			r.ResetLUN(c.sess.port, allLUNs)
		}
	}
	cold := m.Function == pdu.TMFTargetColdReset && resp == pdu.TMFComplete
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		for _, cmd := range victims {
			<-cmd.done
		}
		r := &pdu.TaskMgmtResponse{Response: resp, ITT: m.ITT}
		if err := c.send(pdu.Build(r, nil), nextStatSN); err != nil || cold {
			// A cold reset ends the connection after its answer (RFC 7143 11.5.1).
			c.nc.Close()
		}
	}()
	return nil
}

// allLUNs is the ResetLUN argument of a target reset.
const allLUNs = ^uint64(0)

// abort cancels this connection's commands that match. Commands of the
// session that asked go silently (RFC 7143 4.2.3.4 leaves their answer to
// the TMF response); those of other sessions end with TASK ABORTED, as
// with the TAS bit of SPC-4's control mode page set. Commands still
// collecting data-out are dropped at once when the abort is the
// connection's own; another session's reader drops the data still due
// for them and ends them with TASK ABORTED, and they never run (advance
// checks under cmdMu, which abort holds while it marks them).
//
// Every matching command's gate is closed before abort returns, so a
// command already running makes no change to the medium from then on; the
// caller waits for the victims before it answers.
func (c *conn) abort(match func(*command) bool, thirdParty bool) []*command {
	var victims, collecting, gated []*command
	c.cmdMu.Lock()
	for _, cmd := range c.cmds {
		// A command whose response is on its way has completed; it is
		// neither aborted nor waited for.
		if cmd.answered || !match(cmd) {
			continue
		}
		// Another session's command still waiting for its data is not
		// waited for: that initiator may take its time, and nothing of it
		// runs yet.
		if !thirdParty || !cmd.collecting {
			victims = append(victims, cmd)
		}
		if thirdParty {
			cmd.thirdParty = true
		} else {
			cmd.aborted = true
		}
		cmd.cancel()
		gated = append(gated, cmd)
		if !thirdParty && cmd.collecting {
			cmd.collecting = false
			collecting = append(collecting, cmd)
		}
	}
	c.cmdMu.Unlock()
	// Abort waits for a write under way, so it runs outside cmdMu.
	for _, cmd := range gated {
		cmd.gate.Abort()
	}
	for _, cmd := range collecting {
		c.finish(cmd, abortedResult)
	}
	return victims
}
