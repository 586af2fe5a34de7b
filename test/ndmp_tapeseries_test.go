package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ferry-san/ferry/internal/ndmjob"
	"github.com/ferry-san/ferry/ndmp"
)

// The series of ndmjob's test-tape that Debian's ndmjob never reaches on
// amd64 (it fails T-BWR #23 by itself, see checkClientFaultTBWR23), ported
// from its source (ndma_ctst_tape.c, Amanda 3.5.1) to Go over ndmp.Client:
// T-BWR/labels is the rest of T-BWR from that step (twice: write a
// 1024-byte record and a filemark, read it back, with a 64 KiB request the
// second time, compare as unsigned bytes, then EOF, FSF and EOM);
// T-WRITE writes nine tape files of records of 512 to 32768 bytes, T-READ
// reads them back and compares, T-MTIO spaces around each file (FSF, FSR
// and BSR past the file's ends, by halves, by two) and reads where it
// lands, checking TAPE_GET_STATE's file and block numbers after every move
// as ndmjob does. The port runs against ndmjob's own daemon too, whose
// passing is what says the port asks what ndmjob asks. Two liberties:
// T-WRITE rewinds first (ndmjob relies on where T-BWR left the tape), and
// an error other than the one expected fails the step (ndmjob would only
// warn when both are errors).

// portedTapeSeries are the series the port runs.
var portedTapeSeries = []string{"T-BWR/labels", "T-WRITE", "T-READ", "T-MTIO"}

// ttSeries is ndmjob's tt_series: the records of each tape file.
var ttSeries = []struct{ nRec, recSize int }{
	{1, 512}, {100, 1024}, {1, 512}, {100, 139}, {1, 512}, {99, 10240}, {1, 512}, {3, 32768}, {1, 512},
}

// errStop ends a series at its first failed step, as ndmjob does.
var errStop = errors.New("series stopped")

// ttRun is one run of the ported series on one connection.
type ttRun struct {
	ctx    context.Context
	c      *ndmp.Client
	device string
	rep    ndmjob.Report
	cur    *ndmjob.Series
}

// runPortedTapeSeries connects to addr (MD5 login) and runs T-WRITE,
// T-READ and T-MTIO on device, which must hold a scratch tape.
func runPortedTapeSeries(ctx context.Context, addr, user, password, device string) ndmjob.Report {
	r := &ttRun{ctx: ctx, device: device}
	c, err := ndmp.Dial(ctx, addr)
	if err == nil {
		err = c.Open(ctx)
	}
	if err == nil {
		err = c.AuthMD5(ctx, user, password)
	}
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "connect: "+err.Error())
		if c != nil {
			c.Close()
		}
		return r.rep
	}
	defer c.Close()
	r.c = c
	for _, f := range []func() error{r.bwrLabels, r.write, r.read, r.mtio} {
		if err := f(); err != nil {
			break
		}
	}
	fin := &ndmjob.Final{Program: "ported", Status: "Passed"}
	for _, s := range r.rep.Series {
		fin.Pass, fin.Fail, fin.Total = fin.Pass+s.Pass, fin.Fail+s.Fail, fin.Total+s.Total
	}
	if fin.Fail > 0 {
		fin.Status = "Failed"
	}
	r.rep.Final = fin
	return r.rep
}

func (r *ttRun) phase(name, desc string) {
	r.rep.Series = append(r.rep.Series, ndmjob.Series{Name: name, Description: desc})
	r.cur = &r.rep.Series[len(r.rep.Series)-1]
}

// step records a step; a failure closes the series as failed and returns
// errStop.
func (r *ttRun) step(what string, err error) error {
	st := ndmjob.Step{Number: len(r.cur.Steps) + 1, What: what}
	r.cur.Total++
	if err != nil {
		st.Outcome, st.Message = ndmjob.Failed, err.Error()
		r.cur.Steps = append(r.cur.Steps, st)
		r.cur.Fail++
		r.cur.Status = "Failed"
		return errStop
	}
	r.cur.Steps = append(r.cur.Steps, st)
	r.cur.Pass++
	return nil
}

// done closes a series that passed.
func (r *ttRun) done() error {
	r.cur.Status, r.cur.Closed = "Passed", true
	return nil
}

// call sends a request; a reply with an error is an *ndmp.Error.
func (r *ttRun) call(code ndmp.Ndmp4_message, body ndmp.Body) (*ndmp.Message, error) {
	m, err := r.c.Call(r.ctx, code, body)
	if err != nil {
		return nil, err
	}
	return m, ndmp.ReplyError(m)
}

func (r *ttRun) open(mode ndmp.Ndmp4_tape_open_mode) error {
	_, err := r.call(ndmp.NDMP4_TAPE_OPEN, &ndmp.Ndmp4_tape_open_request{Device: r.device, Mode: mode})
	return err
}

func (r *ttRun) close() error {
	_, err := r.call(ndmp.NDMP4_TAPE_CLOSE, nil)
	return err
}

func (r *ttRun) mt(op ndmp.Ndmp4_tape_mtio_op, count uint32) (uint32, error) {
	m, err := r.call(ndmp.NDMP4_TAPE_MTIO, &ndmp.Ndmp4_tape_mtio_request{Tape_op: op, Count: count})
	if err != nil {
		return 0, err
	}
	return m.Body.(*ndmp.Ndmp4_tape_mtio_reply).Resid_count, nil
}

func (r *ttRun) writeRec(b []byte) error {
	m, err := r.call(ndmp.NDMP4_TAPE_WRITE, &ndmp.Ndmp4_tape_write_request{Data_out: b})
	if err != nil {
		return err
	}
	if n := m.Body.(*ndmp.Ndmp4_tape_write_reply).Count; int(n) != len(b) {
		return fmt.Errorf("wrote %d of %d bytes", n, len(b))
	}
	return nil
}

func (r *ttRun) readRec(n int) ([]byte, error) {
	m, err := r.call(ndmp.NDMP4_TAPE_READ, &ndmp.Ndmp4_tape_read_request{Count: uint32(n)})
	if err != nil {
		return nil, err
	}
	return m.Body.(*ndmp.Ndmp4_tape_read_reply).Data_in, nil
}

// readExpect reads and wants the error code want.
func (r *ttRun) readExpect(n int, want ndmp.Ndmp4_error) error {
	_, err := r.readRec(n)
	var ne *ndmp.Error
	switch {
	case err == nil:
		return fmt.Errorf("read answered NO_ERR, want %v", want)
	case errors.As(err, &ne) && ne.Code == want:
		return nil
	default:
		return fmt.Errorf("read: %v, want %v", err, want)
	}
}

// at checks TAPE_GET_STATE's position as ndmjob's
// ndmca_tt_check_fileno_recno does: the file number exactly, the block
// number unless the server does not report it; block -1 wants "not
// reported" (0xffffffff or the BLOCKNO_UNS flag).
func (r *ttRun) at(what string, file uint32, block int64) error {
	m, err := r.call(ndmp.NDMP4_TAPE_GET_STATE, nil)
	if err != nil {
		return fmt.Errorf("get_state while testing %s: %w", what, err)
	}
	st := m.Body.(*ndmp.Ndmp4_tape_get_state_reply)
	invalid := st.Unsupported&ndmp.NDMP4_TAPE_STATE_BLOCKNO_UNS != 0 || st.Blockno == 0xffffffff
	switch {
	case st.File_num != file:
		return fmt.Errorf("%s: file_num %d, want %d (blockno %d)", what, st.File_num, file, st.Blockno)
	case block >= 0 && st.Blockno != uint32(block) && !invalid:
		return fmt.Errorf("%s: blockno %d, want %d (file_num %d)", what, st.Blockno, block, file)
	case block < 0 && !invalid:
		return fmt.Errorf("%s: blockno %d, want none reported (file_num %d)", what, st.Blockno, file)
	}
	return nil
}

// fill is ndmca_test_fill_data: the record repeats a 16-byte struct {u16
// fileno; u16 sequence; (4 bytes of padding, zero here); u64 recno},
// little-endian, its sequence counting up, cut at the record's end.
func fill(size, recno, fileno int) []byte {
	b := make([]byte, 0, size+16)
	for seq := 0; len(b) < size; seq++ {
		var x [16]byte
		binary.LittleEndian.PutUint16(x[0:], uint16(fileno))
		binary.LittleEndian.PutUint16(x[2:], uint16(seq))
		binary.LittleEndian.PutUint64(x[8:], uint64(recno))
		b = append(b, x[:]...)
	}
	return b[:size]
}

func (r *ttRun) write() error {
	r.phase("T-WRITE", "Tape Write Series (ported)")
	if err := r.step("NDMP4_TAPE_OPEN/NDMP9_NO_ERR", r.open(ndmp.NDMP4_TAPE_RDWR_MODE)); err != nil {
		return err
	}
	if _, err := r.mt(ndmp.NDMP4_MTIO_REW, 1); err != nil {
		return r.step("rewind", err)
	}
	for f, s := range ttSeries {
		note := fmt.Sprintf("tape write file #%d, %d records, %d bytes/rec", f+1, s.nRec, s.recSize)
		err := func() error {
			for rec := range s.nRec {
				if err := r.writeRec(fill(s.recSize, rec, f)); err != nil {
					return fmt.Errorf("write recno=%d: %w", rec, err)
				}
				if err := r.at("write", uint32(f), int64(rec+1)); err != nil {
					return err
				}
			}
			if _, err := r.mt(ndmp.NDMP4_MTIO_EOF, 1); err != nil {
				return fmt.Errorf("write filemark: %w", err)
			}
			return r.at("wfm", uint32(f+1), 0)
		}()
		if err := r.step(note, err); err != nil {
			return err
		}
	}
	if _, err := r.mt(ndmp.NDMP4_MTIO_REW, 1); r.step("NDMP4_TAPE_MTIO/NDMP9_NO_ERR", err) != nil {
		return errStop
	}
	if err := r.step("NDMP4_TAPE_CLOSE/NDMP9_NO_ERR", r.close()); err != nil {
		return err
	}
	return r.done()
}

func (r *ttRun) read() error {
	r.phase("T-READ", "Tape Read Series (ported)")
	if err := r.step("NDMP4_TAPE_OPEN/NDMP9_NO_ERR", r.open(ndmp.NDMP4_TAPE_READ_MODE)); err != nil {
		return err
	}
	for f, s := range ttSeries {
		note := fmt.Sprintf("tape read file #%d, %d records, %d bytes/rec", f+1, s.nRec, s.recSize)
		err := func() error {
			for rec := range s.nRec {
				got, err := r.readRec(s.recSize)
				if err != nil {
					return fmt.Errorf("read recno=%d: %w", rec, err)
				}
				if err := r.at("read", uint32(f), int64(rec+1)); err != nil {
					return err
				}
				if !bytes.Equal(got, fill(s.recSize, rec, f)) {
					return fmt.Errorf("compare recno=%d: %d bytes differ from those written", rec, len(got))
				}
			}
			if err := r.readExpect(s.recSize, ndmp.NDMP4_EOF_ERR); err != nil {
				return fmt.Errorf("eof read: %w", err)
			}
			if err := r.at("eof", uint32(f), -1); err != nil {
				return err
			}
			if _, err := r.mt(ndmp.NDMP4_MTIO_FSF, 1); err != nil {
				return fmt.Errorf("skip filemark: %w", err)
			}
			return r.at("skip", uint32(f+1), 0)
		}()
		if err := r.step(note, err); err != nil {
			return err
		}
	}
	if _, err := r.mt(ndmp.NDMP4_MTIO_REW, 1); r.step("NDMP4_TAPE_MTIO/NDMP9_NO_ERR", err) != nil {
		return errStop
	}
	if err := r.step("NDMP4_TAPE_CLOSE/NDMP9_NO_ERR", r.close()); err != nil {
		return err
	}
	return r.done()
}

func (r *ttRun) mtio() error {
	r.phase("T-MTIO", "Tape MTIO (ported)")
	if err := r.step("NDMP4_TAPE_OPEN/NDMP9_NO_ERR", r.open(ndmp.NDMP4_TAPE_READ_MODE)); err != nil {
		return err
	}
	if _, err := r.mt(ndmp.NDMP4_MTIO_REW, 1); r.step("NDMP4_TAPE_MTIO/NDMP9_NO_ERR", err) != nil {
		return errStop
	}
	for f, s := range ttSeries {
		note := fmt.Sprintf("seek around tape file #%d, %d records, %d bytes/rec", f+1, s.nRec, s.recSize)
		// expect runs one move and checks its residue.
		expect := func(what string, op ndmp.Ndmp4_tape_mtio_op, count, wantResid uint32) error {
			resid, err := r.mt(op, count)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if resid != wantResid {
				return fmt.Errorf("%s: resid %d, want %d", what, resid, wantResid)
			}
			return nil
		}
		readCompare := func(what string, rec int) error {
			got, err := r.readRec(s.recSize)
			if err != nil {
				return fmt.Errorf("%s read: %w", what, err)
			}
			if !bytes.Equal(got, fill(s.recSize, rec, f)) {
				return fmt.Errorf("%s compare: record %d of file %d differs", what, rec, f)
			}
			return nil
		}
		const many = 1000000
		err := func() error {
			if err := expect("rew", ndmp.NDMP4_MTIO_REW, 1, 0); err != nil {
				return err
			}
			if err := r.at("rew", 0, 0); err != nil {
				return err
			}
			if err := expect("fsf(n)", ndmp.NDMP4_MTIO_FSF, uint32(f), 0); err != nil {
				return err
			}
			if err := r.at("fsf", uint32(f), 0); err != nil {
				return err
			}
			if err := expect("fsr(1m)", ndmp.NDMP4_MTIO_FSR, many, uint32(many-s.nRec)); err != nil {
				return err
			}
			if err := r.at("fsr(1m)", uint32(f), int64(s.nRec)); err != nil { // the EOT side of the filemark
				return err
			}
			if err := expect("bsr(1m)", ndmp.NDMP4_MTIO_BSR, many, uint32(many-s.nRec)); err != nil {
				return err
			}
			if err := r.at("bsr(1m)", uint32(f), 0); err != nil {
				return err
			}
			if err := expect("fsr(0)", ndmp.NDMP4_MTIO_FSR, 0, 0); err != nil {
				return err
			}
			if err := r.at("fsr(0)", uint32(f), 0); err != nil {
				return err
			}
			rec := s.nRec / 2
			if err := expect("fsr(x)", ndmp.NDMP4_MTIO_FSR, uint32(rec), 0); err != nil {
				return err
			}
			if err := r.at("fsr(x)", uint32(f), int64(rec)); err != nil {
				return err
			}
			if err := readCompare("fsr(x)", rec); err != nil {
				return err
			}
			rec++
			if rec > 1 {
				if err := expect("bsr(2)", ndmp.NDMP4_MTIO_BSR, 2, 0); err != nil {
					return err
				}
				rec -= 2
				if err := r.at("bsr(2)", uint32(f), int64(rec)); err != nil {
					return err
				}
				if err := readCompare("bsr(2)", rec); err != nil {
					return err
				}
			}
			return nil
		}()
		if err := r.step(note, err); err != nil {
			return err
		}
	}
	if err := r.step("NDMP4_TAPE_CLOSE/NDMP9_NO_ERR", r.close()); err != nil {
		return err
	}
	return r.done()
}

// bwrLabels is T-BWR's "tape label type processing": the steps from the
// one Debian's ndmjob fails by itself.
func (r *ttRun) bwrLabels() error {
	r.phase("T-BWR/labels", "Tape Write and Read Basics, label passes (ported)")
	rec := make([]byte, 1024)
	for i := range rec {
		rec[i] = byte(i - 4)
	}
	for pass := range 2 {
		if err := r.step("NDMP4_TAPE_OPEN/NDMP9_NO_ERR", r.open(ndmp.NDMP4_TAPE_RDWR_MODE)); err != nil {
			return err
		}
		if _, err := r.mt(ndmp.NDMP4_MTIO_REW, 1); r.step("NDMP4_TAPE_MTIO/NDMP9_NO_ERR", err) != nil {
			return errStop
		}
		if err := r.step("NDMP4_TAPE_WRITE/NDMP9_NO_ERR", r.writeRec(rec)); err != nil {
			return err
		}
		if _, err := r.mt(ndmp.NDMP4_MTIO_EOF, 1); err != nil {
			return r.step("write filemark", err)
		}
		if err := r.step("NDMP4_TAPE_CLOSE/NDMP9_NO_ERR", r.close()); err != nil {
			return err
		}
		if err := r.step("NDMP4_TAPE_OPEN/NDMP9_NO_ERR", r.open(ndmp.NDMP4_TAPE_RDWR_MODE)); err != nil {
			return err
		}
		if _, err := r.mt(ndmp.NDMP4_MTIO_REW, 1); r.step("NDMP4_TAPE_MTIO/NDMP9_NO_ERR", err) != nil {
			return errStop
		}
		ask := len(rec)
		if pass == 1 {
			ask = 64 << 10 // more than the record: its 1024 bytes come back
		}
		got, err := r.readRec(ask)
		if err == nil && !bytes.Equal(got, rec) {
			err = fmt.Errorf("compare: read %d bytes, not the 1024 written", len(got))
		}
		if err := r.step(fmt.Sprintf("NDMP4_TAPE_READ/NDMP9_NO_ERR (%d bytes asked)", ask), err); err != nil {
			return err
		}
		if err := r.step("NDMP4_TAPE_READ/NDMP9_EOF_ERR", r.readExpect(len(rec), ndmp.NDMP4_EOF_ERR)); err != nil {
			return err
		}
		if _, err := r.mt(ndmp.NDMP4_MTIO_FSF, 1); err != nil {
			return r.step("skip filemark", err)
		}
		if err := r.step("NDMP4_TAPE_READ/NDMP9_EOM_ERR", r.readExpect(len(rec), ndmp.NDMP4_EOM_ERR)); err != nil {
			return err
		}
		if err := r.step("NDMP4_TAPE_CLOSE/NDMP9_NO_ERR", r.close()); err != nil {
			return err
		}
	}
	return r.done()
}
