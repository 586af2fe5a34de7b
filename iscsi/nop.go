package iscsi

import (
	"context"
	"time"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// pingTTT tags the target's own NOP-In pings; the initiator echoes it.
const pingTTT uint32 = 0x7fffffff

// nopOut answers an initiator's ping; a NOP-Out answering the target's
// ping (ITT all ones) needs no answer, its arrival is what counts.
func (c *conn) nopOut(p *pdu.PDU) error {
	var m pdu.NOPOut
	m.Unmarshal(&p.Header)
	if m.ITT == pdu.ReservedTag {
		return nil
	}
	if !c.sess.admit(m.CmdSN, m.Immediate, false) {
		return nil
	}
	in := &pdu.NOPIn{LUN: m.LUN, ITT: m.ITT, TTT: pdu.ReservedTag}
	return c.send(pdu.Build(in, p.Data), nextStatSN)
}

// pinger pings the initiator after NOPInterval of silence and drops the
// connection when NOPTimeout passes without a PDU.
func (c *conn) pinger(ctx context.Context) {
	interval, timeout := c.t.cfg.NOPInterval, c.t.cfg.NOPTimeout
	timer := time.NewTimer(interval)
	defer timer.Stop()
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	for wait() {
		idle := time.Since(time.Unix(0, c.lastRecv.Load()))
		if idle < interval {
			timer.Reset(interval - idle)
			continue
		}
		seen := c.lastRecv.Load()
		ping := &pdu.NOPIn{ITT: pdu.ReservedTag, TTT: pingTTT}
		if err := c.send(pdu.Build(ping, nil), keepStatSN); err != nil {
			c.nc.Close()
			return
		}
		timer.Reset(timeout)
		if !wait() {
			return
		}
		if c.lastRecv.Load() == seen {
			c.log.Warn("iscsi: initiator did not answer a ping; dropping the connection", "timeout", timeout)
			c.nc.Close()
			return
		}
		timer.Reset(interval)
	}
}
