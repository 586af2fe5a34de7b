package iscsi

import (
	"github.com/ferry-san/ferry/iscsi/pdu"
)

// taskMgmt aborts tasks (RFC 7143 11.5) and answers once they are gone.
func (c *conn) taskMgmt(p *pdu.PDU) error {
	var m pdu.TaskMgmtRequest
	m.Unmarshal(&p.Header)
	exp, maxSN := c.sess.window()
	if !c.sess.admit(m.CmdSN, m.Immediate, false) {
		return nil
	}
	resp := pdu.TMFComplete
	var victims []*command
	c.cmdMu.Lock()
	switch m.Function {
	case pdu.TMFAbortTask:
		if cmd := c.cmds[m.ReferencedTaskTag]; cmd != nil {
			victims = append(victims, cmd)
		} else if snLess(m.RefCmdSN, exp) || snLess(maxSN, m.RefCmdSN) || !snLess(m.RefCmdSN, m.CmdSN) {
			// A task the target never saw inside the window counts as
			// received and aborted; anything else does not exist.
			resp = pdu.TMFTaskDoesNotExist
		}
	case pdu.TMFAbortTaskSet, pdu.TMFClearTaskSet, pdu.TMFLogicalUnitReset:
		for _, cmd := range c.cmds {
			if cmd.lunRaw == m.LUN {
				victims = append(victims, cmd)
			}
		}
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
		for _, cmd := range c.cmds {
			victims = append(victims, cmd)
		}
	case pdu.TMFClearACA:
		// The target never establishes ACA, so there is none to clear.
	case pdu.TMFTaskReassign:
		resp = pdu.TMFReassignNotSupp
	default:
		resp = pdu.TMFNotSupported
	}
	var collecting []*command
	for _, cmd := range victims {
		cmd.aborted = true
		cmd.cancel()
		if cmd.collecting {
			cmd.collecting = false
			collecting = append(collecting, cmd)
		}
	}
	c.cmdMu.Unlock()
	for _, cmd := range collecting {
		c.finish(cmd, abortedResult)
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
