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
	data, readResid := readResidual(res.DataIn, cmd.readLen)
	// The residual field belongs to the read of a read command and to the
	// write of a write or bidirectional one (RFC 7143 11.4.5).
	var resid, bidiResid pdu.Residual
	switch {
	case cmd.write:
		resid, bidiResid = c.writeResidual(cmd), readResid
	case cmd.read || len(res.DataIn) > 0:
		resid = readResid
	}
	// The status can ride on the Data-In only when it has no sense and no
	// bidirectional residual, which Data-In has no field for.
	statusInData := res.Sense == nil && len(data) > 0 && bidiResid == (pdu.Residual{})
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
	r := &pdu.SCSIResponse{Response: pdu.ResponseCompleted, Status: byte(res.Status), Residual: resid, BidiResidual: bidiResid,
		ITT: cmd.itt, ExpDataSN: dataSN + cmd.r2tSN}
	return c.send(pdu.Build(r, senseData), final)
}

// readResidual cuts data to the length the initiator accepts and says
// how far the two differ.
func readResidual(data []byte, readLen uint32) ([]byte, pdu.Residual) {
	switch n := uint64(len(data)); {
	case n > uint64(readLen):
		return data[:readLen], pdu.Residual{Overflow: true, Count: uint32(n - uint64(readLen))}
	case n < uint64(readLen):
		return data, pdu.Residual{Underflow: true, Count: readLen - uint32(n)}
	}
	return data, pdu.Residual{}
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
