package initiator

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// Result is how a SCSI command ended.
type Result struct {
	// Status is the SCSI status byte (0 GOOD, 2 CHECK CONDITION, ...).
	Status byte
	// Data is the Data-In the target sent, at most the allocation length.
	Data []byte
	// Sense is the sense data of a CHECK CONDITION, without the iSCSI
	// length prefix.
	Sense []byte
}

// Command runs one SCSI command on lun: dataOut, when not nil, is sent as
// the command's data-out (immediate data first, the rest as the target
// solicits it); allocation is how many bytes of Data-In it accepts. An
// error means the command's outcome is unknown; a SCSI failure is a
// Result with a non-GOOD Status.
func (s *Session) Command(ctx context.Context, lun uint64, cdb []byte, dataOut []byte, allocation uint32) (Result, error) {
	raw, err := lunField(lun)
	if err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Result{}, s.err
	}
	stop := s.watch(ctx)
	defer stop()
	res, err := s.command(raw, cdb, dataOut, allocation)
	if err != nil && ctx.Err() != nil {
		// The deadline broke the connection mid-command: the session's
		// state is unknown, so it cannot be used again.
		s.err = fmt.Errorf("%w: %w", ErrClosed, ctx.Err())
		return Result{}, fmt.Errorf("iscsi initiator: command %#02x: %w", cdb[0], ctx.Err())
	}
	return res, err
}

func (s *Session) command(lun uint64, cdb, out []byte, allocation uint32) (Result, error) {
	if len(cdb) == 0 {
		return Result{}, fmt.Errorf("%w: empty CDB", ErrProtocol)
	}
	itt := s.nextITT()
	edtl := allocation
	if out != nil {
		edtl = uint32(len(out))
	}
	m := &pdu.SCSICommand{Final: true, Read: out == nil && allocation > 0, Write: out != nil, Attr: 1, LUN: lun,
		ITT: itt, ExpectedDataTransferLength: edtl, CmdSN: s.cmdSN, ExpStatSN: s.expStatSN, CDB: cdb}
	s.cmdSN++
	var imm []byte
	if out != nil && s.immediateData {
		imm = out[:min(len(out), s.firstBurst, s.sendLimit)]
	}
	// Data the target will not solicit when InitialR2T is No goes
	// unsolicited right behind the command, up to FirstBurstLength.
	unsolicited := out != nil && !s.initialR2T && len(imm) < min(len(out), s.firstBurst)
	m.Final = !unsolicited
	if err := s.send(pdu.EncodeSCSICommand(m, imm)); err != nil {
		return Result{}, err
	}
	if unsolicited {
		if err := s.sendData(itt, pdu.ReservedTag, lun, out, len(imm), min(len(out), s.firstBurst)-len(imm)); err != nil {
			return Result{}, err
		}
	}
	var res Result
	for {
		p, err := s.recv()
		if err != nil {
			return Result{}, err
		}
		switch p.Header.Opcode() {
		case pdu.OpR2T:
			var r pdu.R2T
			r.Unmarshal(&p.Header)
			if r.ITT != itt || uint64(r.BufferOffset)+uint64(r.DesiredDataTransferLength) > uint64(len(out)) {
				return Result{}, fmt.Errorf("%w: R2T for ITT %#x offset %d length %d beyond %d bytes of data-out",
					ErrProtocol, r.ITT, r.BufferOffset, r.DesiredDataTransferLength, len(out))
			}
			if err := s.sendData(itt, r.TTT, lun, out, int(r.BufferOffset), int(r.DesiredDataTransferLength)); err != nil {
				return Result{}, err
			}
		case pdu.OpDataIn:
			var d pdu.DataIn
			d.Unmarshal(&p.Header)
			end := uint64(d.BufferOffset) + uint64(len(p.Data))
			if d.ITT != itt || end > uint64(allocation) {
				return Result{}, fmt.Errorf("%w: Data-In for ITT %#x ends at %d, beyond allocation %d",
					ErrProtocol, d.ITT, end, allocation)
			}
			if int(end) > len(res.Data) {
				res.Data = append(res.Data, make([]byte, int(end)-len(res.Data))...)
			}
			copy(res.Data[d.BufferOffset:], p.Data)
			if d.HasStatus {
				res.Status = d.Status
				return res, nil
			}
		case pdu.OpSCSIResponse:
			var r pdu.SCSIResponse
			r.Unmarshal(&p.Header)
			if r.ITT != itt {
				return Result{}, fmt.Errorf("%w: SCSI Response for ITT %#x, want %#x", ErrProtocol, r.ITT, itt)
			}
			if r.Response != pdu.ResponseCompleted {
				return Result{}, fmt.Errorf("%w: iSCSI response %#02x (target failure)", ErrProtocol, r.Response)
			}
			res.Status = r.Status
			if len(p.Data) >= 2 {
				n := min(int(binary.BigEndian.Uint16(p.Data)), len(p.Data)-2)
				res.Sense = p.Data[2 : 2+n]
			}
			return res, nil
		case pdu.OpNOPIn, pdu.OpAsyncMessage:
			// Unsolicited news that does not change this command.
		case pdu.OpReject:
			var r pdu.Reject
			r.Unmarshal(&p.Header)
			return Result{}, fmt.Errorf("%w: target rejected a PDU, reason %#02x", ErrProtocol, r.Reason)
		default:
			return Result{}, fmt.Errorf("%w: unexpected %v during a command", ErrProtocol, p.Header.Opcode())
		}
	}
}

// sendData sends out[off:off+n] as one Data-Out sequence of PDUs no
// larger than the target accepts.
func (s *Session) sendData(itt, ttt uint32, lun uint64, out []byte, off, n int) error {
	var sn uint32
	for end := off + n; off < end; sn++ {
		k := min(end-off, s.sendLimit)
		d := &pdu.DataOut{Final: off+k == end, LUN: lun, ITT: itt, TTT: ttt, ExpStatSN: s.expStatSN,
			DataSN: sn, BufferOffset: uint32(off)}
		if err := s.send(pdu.Build(d, out[off:off+k])); err != nil {
			return err
		}
		off += k
	}
	return nil
}

// lunField encodes a LUN number as the first level of a SAM-5 LUN:
// peripheral addressing below 256, flat addressing up to 16383.
func lunField(lun uint64) (uint64, error) {
	switch {
	case lun < 256:
		return lun << 48, nil
	case lun < 1<<14:
		return (0x40|lun>>8)<<56 | (lun&0xff)<<48, nil
	}
	return 0, fmt.Errorf("%w: %d", ErrLUN, lun)
}
