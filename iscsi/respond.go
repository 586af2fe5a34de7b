package iscsi

import (
	"encoding/binary"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/task"
)

// respond sends a command's data-in and status: the status rides on the
// last Data-In when there is data and no sense, otherwise a SCSI Response
// follows the data. Streamed data-in is read a piece at a time into one
// buffer, each piece sent before the next is read; a piece that fails to
// read ends the command with that failure after the pieces already sent.
func (c *conn) respond(cmd *command, res task.Result) error {
	final := nextStatSN
	if cmd.counted {
		final = finalStatus
	}
	src := dataIn{whole: res.DataIn, stream: res.Stream}
	total := uint64(len(res.DataIn))
	if res.Stream != nil {
		total = res.Stream.Len()
		src.buf = c.t.buffers.piece(cmd.piece)
		defer c.t.buffers.put(src.buf)
	}
	n, readResid := readResidual(total, cmd.readLen)
	resid, bidiResid := c.residuals(cmd, readResid, total > 0)
	// The status can ride on the Data-In only when it has no sense and no
	// bidirectional residual, which Data-In has no field for.
	statusInData := res.Sense == nil && n > 0 && bidiResid == (pdu.Residual{})
	var dataSN uint32
	for off := uint32(0); off < n; {
		p, err := c.piece(cmd, &src, off, n-off)
		if err != nil {
			// What was sent stays sent; the status says why the rest is not.
			res = task.ErrorResult(err)
			if res.Status == task.CheckCondition {
				c.log.Debug("iscsi: data-in failed", "itt", cmd.itt, "offset", off, "err", err)
			}
			statusInData = false
			resid, bidiResid = c.residuals(cmd, pdu.Residual{Underflow: true, Count: cmd.readLen - off}, true)
			break
		}
		end := off+uint32(len(p)) == n
		if err := c.sendDataIn(cmd, p, off, &dataSN, end, statusInData, res.Status, resid, final); err != nil {
			return err
		}
		off += uint32(len(p))
	}
	if statusInData {
		return nil
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

// dataIn is the data-in respond sends: a buffer the server filled whole,
// or a stream read a piece at a time into buf.
type dataIn struct {
	whole  []byte
	stream task.Stream
	buf    []byte
}

// piece returns cmd's data-in from off on, at most n bytes of it.
func (c *conn) piece(cmd *command, d *dataIn, off, n uint32) ([]byte, error) {
	if d.stream == nil {
		return d.whole[off : off+n], nil
	}
	p := d.buf[:min(int(n), len(d.buf))]
	return p, c.guard(cmd.cdb, func() error { return d.stream.ReadAt(cmd.ctx, p, uint64(off)) })
}

// residuals places a read residual and the write's in the fields of a
// response (RFC 7143 11.4.5): the residual field belongs to the read of a
// read command and to the write of a write or bidirectional one.
func (c *conn) residuals(cmd *command, read pdu.Residual, hasData bool) (resid, bidi pdu.Residual) {
	switch {
	case cmd.write:
		return c.writeResidual(cmd), read
	case cmd.read || hasData:
		return read, pdu.Residual{}
	}
	return pdu.Residual{}, pdu.Residual{}
}

// readResidual is how much of total bytes of data-in the initiator, who
// accepts readLen, is sent, and how far the two differ.
func readResidual(total uint64, readLen uint32) (uint32, pdu.Residual) {
	switch {
	case total > uint64(readLen):
		return readLen, pdu.Residual{Overflow: true, Count: uint32(min(total-uint64(readLen), 1<<32-1))}
	case total < uint64(readLen):
		return uint32(total), pdu.Residual{Underflow: true, Count: readLen - uint32(total)}
	}
	return readLen, pdu.Residual{}
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

// sendDataIn sends data, the data-in at offset off, in Data-In PDUs no
// larger than the initiator accepts, closing a sequence every
// MaxBurstLength bytes of the whole transfer and at its end (when data
// ends it); *dataSN counts the PDUs. With status set, the transfer's last
// PDU carries the command's status.
func (c *conn) sendDataIn(cmd *command, data []byte, off uint32, dataSN *uint32, end, withStatus bool, status task.Status, resid pdu.Residual, final sendMode) error {
	seg := int(c.sess.p.SendDataSegment)
	burst := int(c.sess.p.MaxBurst)
	for i := 0; i < len(data); {
		at := int(off) + i
		n := min(seg, len(data)-i, burst-at%burst)
		last := end && i+n == len(data)
		m := &pdu.DataIn{Final: last || (at+n)%burst == 0, LUN: cmd.lunRaw, ITT: cmd.itt,
			TTT: pdu.ReservedTag, DataSN: *dataSN, BufferOffset: uint32(at)}
		mode := keepStatSN
		if last && withStatus {
			m.HasStatus, m.Status, m.Residual = true, byte(status), resid
			mode = final
		}
		if err := c.send(pdu.Build(m, data[i:i+n]), mode); err != nil {
			return err
		}
		*dataSN++
		i += n
	}
	return nil
}
