package ndmpserver

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ferry-san/ferry/storage/tape"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/storage/library"
)

// tapeCluster is the fake cluster with n cartridges (T00000L9…) loaded
// in drives 0..n-1 and cartridges of the given capacity (0: unlimited;
// the early-warning zone is the default 2%, at least 1 MiB).
func tapeCluster(t *testing.T, n int, capacity int64) *fakeCluster {
	t.Helper()
	var barcodes []string
	for i := range n {
		barcodes = append(barcodes, fmt.Sprintf("T%05dL9", i))
	}
	c := newFakeCluster(t, barcodes...)
	c.Capacity = capacity
	for i, b := range barcodes {
		if err := c.lib.Move(b, library.AtDrive(i)); err != nil {
			t.Fatal(err)
		}
		blank(t, c, b)
	}
	return c
}

// blank creates cartridge b's image, empty, so that even a read-only
// open finds it.
func blank(t *testing.T, c *fakeCluster, b string) {
	t.Helper()
	cart, err := tape.Create(filepath.Join(c.dir, b+".tap"), tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cart.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitReleased waits until nothing holds the drive: a session that ended
// released it.
func waitReleased(t *testing.T, c *fakeCluster, drive int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for c.holds(drive) {
		if time.Now().After(deadline) {
			t.Fatalf("drive %d was not released", drive)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serve starts a server over c and returns its address.
func serve(t *testing.T, c *fakeCluster) string {
	t.Helper()
	addr, _ := startServer(t, Config{Cluster: c})
	return addr
}

// dma is a test DMA on one control connection.
type dma struct {
	t testing.TB
	c *ndmp.Client
}

func newDMA(t *testing.T, addr string) *dma {
	t.Helper()
	return &dma{t: t, c: dial(t, addr, true)}
}

// call sends a request and returns its reply's body and error.
func (d *dma) call(code ndmp.Ndmp4_message, body ndmp.Body) (ndmp.Body, ndmp.Ndmp4_error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := d.c.Call(ctx, code, body)
	if err != nil {
		d.t.Fatalf("%v: %v", code, err)
	}
	if m.Header.Error_code != ndmp.NDMP4_NO_ERR {
		return m.Body, m.Header.Error_code
	}
	return m.Body, ndmp.BodyError(m.Body)
}

// must calls and fails the test unless the reply's error is want.
func (d *dma) must(want ndmp.Ndmp4_error, code ndmp.Ndmp4_message, body ndmp.Body) ndmp.Body {
	d.t.Helper()
	b, got := d.call(code, body)
	if got != want {
		d.t.Fatalf("%v %+v: got %v, want %v", code, body, got, want)
	}
	return b
}

func (d *dma) open(mode ndmp.Ndmp4_tape_open_mode) {
	d.t.Helper()
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_OPEN, &ndmp.Ndmp4_tape_open_request{Device: "lib/0", Mode: mode})
}

func (d *dma) closeTape() {
	d.t.Helper()
	d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_CLOSE, nil)
}

// mtio runs an MTIO and checks its error and resid_count.
func (d *dma) mtio(op ndmp.Ndmp4_tape_mtio_op, count, wantResid uint32) {
	d.t.Helper()
	b := d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_MTIO, &ndmp.Ndmp4_tape_mtio_request{Tape_op: op, Count: count})
	if got := b.(*ndmp.Ndmp4_tape_mtio_reply).Resid_count; got != wantResid {
		d.t.Fatalf("mtio %v %d: resid %d, want %d", op, count, got, wantResid)
	}
}

func (d *dma) write(want ndmp.Ndmp4_error, p []byte) uint32 {
	d.t.Helper()
	b := d.must(want, ndmp.NDMP4_TAPE_WRITE, &ndmp.Ndmp4_tape_write_request{Data_out: p})
	return b.(*ndmp.Ndmp4_tape_write_reply).Count
}

func (d *dma) read(want ndmp.Ndmp4_error, n uint32) []byte {
	d.t.Helper()
	b := d.must(want, ndmp.NDMP4_TAPE_READ, &ndmp.Ndmp4_tape_read_request{Count: n})
	return b.(*ndmp.Ndmp4_tape_read_reply).Data_in
}

func (d *dma) state() *ndmp.Ndmp4_tape_get_state_reply {
	d.t.Helper()
	return d.must(ndmp.NDMP4_NO_ERR, ndmp.NDMP4_TAPE_GET_STATE, nil).(*ndmp.Ndmp4_tape_get_state_reply)
}

// at checks file_num and blockno as ndmjob does: blockno may be unknown.
func (d *dma) at(file, block uint32) {
	d.t.Helper()
	st := d.state()
	if st.File_num != file || (st.Blockno != block && st.Blockno != blocknoUnknown) {
		d.t.Fatalf("position: file %d block %d, want file %d block %d", st.File_num, st.Blockno, file, block)
	}
}

// fill is ndmjob's test pattern for record recno of file fileno.
func fill(n, recno, fileno int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + recno*7 + fileno*13)
	}
	return b
}

// series is ndmjob's T-WRITE / T-READ / T-MTIO tape layout.
var series = []struct{ n, size int }{
	{1, 512}, {100, 1024}, {1, 512}, {100, 139}, {1, 512}, {99, 10240}, {1, 512}, {3, 32768}, {1, 512},
}

// TestTapeOpenClose is ndmjob's T-OC and T-BGS, and the cluster's refusals.
func TestTapeOpenClose(t *testing.T) {
	c := tapeCluster(t, 1, 0) // drive 1 is empty
	addr := serve(t, c)
	d := newDMA(t, addr)
	other := newDMA(t, addr)

	open := func(dev string, mode ndmp.Ndmp4_tape_open_mode) *ndmp.Ndmp4_tape_open_request {
		return &ndmp.Ndmp4_tape_open_request{Device: dev, Mode: mode}
	}
	steps := []struct {
		name string
		who  *dma
		code ndmp.Ndmp4_message
		body ndmp.Body
		want ndmp.Ndmp4_error
	}{
		{"close not open", d, ndmp.NDMP4_TAPE_CLOSE, nil, ndmp.NDMP4_DEV_NOT_OPEN_ERR},
		{"get_state not open", d, ndmp.NDMP4_TAPE_GET_STATE, nil, ndmp.NDMP4_DEV_NOT_OPEN_ERR},
		{"open bogus", d, ndmp.NDMP4_TAPE_OPEN, open("bogus", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_NO_DEVICE_ERR},
		{"open unknown library", d, ndmp.NDMP4_TAPE_OPEN, open("nolib/0", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_NO_DEVICE_ERR},
		{"open drive out of range", d, ndmp.NDMP4_TAPE_OPEN, open("lib/9", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_NO_DEVICE_ERR},
		{"open bad mode", d, ndmp.NDMP4_TAPE_OPEN, open("lib/0", 123), ndmp.NDMP4_ILLEGAL_ARGS_ERR},
		{"open empty drive", d, ndmp.NDMP4_TAPE_OPEN, open("lib/1", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_NO_TAPE_LOADED_ERR},
		{"open read", d, ndmp.NDMP4_TAPE_OPEN, open("lib/0", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_NO_ERR},
		{"get_state", d, ndmp.NDMP4_TAPE_GET_STATE, nil, ndmp.NDMP4_NO_ERR},
		{"busy for another session", other, ndmp.NDMP4_TAPE_OPEN, open("lib/0", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_DEVICE_BUSY_ERR},
		{"close", d, ndmp.NDMP4_TAPE_CLOSE, nil, ndmp.NDMP4_NO_ERR},
		{"open rdwr", d, ndmp.NDMP4_TAPE_OPEN, open("lib/0", ndmp.NDMP4_TAPE_RDWR_MODE), ndmp.NDMP4_NO_ERR},
		{"open again", d, ndmp.NDMP4_TAPE_OPEN, open("lib/0", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_DEVICE_OPENED_ERR},
		{"open another drive while open", d, ndmp.NDMP4_TAPE_OPEN, open("lib/1", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_DEVICE_OPENED_ERR},
		{"close again", d, ndmp.NDMP4_TAPE_CLOSE, nil, ndmp.NDMP4_NO_ERR},
		{"load a protected cartridge", nil, 0, nil, 0},
		{"open protected rdwr", d, ndmp.NDMP4_TAPE_OPEN, open("lib/1", ndmp.NDMP4_TAPE_RDWR_MODE), ndmp.NDMP4_WRITE_PROTECT_ERR},
		{"open protected read", d, ndmp.NDMP4_TAPE_OPEN, open("lib/1", ndmp.NDMP4_TAPE_READ_MODE), ndmp.NDMP4_NO_ERR},
		{"write protected", d, ndmp.NDMP4_TAPE_WRITE, &ndmp.Ndmp4_tape_write_request{Data_out: []byte("x")}, ndmp.NDMP4_PERMISSION_ERR},
		{"close protected", d, ndmp.NDMP4_TAPE_CLOSE, nil, ndmp.NDMP4_NO_ERR},
		{"other opens now", other, ndmp.NDMP4_TAPE_OPEN, open("lib/0", ndmp.NDMP4_TAPE_RAW_MODE), ndmp.NDMP4_NO_ERR},
	}
	for _, s := range steps {
		if s.who == nil {
			c.mu.Lock()
			c.protected["P00001L9"] = true
			if err := c.lib.Add("P00001L9", library.AtSlot(4)); err != nil {
				t.Fatal(err)
			}
			if err := c.lib.Move("P00001L9", library.AtDrive(1)); err != nil {
				t.Fatal(err)
			}
			c.mu.Unlock()
			blank(t, c, "P00001L9")
			continue
		}
		if _, got := s.who.call(s.code, s.body); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
	// A session that ends gives its drive back.
	other.c.Close()
	waitReleased(t, c, 0)
	d.open(ndmp.NDMP4_TAPE_READ_MODE)
}

// TestTapeGetState checks every field TAPE_GET_STATE reports.
func TestTapeGetState(t *testing.T) {
	c := tapeCluster(t, 1, 64<<20)
	d := newDMA(t, serve(t, c))
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	for range 3 {
		d.write(ndmp.NDMP4_NO_ERR, make([]byte, 1000))
	}
	st := d.state()
	if st.Unsupported&(ndmp.NDMP4_TAPE_STATE_FILE_NUM_UNS|ndmp.NDMP4_TAPE_STATE_BLOCKNO_UNS|ndmp.NDMP4_TAPE_STATE_TOTAL_SPACE_UNS|ndmp.NDMP4_TAPE_STATE_SPACE_REMAIN_UNS) != 0 {
		t.Errorf("unsupported bits %#x", st.Unsupported)
	}
	if st.File_num != 0 || st.Blockno != 3 || st.Block_size != 0 || st.Total_space != 64<<20 {
		t.Errorf("state %+v", st)
	}
	if want := uint64(64<<20 - 3*(1000+8)); st.Space_remain != want {
		t.Errorf("space_remain %d, want %d", st.Space_remain, want)
	}
	if st.Flags&ndmp.NDMP4_TAPE_STATE_WR_PROT != 0 || st.Flags&ndmp.NDMP4_TAPE_STATE_NOREWIND == 0 {
		t.Errorf("flags %#x", st.Flags)
	}
	d.mtio(ndmp.NDMP4_MTIO_EOF, 2, 0)
	d.at(2, 0)
	d.mtio(ndmp.NDMP4_MTIO_BSF, 1, 0) // BOT side of the second mark: file 1, no records
	d.at(1, 0)
	d.mtio(ndmp.NDMP4_MTIO_BSF, 1, 0) // BOT side of the first: file 0 after 3 records
	d.at(0, 3)
	d.closeTape()
	// Reopened (position back at BOT), blockno is measured.
	d.open(ndmp.NDMP4_TAPE_READ_MODE)
	d.mtio(ndmp.NDMP4_MTIO_FSR, 2, 0)
	d.at(0, 2)
	st = d.state()
	if st.Flags&ndmp.NDMP4_TAPE_STATE_WR_PROT != 0 {
		t.Errorf("read mode shown as write protected: %#x", st.Flags)
	}
}

// TestTapeBasics is ndmjob's T-BW, T-BR and T-BWR.
func TestTapeBasics(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))
	buf := fill(1024, 0, 0)

	// T-BW
	d.write(ndmp.NDMP4_DEV_NOT_OPEN_ERR, buf)
	d.open(ndmp.NDMP4_TAPE_READ_MODE)
	d.write(ndmp.NDMP4_PERMISSION_ERR, buf)
	d.must(ndmp.NDMP4_PERMISSION_ERR, ndmp.NDMP4_TAPE_MTIO, &ndmp.Ndmp4_tape_mtio_request{Tape_op: ndmp.NDMP4_MTIO_EOF, Count: 1})
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.closeTape()
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	if n := d.write(ndmp.NDMP4_NO_ERR, nil); n != 0 {
		t.Fatalf("write of 0 bytes wrote %d", n)
	}
	d.write(ndmp.NDMP4_ILLEGAL_ARGS_ERR, make([]byte, maxTapeRecord+1))
	if n := d.write(ndmp.NDMP4_NO_ERR, buf); n != 1024 {
		t.Fatalf("wrote %d", n)
	}
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.closeTape()

	// T-BR
	d.read(ndmp.NDMP4_DEV_NOT_OPEN_ERR, 1024)
	d.open(ndmp.NDMP4_TAPE_READ_MODE)
	if got := d.read(ndmp.NDMP4_NO_ERR, 0); len(got) != 0 {
		t.Fatalf("read 0 gave %d bytes", len(got))
	}
	d.read(ndmp.NDMP4_ILLEGAL_ARGS_ERR, 0x80000000)
	for _, n := range []uint32{1024, 2048, 512} { // exact, oversize, undersize
		d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
		got := d.read(ndmp.NDMP4_NO_ERR, n)
		if want := buf[:min(n, 1024)]; !bytes.Equal(got, want) {
			t.Fatalf("read %d: %d bytes, want %d", n, len(got), len(want))
		}
		d.read(ndmp.NDMP4_EOF_ERR, n)
		d.read(ndmp.NDMP4_EOF_ERR, n) // still on the BOT side of the mark
		d.at(0, blocknoUnknown)
	}
	d.mtio(ndmp.NDMP4_MTIO_FSF, 1, 0)
	d.at(1, 0)
	d.read(ndmp.NDMP4_EOM_ERR, 1024)
	d.closeTape()

	// T-BWR
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.mtio(ndmp.NDMP4_MTIO_BSR, 100, 100)
	d.mtio(ndmp.NDMP4_MTIO_BSF, 100, 100)
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
	d.mtio(ndmp.NDMP4_MTIO_BSF, 100, 99)
	d.mtio(ndmp.NDMP4_MTIO_FSF, 100, 99)
	d.read(ndmp.NDMP4_EOM_ERR, 64<<10)
	d.read(ndmp.NDMP4_EOM_ERR, 1024)
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.write(ndmp.NDMP4_NO_ERR, buf[:512])
	d.mtio(ndmp.NDMP4_MTIO_BSR, 100, 99)
	d.mtio(ndmp.NDMP4_MTIO_FSR, 100, 99)
	d.mtio(ndmp.NDMP4_MTIO_FSR, 100, 100)
	d.mtio(ndmp.NDMP4_MTIO_FSF, 100, 100)
	d.closeTape()
	for pass := range 2 {
		d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
		d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
		d.write(ndmp.NDMP4_NO_ERR, buf)
		d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
		d.closeTape()
		d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
		d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
		n := uint32(1024)
		if pass == 1 {
			n = 64 << 10
		}
		if got := d.read(ndmp.NDMP4_NO_ERR, n); !bytes.Equal(got, buf) {
			t.Fatalf("pass %d: compare failed", pass)
		}
		d.read(ndmp.NDMP4_EOF_ERR, 1024)
		d.mtio(ndmp.NDMP4_MTIO_FSF, 1, 0)
		d.read(ndmp.NDMP4_EOM_ERR, 1024)
		d.closeTape()
	}
}

// TestTapeSeries is ndmjob's T-WRITE, T-READ and T-MTIO.
func TestTapeSeries(t *testing.T) {
	c := tapeCluster(t, 1, 0)
	d := newDMA(t, serve(t, c))

	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	for f, s := range series {
		for r := range s.n {
			d.write(ndmp.NDMP4_NO_ERR, fill(s.size, r, f))
			d.at(uint32(f), uint32(r+1))
		}
		d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
		d.at(uint32(f+1), 0)
	}
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
	d.closeTape()

	d.open(ndmp.NDMP4_TAPE_READ_MODE)
	for f, s := range series {
		for r := range s.n {
			if got := d.read(ndmp.NDMP4_NO_ERR, uint32(s.size)); !bytes.Equal(got, fill(s.size, r, f)) {
				t.Fatalf("file %d record %d differs", f, r)
			}
			d.at(uint32(f), uint32(r+1))
		}
		d.read(ndmp.NDMP4_EOF_ERR, uint32(s.size))
		d.at(uint32(f), blocknoUnknown)
		d.mtio(ndmp.NDMP4_MTIO_FSF, 1, 0)
		d.at(uint32(f+1), 0)
	}
	d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)

	for f, s := range series {
		d.mtio(ndmp.NDMP4_MTIO_REW, 1, 0)
		d.at(0, 0)
		d.mtio(ndmp.NDMP4_MTIO_FSF, uint32(f), 0)
		d.at(uint32(f), 0)
		d.mtio(ndmp.NDMP4_MTIO_FSR, 1000000, uint32(1000000-s.n))
		d.at(uint32(f), uint32(s.n)) // BOT side of the mark
		d.mtio(ndmp.NDMP4_MTIO_BSR, 1000000, uint32(1000000-s.n))
		d.at(uint32(f), 0) // EOT side of the previous mark (or BOT)
		d.mtio(ndmp.NDMP4_MTIO_FSR, 0, 0)
		d.at(uint32(f), 0)
		half := s.n / 2
		d.mtio(ndmp.NDMP4_MTIO_FSR, uint32(half), 0)
		d.at(uint32(f), uint32(half))
		if got := d.read(ndmp.NDMP4_NO_ERR, uint32(s.size)); !bytes.Equal(got, fill(s.size, half, f)) {
			t.Fatalf("file %d: fsr(x) read differs", f)
		}
		if rec := half + 1; rec > 1 {
			d.mtio(ndmp.NDMP4_MTIO_BSR, 2, 0)
			d.at(uint32(f), uint32(rec-2))
			if got := d.read(ndmp.NDMP4_NO_ERR, uint32(s.size)); !bytes.Equal(got, fill(s.size, rec-2, f)) {
				t.Fatalf("file %d: bsr(2) read differs", f)
			}
		}
	}
	d.mtio(ndmp.NDMP4_MTIO_TUR, 0, 0)
	d.mtio(ndmp.NDMP4_MTIO_OFF, 1, 0)
	d.at(0, 0)
	d.must(ndmp.NDMP4_ILLEGAL_ARGS_ERR, ndmp.NDMP4_TAPE_MTIO, &ndmp.Ndmp4_tape_mtio_request{Tape_op: 99, Count: 1})
	d.closeTape()
}

// TestTapeEarlyWarning: a write in the early-warning zone is written and
// answered EOM_ERR once; a write past the end is refused with EOM_ERR and
// count 0; filemarks still fit.
func TestTapeEarlyWarning(t *testing.T) {
	c := tapeCluster(t, 1, 4<<20) // early warning in the last MiB
	d := newDMA(t, serve(t, c))
	d.open(ndmp.NDMP4_TAPE_RDWR_MODE)
	rec := make([]byte, 256<<10)
	var eom, full int
	for i := 0; i < 20 && full == 0; i++ {
		b, e := d.call(ndmp.NDMP4_TAPE_WRITE, &ndmp.Ndmp4_tape_write_request{Data_out: rec})
		n := b.(*ndmp.Ndmp4_tape_write_reply).Count
		switch {
		case e == ndmp.NDMP4_NO_ERR && n == uint32(len(rec)):
		case e == ndmp.NDMP4_EOM_ERR && n == uint32(len(rec)):
			eom++
		case e == ndmp.NDMP4_EOM_ERR && n == 0:
			full = i
		default:
			t.Fatalf("write %d: %v count %d", i, e, n)
		}
	}
	if eom != 1 || full == 0 {
		t.Fatalf("early warnings %d, full at write %d", eom, full)
	}
	d.mtio(ndmp.NDMP4_MTIO_EOF, 1, 0)
	if st := d.state(); st.Space_remain >= 256<<10 {
		t.Errorf("space_remain %d at the end of the tape", st.Space_remain)
	}
}
