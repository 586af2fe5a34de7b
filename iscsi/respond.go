package iscsi

import (
	"encoding/binary"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/task"
)

// respond sends a command's data-in and status: the status rides on the
// last Data-In when there is data and no sense, otherwise a SCSI Response
// follows the data.
func (c *conn) respond(cmd *command, res task.Result) error {
	final := nextStatSN
	if cmd.counted {
		final = finalStatus
	}
	var readLen uint32
	if cmd.read {
		readLen = cmd.edtl
	}
	data := res.DataIn
	var resid pdu.Residual
	switch {
	case uint64(len(data)) > uint64(readLen):
		resid = pdu.Residual{Overflow: true, Count: uint32(len(data)) - readLen}
		data = data[:readLen]
	case cmd.read && uint32(len(data)) < readLen:
		resid = pdu.Residual{Underflow: true, Count: readLen - uint32(len(data))}
	case cmd.write:
		resid = c.writeResidual(cmd)
	}
	statusInData := res.Sense == nil && len(data) > 0
	dataSN, err := c.sendDataIn(cmd, data, statusInData, res.Status, resid, final)
	if err != nil || statusInData {
		return err
	}
	var senseData []byte
	if res.Sense != nil {
		fixed := res.Sense.Fixed()
		senseData = binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(fixed)), uint16(len(fixed)))
		senseData = append(senseData, fixed...)
	}
	r := &pdu.SCSIResponse{Response: pdu.ResponseCompleted, Status: byte(res.Status), Residual: resid,
		ITT: cmd.itt, ExpDataSN: dataSN + cmd.r2tSN}
	return c.send(pdu.Build(r, senseData), final)
}

// writeResidual compares the initiator's expected length with what the
// CDB transfers, when the server can tell.
func (c *conn) writeResidual(cmd *command) pdu.Residual {
	sz, ok := c.t.cfg.Server.(dataOutSizer)
	if !ok {
		return pdu.Residual{}
	}
	n, ok := sz.DataOutLength(lunNumber(cmd.lunRaw), cmd.cdb)
	switch {
	case !ok || n == cmd.edtl:
		return pdu.Residual{}
	case n > cmd.edtl:
		return pdu.Residual{Overflow: true, Count: n - cmd.edtl}
	default:
		return pdu.Residual{Underflow: true, Count: cmd.edtl - n}
	}
}

// sendDataIn sends data in Data-In PDUs no larger than the initiator
// accepts, closing a sequence every MaxBurstLength bytes. It returns how
// many PDUs it sent.
func (c *conn) sendDataIn(cmd *command, data []byte, withStatus bool, status task.Status, resid pdu.Residual, final sendMode) (uint32, error) {
	seg := int(c.sess.p.SendDataSegment)
	burst := int(c.sess.p.MaxBurst)
	var sn uint32
	for off := 0; off < len(data); {
		n := min(seg, len(data)-off, burst-off%burst)
		last := off+n == len(data)
		m := &pdu.DataIn{Final: last || (off+n)%burst == 0, LUN: cmd.lunRaw, ITT: cmd.itt,
			TTT: pdu.ReservedTag, DataSN: sn, BufferOffset: uint32(off)}
		mode := keepStatSN
		if last && withStatus {
			m.HasStatus, m.Status, m.Residual = true, byte(status), resid
			mode = final
		}
		if err := c.send(pdu.Build(m, data[off:off+n]), mode); err != nil {
			return sn, err
		}
		sn++
		off += n
	}
	return sn, nil
}
