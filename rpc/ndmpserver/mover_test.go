package ndmpserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"github.com/ferry-san/ferry/storage/library"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-san/ferry/ndmp"
)

// post waits for the next notification (log messages skipped) and checks
// its code.
func (d *dma) post(code ndmp.Ndmp4_message) ndmp.Body {
	d.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-d.c.Posts:
			if m.Header.Message_code == ndmp.NDMP4_LOG_MESSAGE {
				continue
			}
			if m.Header.Message_code != code {
				d.t.Fatalf("got %v %+v, want %v", m.Header.Message_code, m.Body, code)
			}
			return m.Body
		case <-timeout:
			d.t.Fatalf("no %v", code)
		}
	}
}

func (d *dma) paused(reason ndmp.Ndmp4_mover_pause_reason) uint64 {
	d.t.Helper()
	p := d.post(ndmp.NDMP4_NOTIFY_MOVER_PAUSED).(*ndmp.Ndmp4_notify_mover_paused_post)
	if p.Reason != reason {
		d.t.Fatalf("paused for %v, want %v", p.Reason, reason)
	}
	d.moverIs(ndmp.NDMP4_MOVER_STATE_PAUSED)
	return p.Seek_position
}

func (d *dma) halted(reason ndmp.Ndmp4_mover_halt_reason) {
	d.t.Helper()
	p := d.post(ndmp.NDMP4_NOTIFY_MOVER_HALTED).(*ndmp.Ndmp4_notify_mover_halted_post)
	if p.Reason != reason {
		d.t.Fatalf("halted for %v, want %v", p.Reason, reason)
	}
	st := d.mover()
	if st.State != ndmp.NDMP4_MOVER_STATE_HALTED || st.Halt_reason != reason || st.Pause_reason != ndmp.NDMP4_MOVER_PAUSE_NA {
		d.t.Fatalf("after the halt notice: %+v", st)
	}
}

func (d *dma) mover() *ndmp.Ndmp4_mover_get_state_reply {
	d.t.Helper()
	return d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_GET_STATE, nil).(*ndmp.Ndmp4_mover_get_state_reply)
}

// moverIs checks the state and that the reasons agree with it, as
// ndmjob's ndmca_test_check_mover_state does.
func (d *dma) moverIs(want ndmp.Ndmp4_mover_state) *ndmp.Ndmp4_mover_get_state_reply {
	d.t.Helper()
	st := d.mover()
	ok := st.State == want
	switch st.State {
	case ndmp.NDMP4_MOVER_STATE_PAUSED:
		ok = ok && st.Halt_reason == ndmp.NDMP4_MOVER_HALT_NA
	case ndmp.NDMP4_MOVER_STATE_HALTED:
		ok = ok && st.Pause_reason == ndmp.NDMP4_MOVER_PAUSE_NA
	default:
		ok = ok && st.Halt_reason == ndmp.NDMP4_MOVER_HALT_NA && st.Pause_reason == ndmp.NDMP4_MOVER_PAUSE_NA
	}
	if !ok {
		d.t.Fatalf("mover %+v, want %v", st, want)
	}
	return st
}

// waitMover polls until the mover is in state want (the mover goes ACTIVE
// on a connection without a notice).
func (d *dma) waitMover(want ndmp.Ndmp4_mover_state) {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for d.mover().State != want {
		if time.Now().After(deadline) {
			d.t.Fatalf("mover never reached %v", want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (d *dma) recordSize(n uint32) {
	d.t.Helper()
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_SET_RECORD_SIZE, &ndmp.Ndmp4_mover_set_record_size_request{Len: n})
}

func (d *dma) window(off, length uint64) {
	d.t.Helper()
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_SET_WINDOW, &ndmp.Ndmp4_mover_set_window_request{Offset: off, Length: length})
}

// listen starts a TCP mover listen and returns the address to dial.
func (d *dma) listen(mode ndmp.Ndmp4_mover_mode) string {
	d.t.Helper()
	b := d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_LISTEN, &ndmp.Ndmp4_mover_listen_request{Mode: mode, Addr_type: ndmp.NDMP4_ADDR_TCP})
	a := b.(*ndmp.Ndmp4_mover_listen_reply).Connect_addr
	if a.Addr_type != ndmp.NDMP4_ADDR_TCP || len(*a.Tcp_addr()) == 0 {
		d.t.Fatalf("listen address %+v", a)
	}
	ta := (*a.Tcp_addr())[0]
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], ta.Ip_addr)
	return net.JoinHostPort(net.IP(ip[:]).String(), strconv.Itoa(int(ta.Port)))
}

func dialData(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMoverStates is ndmjob's M-IDLE and M-LISTEN series: the error of each
// message in each state.
func TestMoverStates(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	illegal := ndmp.NDMP4_ILLEGAL_STATE_ERR
	listen := func(mode ndmp.Ndmp4_mover_mode, at ndmp.Ndmp4_addr_type) *ndmp.Ndmp4_mover_listen_request {
		return &ndmp.Ndmp4_mover_listen_request{Mode: mode, Addr_type: at}
	}
	// M-IDLE
	d.moverIs(ndmp.NDMP4_MOVER_STATE_IDLE)
	for _, code := range []ndmp.Ndmp4_message{ndmp.NDMP4_MOVER_CONTINUE, ndmp.NDMP4_MOVER_ABORT, ndmp.NDMP4_MOVER_STOP, ndmp.NDMP4_MOVER_CLOSE} {
		d.must(illegal, code, nil)
	}
	d.must(illegal, ndmp.NDMP4_MOVER_READ, &ndmp.Ndmp4_mover_read_request{Offset: 0, Length: 10})
	d.window(0, 0)
	d.recordSize(10240)
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_MOVER_SET_RECORD_SIZE, &ndmp.Ndmp4_mover_set_record_size_request{Len: 0})
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_MOVER_SET_WINDOW, &ndmp.Ndmp4_mover_set_window_request{Offset: 100, Length: 10240})
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_MOVER_SET_WINDOW, &ndmp.Ndmp4_mover_set_window_request{Offset: 0, Length: 100})
	d.window(10240, lengthInfinity-10240) // the spec's infinite window
	d.window(0, lengthInfinity)           // Amanda's

	// M-LISTEN/bogus-args
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_MOVER_LISTEN, listen(123, ndmp.NDMP4_ADDR_TCP))
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_MOVER_LISTEN, listen(ndmp.NDMP4_MOVER_MODE_READ, 123))
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_MOVER_LISTEN, listen(ndmp.NDMP4_MOVER_MODE_NOACTION, ndmp.NDMP4_ADDR_TCP))

	// subr is ndmca_tm_listen_subr.
	subr := func(want ndmp.Ndmp4_error, mode ndmp.Ndmp4_mover_mode) {
		t.Helper()
		d.moverIs(ndmp.NDMP4_MOVER_STATE_IDLE)
		d.must(want, ndmp.NDMP4_MOVER_LISTEN, listen(mode, ndmp.NDMP4_ADDR_TCP))
		if want != ndmp.NDMP4_NO_ERR {
			return
		}
		d.moverIs(ndmp.NDMP4_MOVER_STATE_LISTEN)
		d.must(illegal, ndmp.NDMP4_MOVER_LISTEN, listen(mode, ndmp.NDMP4_ADDR_TCP))
		d.must(illegal, ndmp.NDMP4_MOVER_CONTINUE, nil)
		d.must(illegal, ndmp.NDMP4_MOVER_STOP, nil)
		d.must(illegal, ndmp.NDMP4_MOVER_SET_WINDOW, &ndmp.Ndmp4_mover_set_window_request{})
		d.must(illegal, ndmp.NDMP4_MOVER_SET_RECORD_SIZE, &ndmp.Ndmp4_mover_set_record_size_request{Len: 10240})
		d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_ABORT, nil)
		d.halted(ndmp.NDMP4_MOVER_HALT_ABORTED)
		d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
		d.moverIs(ndmp.NDMP4_MOVER_STATE_IDLE)
	}
	// M-LISTEN/not-open
	subr(ndmp.NDMP4_DEV_NOT_OPEN_ERR, ndmp.NDMP4_MOVER_MODE_READ)
	subr(ndmp.NDMP4_DEV_NOT_OPEN_ERR, ndmp.NDMP4_MOVER_MODE_WRITE)
	// M-LISTEN/tape-ro
	d.open(ndmp.NDMP4_TAPE_READ_MODE)
	subr(ndmp.NDMP4_PERMISSION_ERR, ndmp.NDMP4_MOVER_MODE_READ)
	subr(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_MODE_WRITE)
	d.closeTape()
	// M-LISTEN/tape-rw
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	subr(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_MODE_READ)
	subr(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_MODE_WRITE)

	// An ACTIVE mover owns the tape; CLOSE halts it.
	addr := d.listen(ndmp.NDMP4_MOVER_MODE_WRITE)
	dialData(t, addr)
	d.waitMover(ndmp.NDMP4_MOVER_STATE_ACTIVE)
	d.must(illegal, ndmp.NDMP4_TAPE_READ, &ndmp.Ndmp4_tape_read_request{Count: 10})
	d.must(illegal, ndmp.NDMP4_TAPE_CLOSE, nil)
	d.must(illegal, ndmp.NDMP4_MOVER_SET_WINDOW, &ndmp.Ndmp4_mover_set_window_request{})
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_READ, &ndmp.Ndmp4_mover_read_request{Offset: 0, Length: 0})
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CLOSE, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CLOSE, nil) // HALTED: nothing to do
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
	d.closeTape()
}

// backup sends data through a TCP mover listening in MODE_READ, with an
// infinite window, and waits for the halt.
func backup(t *testing.T, d *dma, rs uint32, data []byte) {
	t.Helper()
	d.recordSize(rs)
	d.window(0, lengthInfinity)
	conn := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_READ))
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	padded := (uint64(len(data)) + uint64(rs) - 1) / uint64(rs) * uint64(rs)
	if st := d.mover(); st.Bytes_moved != padded || uint64(st.Record_num) != padded/uint64(rs) {
		t.Fatalf("after the backup: %+v, want %d bytes", st, padded)
	}
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
}

// recover reads [off, off+n) of the stream through a TCP mover in
// MODE_WRITE with window (0, -1).
func recoverStream(t *testing.T, d *dma, rs uint32, off, n uint64) []byte {
	t.Helper()
	d.recordSize(rs)
	d.window(0, lengthInfinity)
	conn := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_WRITE))
	// The connection is established: get_state says ACTIVE at once.
	d.moverIs(ndmp.NDMP4_MOVER_STATE_ACTIVE)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_READ, &ndmp.Ndmp4_mover_read_request{Offset: off, Length: n})
	got := make([]byte, n)
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CLOSE, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
	return got
}

// TestMoverBackupRecover: a stream goes to tape in records (the last one
// padded), reads back whole and in part (direct access), and the records
// are what TAPE_READ sees.
func TestMoverBackupRecover(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	const rs = 4096
	data := make([]byte, 1<<20+1000)
	rand.NewChaCha8([32]byte{1}).Read(data)

	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	backup(t, d, rs, data)
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
	d.at(1, 0)
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	if got := d.read(ndmp.NDMP4_NO_ERR, 64<<10); !bytes.Equal(got, data[:rs]) {
		t.Fatalf("first record: %d bytes", len(got))
	}
	d.mtio(ndmp.NDMP4_MTIO_FSR, 1000, 1000-(uint32(len(data))+rs-1)/rs+1)
	last := d.read(ndmp.NDMP4_EOF_ERR, 64<<10)
	_ = last
	d.mtio(ndmp.NDMP4_MTIO_BSR, 1, 0)
	last = d.read(ndmp.NDMP4_NO_ERR, 64<<10)
	tail := data[len(data)/rs*rs:]
	if len(last) != rs || !bytes.Equal(last[:len(tail)], tail) || !bytes.Equal(last[len(tail):], make([]byte, rs-len(tail))) {
		t.Fatal("the last record is not the tail padded with zeros")
	}
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)

	if got := recoverStream(t, d, rs, 0, uint64(len(data))); !bytes.Equal(got, data) {
		t.Fatal("recovered stream differs")
	}
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	off, n := uint64(3*rs+17), uint64(5*rs+3)
	if got := recoverStream(t, d, rs, off, n); !bytes.Equal(got, data[off:off+n]) {
		t.Fatal("direct access recover differs")
	}
	d.closeTape()
}

// TestMoverAmandaWindows is the Amanda ndmp device's use: a backup with a
// (0,0) window pauses (EOW) before writing, then writes a part per window;
// a recover with a (0,-1) window pauses at the filemark (EOF).
func TestMoverAmandaWindows(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	const rs = 32 << 10
	data := make([]byte, 10*rs)
	rand.NewChaCha8([32]byte{2}).Read(data)

	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	d.recordSize(rs)
	d.window(0, 0)
	conn := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_READ))
	go func() {
		conn.Write(data)
		conn.Close()
	}()
	if seek := d.paused(ndmp.NDMP4_MOVER_PAUSE_EOW); seek != 0 {
		t.Fatalf("paused at %d", seek)
	}
	// Part 1: 4 records, then a filemark while paused.
	d.window(0, 4*rs)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CONTINUE, nil)
	if seek := d.paused(ndmp.NDMP4_MOVER_PAUSE_EOW); seek != 4*rs {
		t.Fatalf("part 1 ended at %d", seek)
	}
	if st := d.mover(); st.Bytes_moved != 4*rs {
		t.Fatalf("part 1 moved %d", st.Bytes_moved)
	}
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
	// Part 2: the rest, with the spec's infinite window.
	d.window(4*rs, lengthInfinity-4*rs)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CONTINUE, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	if st := d.mover(); st.Bytes_moved != 10*rs {
		t.Fatalf("moved %d", st.Bytes_moved)
	}
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)

	// Read part 2 back as Amanda does: position, window (0,-1), listen,
	// wait for ACTIVE, MOVER_READ of everything, EOF at the filemark.
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.mtio(ndmp.NDMP4_MTIO_FSF, 1, 0)
	d.recordSize(rs)
	d.window(0, lengthInfinity)
	rc := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_WRITE))
	d.waitMover(ndmp.NDMP4_MOVER_STATE_ACTIVE)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_READ, &ndmp.Ndmp4_mover_read_request{Offset: 0, Length: lengthInfinity})
	got := make([]byte, 6*rs)
	if _, err := io.ReadFull(rc, got); err != nil {
		t.Fatal(err)
	}
	d.paused(ndmp.NDMP4_MOVER_PAUSE_EOF)
	if !bytes.Equal(got, data[4*rs:]) {
		t.Fatal("part 2 differs")
	}
	// The tape is on the filemark's BOT side: file 1, as TAPE_READ leaves it.
	d.at(1, blocknoUnknown)
	// Part 1, after the DMA positioned the tape while paused.
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.window(6*rs, lengthInfinity-6*rs)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CONTINUE, nil)
	got = make([]byte, 4*rs)
	if _, err := io.ReadFull(rc, got); err != nil {
		t.Fatal(err)
	}
	d.paused(ndmp.NDMP4_MOVER_PAUSE_EOF)
	if !bytes.Equal(got, data[:4*rs]) {
		t.Fatal("part 1 differs")
	}
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CLOSE, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
}

// TestMoverSeek: a MOVER_READ outside the window pauses SEEK at the byte
// wanted; a window set there lets it go on.
func TestMoverSeek(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	const rs = 1024
	data := make([]byte, 20*rs)
	rand.NewChaCha8([32]byte{3}).Read(data)
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	backup(t, d, rs, data)
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)

	// Only records 10.. are "on this tape": the window starts at record 10
	// of the stream where the tape stands now.
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.mtio(ndmp.NDMP4_MTIO_FSR, 10, 0)
	d.recordSize(rs)
	d.window(10*rs, 10*rs)
	conn := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_WRITE))
	// The connection is established: get_state says ACTIVE at once.
	d.moverIs(ndmp.NDMP4_MOVER_STATE_ACTIVE)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_READ, &ndmp.Ndmp4_mover_read_request{Offset: 2 * rs, Length: 100})
	if seek := d.paused(ndmp.NDMP4_MOVER_PAUSE_SEEK); seek != 2*rs {
		t.Fatalf("seek position %d", seek)
	}
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.window(0, 10*rs)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CONTINUE, nil)
	got := make([]byte, 100)
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[2*rs:2*rs+100]) {
		t.Fatal("seeked read differs")
	}
	// The mover accounts for the bytes once its write returned: wait.
	deadline := time.Now().Add(20 * time.Second)
	for st := d.mover(); st.Bytes_left_to_read != 0 || st.Seek_position != 2*rs || st.Bytes_moved != 100; st = d.mover() {
		if time.Now().After(deadline) {
			t.Fatalf("state %+v", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// A read that runs off the window's end pauses SEEK there.
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_READ, &ndmp.Ndmp4_mover_read_request{Offset: 9 * rs, Length: 2 * rs})
	got = make([]byte, rs)
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if seek := d.paused(ndmp.NDMP4_MOVER_PAUSE_SEEK); seek != 10*rs {
		t.Fatalf("seek position %d", seek)
	}
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_ABORT, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_ABORTED)
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the data connection is still open after the abort")
	}
}

// TestMoverEndOfMedium: a backup larger than the tape pauses EOM in the
// early-warning zone (nothing lost), and again when the tape is full; the
// DMA changes tapes while paused and the stream goes on.
func TestMoverEndOfMedium(t *testing.T) {
	c := tapeCluster(t, 2, 4<<20) // early warning in the last MiB
	d := newDMA(t, serve(t, c))
	const rs = 64 << 10
	data := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{4}).Read(data)

	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	d.recordSize(rs)
	d.window(0, lengthInfinity)
	conn := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_READ))
	go func() {
		conn.Write(data)
		conn.Close()
	}()
	d.paused(ndmp.NDMP4_MOVER_PAUSE_EOM) // early warning
	ew := d.mover().Bytes_moved
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CONTINUE, nil)
	d.paused(ndmp.NDMP4_MOVER_PAUSE_EOM) // full
	first := d.mover().Bytes_moved
	if first <= ew || first > 4<<20 {
		t.Fatalf("early warning at %d, full at %d", ew, first)
	}
	// Change tapes as ndmjob does: close, open the next, window, continue.
	d.closeTape()
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_OPEN, &ndmp.Ndmp4_tape_open_request{Device: "lib/1", Mode: ndmp.NDMP4_TAPE_RDWR_MODE})
	d.window(first, lengthInfinity-first)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_CONTINUE, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
	d.closeTape()

	var got []byte
	for i, want := range []uint64{first, uint64(len(data)) - first} {
		d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_OPEN, &ndmp.Ndmp4_tape_open_request{Device: "lib/" + strconv.Itoa(i), Mode: ndmp.NDMP4_TAPE_READ_MODE})
		n := uint64(0)
		for {
			b, e := d.call(ndmp.NDMP4_TAPE_READ, &ndmp.Ndmp4_tape_read_request{Count: rs})
			if e != ndmp.NDMP4_NO_ERR {
				break
			}
			got = append(got, b.(*ndmp.Ndmp4_tape_read_reply).Data_in...)
			n += rs
		}
		if n < want {
			t.Fatalf("tape %d holds %d bytes, want %d", i, n, want)
		}
		d.closeTape()
	}
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("the two tapes do not hold the stream")
	}
}

// TestMoverSessionEnd: a DMA that drops its connection mid-backup leaves
// the drive free, the mover stopped.
func TestMoverSessionEnd(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	addr := serve(t, c)
	d := newDMA(t, addr)
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	d.recordSize(1024)
	d.window(0, lengthInfinity)
	conn := dialData(t, d.listen(ndmp.NDMP4_MOVER_MODE_READ))
	conn.Write(make([]byte, 10000))
	d.waitMover(ndmp.NDMP4_MOVER_STATE_ACTIVE)
	d.c.Close()
	waitReleased(t, c, 0)
	if _, err := conn.Write(make([]byte, 1<<20)); err == nil {
		// The mover closed the data connection; writes fail once the
		// peer's close arrives.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("data connection still open")
		}
	}
	newDMA(t, addr).open(ndmp.NDMP4_TAPE_READ_MODE)
}

// BenchmarkMoverBackup moves a stream through a TCP data connection onto a
// cartridge, as a local backup's mover does, for record sizes from
// ndmjob's default (10 KiB) up; BenchmarkFileWrite is the same bytes
// written to a file and fsynced (tar | dd conv=fsync's half).
func BenchmarkMoverBackup(b *testing.B) {
	for _, rs := range []uint32{10 << 10, 64 << 10, 256 << 10} {
		b.Run(strconv.Itoa(int(rs>>10))+"KiB", func(b *testing.B) {
			c := newFakeCluster(b, "B00001L9")
			if err := c.lib.Move("B00001L9", library.AtDrive(0)); err != nil {
				b.Fatal(err)
			}
			addr, _ := startServer(b, Config{Cluster: c})
			d := &dma{t: b, c: dial(b, addr, true)}
			d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
			chunk := make([]byte, 1<<20)
			rand.NewChaCha8([32]byte{5}).Read(chunk)
			const total = 256 << 20
			b.SetBytes(total)
			b.ResetTimer()
			for range b.N {
				d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
				d.recordSize(rs)
				d.window(0, lengthInfinity)
				conn := dialData(b, d.listen(ndmp.NDMP4_MOVER_MODE_READ))
				for n := 0; n < total; n += len(chunk) {
					if _, err := conn.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				conn.Close()
				d.halted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
				d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
			}
		})
	}
}

func BenchmarkFileWrite(b *testing.B) {
	chunk := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{5}).Read(chunk)
	const total = 256 << 20
	b.SetBytes(total)
	for range b.N {
		f, err := os.Create(filepath.Join(b.TempDir(), "dd"))
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < total; n += len(chunk) {
			if _, err := f.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestMoverLocal: a LOCAL listen goes ACTIVE when this session's DATA
// connects to it, and a LOCAL connect needs DATA listening LOCAL.
func TestMoverLocal(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	local := ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}
	// Nothing listens: CONNECT LOCAL is refused.
	d.must(ndmp.NDMP4_ILLEGAL_STATE_ERR, ndmp.NDMP4_MOVER_CONNECT, &ndmp.Ndmp4_mover_connect_request{Mode: ndmp.NDMP4_MOVER_MODE_READ, Addr: local})
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_LISTEN, &ndmp.Ndmp4_mover_listen_request{Mode: ndmp.NDMP4_MOVER_MODE_READ, Addr_type: ndmp.NDMP4_ADDR_LOCAL})
	d.moverIs(ndmp.NDMP4_MOVER_STATE_LISTEN)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: local})
	// Connected: the very next get_state says ACTIVE (a DMA that saw
	// LISTEN here would wait; ndmjob sleeps up to two seconds).
	d.moverIs(ndmp.NDMP4_MOVER_STATE_ACTIVE)
	if st := d.mover(); st.Data_connection_addr.Addr_type != ndmp.NDMP4_ADDR_LOCAL {
		t.Fatalf("data connection %v", st.Data_connection_addr.Addr_type)
	}
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_ABORT, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_ABORTED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
	// A MOVER_LISTEN needs this session's DATA idle.
	d.must(ndmp.NDMP4_ILLEGAL_STATE_ERR, ndmp.NDMP4_MOVER_LISTEN, &ndmp.Ndmp4_mover_listen_request{Mode: ndmp.NDMP4_MOVER_MODE_WRITE, Addr_type: ndmp.NDMP4_ADDR_LOCAL})
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_DATA_ABORT, nil)
	d.post(ndmp.NDMP4_NOTIFY_DATA_HALTED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_DATA_STOP, nil)

	// A LOCAL listen aborted before DATA came.
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_LISTEN, &ndmp.Ndmp4_mover_listen_request{Mode: ndmp.NDMP4_MOVER_MODE_WRITE, Addr_type: ndmp.NDMP4_ADDR_LOCAL})
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_ABORT, nil)
	d.halted(ndmp.NDMP4_MOVER_HALT_ABORTED)
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_MOVER_STOP, nil)
	d.moverIs(ndmp.NDMP4_MOVER_STATE_IDLE)
}

// batchDrive is a fake drive that writes batches, as a cluster drive does,
// and counts the calls.
type batchDrive struct {
	*fakeDrive
	batches, records int
}

func (d *batchDrive) WriteRecords(recs [][]byte) (int, bool, error) {
	d.batches++
	for i, r := range recs {
		ew, err := d.WriteRecord(r)
		if err != nil {
			return i, false, err
		}
		d.records++
		if ew {
			return i + 1, true, nil
		}
	}
	return len(recs), false, nil
}

// TestWriteRecordsTo: a drive that writes batches gets the records in one
// call, stopped after the first in the early-warning zone; others get them
// one by one, the same way.
func TestWriteRecordsTo(t *testing.T) {
	c := tapeCluster(t, 2, 4<<20) // early warning in the last MiB
	for _, batch := range []bool{true, false} {
		drive := 0
		if !batch {
			drive = 1
		}
		d0, err := c.OpenDrive(context.Background(), DriveRequest{Library: "lib", Drive: drive, ReadWrite: true})
		if err != nil {
			t.Fatal(err)
		}
		var d Drive = d0
		bd := &batchDrive{fakeDrive: d0.(*fakeDrive)}
		if batch {
			d = bd
		}
		rec := make([]byte, 256<<10)
		recs := [][]byte{rec, rec, rec, rec, rec, rec, rec, rec}
		n, ew, err := writeRecordsTo(d, recs)
		if n != 8 || ew || err != nil {
			t.Fatalf("batch %v: first 2 MiB: %d %v %v", batch, n, ew, err)
		}
		n, ew, err = writeRecordsTo(d, recs) // 2 MiB more: into the zone
		if n == 0 || n == 8 || !ew || err != nil {
			t.Fatalf("batch %v: into the early-warning zone: %d %v %v", batch, n, ew, err)
		}
		if batch && (bd.batches != 2 || bd.records != 8+n) {
			t.Fatalf("%d batches, %d records", bd.batches, bd.records)
		}
		d.Close()
	}
}

// TestMoverPauseAfterHalt: the stream's goroutine reads a filemark (or
// reaches the end of the medium) without the lock while a handler halts
// the mover (MOVER_CLOSE once DATA halted, as ndmjob -t does): the halt
// stands. Pausing then turned the HALTED mover back into PAUSED, ndmjob
// aborted it and called the operation questionable (a flaky CI run).
func TestMoverPauseAfterHalt(t *testing.T) {
	for _, halt := range []ndmp.Ndmp4_mover_halt_reason{ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED, ndmp.NDMP4_MOVER_HALT_ABORTED} {
		m := (&session{}).moverState()
		m.mu.Lock()
		m.state = ndmp.NDMP4_MOVER_STATE_ACTIVE
		m.setHalted(halt)
		if m.pauseLocked(ndmp.NDMP4_MOVER_PAUSE_EOF, "end of the tape file") {
			t.Errorf("%v: pauseLocked on a halted mover = true", halt)
		}
		if m.state != ndmp.NDMP4_MOVER_STATE_HALTED || m.halt != halt || m.pause != ndmp.NDMP4_MOVER_PAUSE_NA {
			t.Errorf("%v: after pauseLocked: state %v halt %v pause %v", halt, m.state, m.halt, m.pause)
		}
		m.mu.Unlock()
	}
}
