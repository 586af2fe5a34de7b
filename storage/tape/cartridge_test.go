package tape

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newTape(t *testing.T, opt Options) (*Cartridge, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.tap")
	c, err := Create(path, opt)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// record returns n bytes that differ from record to record.
func record(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seed*31 + i*7 + i>>8)
	}
	return p
}

// build writes a tape from a layout such as "r r F r": r is a 100+id byte
// record whose content depends on its object id, F a filemark.
func build(t *testing.T, c *Cartridge, layout string) {
	t.Helper()
	for id, tok := range strings.Fields(layout) {
		var err error
		switch tok {
		case "r":
			_, err = c.WriteRecord(record(id, 100+id))
		case "F":
			_, err = c.WriteFilemarks(1)
		default:
			t.Fatalf("bad layout token %q", tok)
		}
		if err != nil {
			t.Fatalf("writing object %d (%s): %v", id, tok, err)
		}
	}
}

func pos(t *testing.T, c *Cartridge) Position {
	t.Helper()
	p, err := c.ReadPosition()
	if err != nil {
		t.Fatalf("ReadPosition: %v", err)
	}
	return p
}

func TestCreateRefusesExisting(t *testing.T) {
	_, path := newTape(t, Options{})
	if _, err := Create(path, Options{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Create over an existing image: %v, want os.ErrExist", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"negative capacity", Options{Capacity: -1}},
		{"negative early warning", Options{Capacity: 100, EarlyWarning: -1}},
		{"early warning above capacity", Options{Capacity: 100, EarlyWarning: 101}},
		{"block size too large", Options{BlockSize: MaxRecordSize + 1}},
		{"read-only new cartridge", Options{ReadOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Create(filepath.Join(t.TempDir(), "t.tap"), tc.opt)
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("Create: %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestDefaultEarlyWarning(t *testing.T) {
	for _, tc := range []struct{ capacity, want int64 }{
		{8 << 30, (8 << 30) / 50},
		{10 << 20, 1 << 20},
		{1000, 1000},
	} {
		o, err := Options{Capacity: tc.capacity}.normalized()
		if err != nil || o.EarlyWarning != tc.want {
			t.Errorf("capacity %d: early warning %d, %v; want %d", tc.capacity, o.EarlyWarning, err, tc.want)
		}
	}
}

func TestRoundTripRecordSizes(t *testing.T) {
	sizes := []int{1, 2, 3, 79, 80, 4096, directWriteMin - 1, directWriteMin, directWriteMin + 1, 1<<20 + 3, MaxRecordSize}
	c, path := newTape(t, Options{})
	for i, n := range sizes {
		if _, err := c.WriteRecord(record(i, n)); err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
		if i%3 == 2 {
			if _, err := c.WriteFilemarks(1); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(c *Cartridge) {
		t.Helper()
		if err := c.Rewind(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, MaxRecordSize)
		for i, n := range sizes {
			got, err := c.ReadRecord(buf)
			if err != nil || !bytes.Equal(buf[:got], record(i, n)) {
				t.Fatalf("record %d: %d bytes, %v; want the %d bytes written", i, got, err, n)
			}
			if i%3 == 2 {
				if _, err := c.ReadRecord(buf); !errors.Is(err, ErrFilemark) {
					t.Fatalf("after record %d: %v, want ErrFilemark", i, err)
				}
			}
		}
		if _, err := c.ReadRecord(buf); !errors.Is(err, ErrEndOfData) {
			t.Fatalf("after the last record: %v, want ErrEndOfData", err)
		}
	}
	check(c)
	used := c.Used()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != used {
		t.Fatalf("image is %v bytes (%v), Used said %d", st.Size(), err, used)
	}
	c2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Used() != used {
		t.Fatalf("reopened Used %d, want %d", c2.Used(), used)
	}
	check(c2)
}

func TestWriteTruncates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout string
		at     uint64 // locate here, then write one record
		mark   bool   // write a filemark instead
		want   []int  // record lengths from BOP after the write, -1 = filemark
	}{
		{"middle record", "r r r r", 1, false, []int{100, 50}},
		{"at BOP", "r F r", 0, false, []int{50}},
		{"before a filemark", "r r F r", 2, false, []int{100, 101, 50}},
		{"filemark over records", "r r r", 1, true, []int{100, -1}},
		{"at EOD", "r F", 2, false, []int{100, -1, 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path := newTape(t, Options{})
			build(t, c, tc.layout)
			if err := c.Locate(tc.at); err != nil {
				t.Fatal(err)
			}
			var err error
			if tc.mark {
				_, err = c.WriteFilemarks(1)
			} else {
				_, err = c.WriteRecord(record(99, 50))
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := pos(t, c); !p.EOD || p.ObjectID != tc.at+1 {
				t.Fatalf("after the write: %+v, want EOD at object %d", p, tc.at+1)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c, err = Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := lengths(t, c); !equalInts(got, tc.want) {
				t.Fatalf("tape holds %v, want %v", got, tc.want)
			}
			st, _ := os.Stat(path)
			if st.Size() != c.Used() {
				t.Fatalf("image is %d bytes, Used %d: the tail was not cut", st.Size(), c.Used())
			}
		})
	}
}

// lengths reads the whole tape from BOP: record lengths, -1 for filemarks.
func lengths(t *testing.T, c *Cartridge) []int {
	t.Helper()
	if err := c.Rewind(); err != nil {
		t.Fatal(err)
	}
	var out []int
	buf := make([]byte, 1<<20)
	for {
		n, err := c.ReadRecord(buf)
		switch {
		case errors.Is(err, ErrEndOfData):
			return out
		case errors.Is(err, ErrFilemark):
			out = append(out, -1)
		case err != nil:
			t.Fatal(err)
		default:
			out = append(out, n)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadAcrossFilemarks(t *testing.T) {
	c, _ := newTape(t, Options{})
	build(t, c, "r F F r")
	c.Rewind()
	buf := make([]byte, 1000)
	steps := []struct {
		n    int
		err  error
		file uint64
	}{{100, nil, 0}, {0, ErrFilemark, 1}, {0, ErrFilemark, 2}, {103, nil, 2}, {0, ErrEndOfData, 2}, {0, ErrEndOfData, 2}}
	for i, s := range steps {
		n, err := c.ReadRecord(buf)
		if n != s.n || !errors.Is(err, s.err) || (s.err == nil && err != nil) {
			t.Fatalf("read %d: %d, %v; want %d, %v", i, n, err, s.n, s.err)
		}
		if p := pos(t, c); p.File != s.file {
			t.Fatalf("read %d: in file %d, want %d", i, p.File, s.file)
		}
	}
}

func TestSpace(t *testing.T) {
	// Object ids:      0 1 2 3 4 5 6 7 8
	const layout = "r r F r r r F F r"
	for _, tc := range []struct {
		name    string
		from    uint64
		unit    SpaceUnit
		count   int64
		to      uint64
		err     error
		residue int64
	}{
		{"records forward", 3, SpaceRecords, 2, 5, nil, 0},
		{"records forward to a filemark", 3, SpaceRecords, 3, 6, nil, 0},
		{"records forward across a filemark", 3, SpaceRecords, 4, 7, ErrFilemark, 1},
		{"records forward onto a filemark", 2, SpaceRecords, 1, 3, ErrFilemark, 1},
		{"records forward past EOD", 8, SpaceRecords, 3, 9, ErrEndOfData, 2},
		{"records forward at EOD", 9, SpaceRecords, 1, 9, ErrEndOfData, 1},
		{"records backward", 5, SpaceRecords, -2, 3, nil, 0},
		{"records backward across a filemark", 5, SpaceRecords, -3, 2, ErrFilemark, 1},
		{"records backward just after a filemark", 3, SpaceRecords, -1, 2, ErrFilemark, 1},
		{"records backward to BOP", 2, SpaceRecords, -2, 0, nil, 0},
		{"records backward past BOP", 2, SpaceRecords, -5, 0, ErrBeginningOfMedium, 3},
		{"records zero", 4, SpaceRecords, 0, 4, nil, 0},
		{"filemarks forward", 0, SpaceFilemarks, 1, 3, nil, 0},
		{"filemarks forward two", 0, SpaceFilemarks, 2, 7, nil, 0},
		{"filemarks forward three", 0, SpaceFilemarks, 3, 8, nil, 0},
		{"filemarks forward past EOD", 4, SpaceFilemarks, 4, 9, ErrEndOfData, 2},
		{"filemarks backward", 9, SpaceFilemarks, -1, 7, nil, 0},
		{"filemarks backward three", 9, SpaceFilemarks, -3, 2, nil, 0},
		{"filemarks backward from after a mark", 3, SpaceFilemarks, -1, 2, nil, 0},
		{"filemarks backward past BOP", 5, SpaceFilemarks, -2, 0, ErrBeginningOfMedium, 1},
		{"filemarks zero", 5, SpaceFilemarks, 0, 5, nil, 0},
		{"end of data", 1, SpaceEndOfData, 0, 9, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTape(t, Options{})
			build(t, c, layout)
			if err := c.Locate(tc.from); err != nil {
				t.Fatal(err)
			}
			err := c.Space(tc.unit, tc.count)
			if tc.err == nil && err != nil || !errors.Is(err, tc.err) {
				t.Fatalf("Space: %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				var re *ResidueError
				if !errors.As(err, &re) || re.Residue != tc.residue {
					t.Fatalf("Space: %v, want residue %d", err, tc.residue)
				}
			}
			if p := pos(t, c); p.ObjectID != tc.to {
				t.Fatalf("at object %d, want %d", p.ObjectID, tc.to)
			}
		})
	}
}

func TestSpaceInvalidUnit(t *testing.T) {
	c, _ := newTape(t, Options{})
	if err := c.Space(SpaceUnit(7), 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Space: %v", err)
	}
}

func TestLocateAndPosition(t *testing.T) {
	c, _ := newTape(t, Options{})
	build(t, c, "r F r r F F r")
	files := []uint64{0, 0, 1, 1, 1, 2, 3, 3}
	buf := make([]byte, 1000)
	for id := uint64(0); id <= 7; id++ {
		if err := c.Locate(id); err != nil {
			t.Fatalf("Locate(%d): %v", id, err)
		}
		p := pos(t, c)
		want := Position{ObjectID: id, File: files[id], BOP: id == 0, EOD: id == 7}
		if p != want {
			t.Fatalf("Locate(%d): %+v, want %+v", id, p, want)
		}
		if id == 7 {
			continue
		}
		n, err := c.ReadRecord(buf)
		if err == nil && !bytes.Equal(buf[:n], record(int(id), 100+int(id))) {
			t.Fatalf("Locate(%d) then read: wrong record", id)
		}
	}
	err := c.Locate(12)
	if !errors.Is(err, ErrEndOfData) {
		t.Fatalf("Locate past EOD: %v", err)
	}
	if p := pos(t, c); !p.EOD || p.ObjectID != 7 {
		t.Fatalf("after Locate past EOD: %+v", p)
	}
}

func TestFixedMode(t *testing.T) {
	c, _ := newTape(t, Options{BlockSize: 512})
	if _, err := c.WriteRecord(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteRecord(make([]byte, 511)); !errors.Is(err, ErrInvalidLength) {
		t.Fatalf("511 bytes in fixed 512 mode: %v", err)
	}
	if err := c.SetBlockSize(0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteRecord(record(1, 100)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBlockSize(512); err != nil || c.BlockSize() != 512 {
		t.Fatalf("SetBlockSize: %v, %d", err, c.BlockSize())
	}
	c.Rewind()
	buf := make([]byte, 4096)
	if n, err := c.ReadRecord(buf); n != 512 || err != nil {
		t.Fatalf("first block: %d, %v", n, err)
	}
	n, err := c.ReadRecord(buf)
	var ile *IncorrectLengthError
	if !errors.As(err, &ile) || n != 100 || ile.Requested != 512 || ile.RecordLength != 100 || ile.Residue() != 412 {
		t.Fatalf("100-byte record in fixed mode: %d, %v", n, err)
	}
	if p := pos(t, c); p.ObjectID != 2 {
		t.Fatalf("after ILI at object %d, want 2", p.ObjectID)
	}
	if err := c.SetBlockSize(MaxRecordSize + 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("SetBlockSize too large: %v", err)
	}
}

func TestVariableModeIncorrectLength(t *testing.T) {
	c, _ := newTape(t, Options{})
	build(t, c, "r r")
	c.Rewind()
	buf := make([]byte, 10)
	n, err := c.ReadRecord(buf)
	var ile *IncorrectLengthError
	if !errors.As(err, &ile) || n != 10 || ile.Residue() != -90 || !bytes.Equal(buf, record(0, 100)[:10]) {
		t.Fatalf("short read: %d, %v", n, err)
	}
	big := make([]byte, 1000)
	if n, err := c.ReadRecord(big); n != 101 || err != nil {
		t.Fatalf("the next record after ILI: %d, %v (the ILI read must move past its record)", n, err)
	}
}

func TestInvalidWrites(t *testing.T) {
	c, _ := newTape(t, Options{})
	for _, n := range []int{0, MaxRecordSize + 1} {
		if _, err := c.WriteRecord(make([]byte, n)); !errors.Is(err, ErrInvalidLength) {
			t.Errorf("%d-byte record: %v", n, err)
		}
	}
	for _, n := range []int{-1, maxFilemarkCount + 1} {
		if _, err := c.WriteFilemarks(n); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%d filemarks: %v", n, err)
		}
	}
	if c.Used() != 0 {
		t.Fatalf("refused writes used %d bytes", c.Used())
	}
}

func TestEarlyWarningAndEndOfMedium(t *testing.T) {
	// 1000-byte records take 1008 image bytes; the zone starts at 8000.
	c, path := newTape(t, Options{Capacity: 10000, EarlyWarning: 2000})
	for i := 1; i <= 9; i++ {
		ew, err := c.WriteRecord(record(i, 1000))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want := i*1008 > 8000; ew != want {
			t.Fatalf("record %d ends at %d: early warning %v, want %v", i, i*1008, ew, want)
		}
		if p := pos(t, c); p.EarlyWarning != (i*1008 > 8000) {
			t.Fatalf("record %d: position %+v", i, p)
		}
	}
	used := c.Used()
	if _, err := c.WriteRecord(record(10, 1000)); !errors.Is(err, ErrEndOfMedium) {
		t.Fatalf("record past the capacity: %v, want ErrEndOfMedium", err)
	}
	if c.Used() != used || pos(t, c).ObjectID != 9 {
		t.Fatalf("a failed write changed the tape: used %d (was %d), %+v", c.Used(), used, pos(t, c))
	}
	// A smaller record and the closing filemarks still fit.
	if ew, err := c.WriteRecord(record(11, 900)); err != nil || !ew {
		t.Fatalf("record that fits: %v, %v", ew, err)
	}
	if _, err := c.WriteFilemarks(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteFilemarks(1000); !errors.Is(err, ErrEndOfMedium) {
		t.Fatalf("filemarks past the capacity: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Size() > 10000 {
		t.Fatalf("image is %d bytes, above the capacity", st.Size())
	}
	// Rewriting from the start makes room again.
	c, err := Open(path, Options{Capacity: 10000, EarlyWarning: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ew, err := c.WriteRecord(record(1, 1000)); err != nil || ew {
		t.Fatalf("write at BOP of a full tape: %v, %v", ew, err)
	}
}

func TestWriteProtect(t *testing.T) {
	c, path := newTape(t, Options{})
	build(t, c, "r F r")
	c.Close()
	c, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteRecord([]byte("x")); !errors.Is(err, ErrWriteProtected) {
		t.Fatalf("WriteRecord: %v", err)
	}
	if _, err := c.WriteFilemarks(1); !errors.Is(err, ErrWriteProtected) {
		t.Fatalf("WriteFilemarks: %v", err)
	}
	if _, err := c.WriteFilemarks(0); err != nil {
		t.Fatalf("WriteFilemarks(0) is a flush: %v", err)
	}
	if !c.ReadOnly() {
		t.Fatal("ReadOnly false")
	}
	if got := lengths(t, c); !equalInts(got, []int{100, -1, 102}) {
		t.Fatalf("read-only tape holds %v", got)
	}
}

func TestOddLengthPadding(t *testing.T) {
	c, path := newTape(t, Options{})
	if _, err := c.WriteRecord([]byte{0xAA, 0xBB, 0xCC}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := []byte{3, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0, 3, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("image % x, want % x", got, want)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	c, path := newTape(t, Options{})
	build(t, c, "r r F r F F r r r")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := lengths(t, c)
	used := c.Used()
	c.Close()
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := lengths(t, c); !equalInts(got, want) || c.Used() != used {
		t.Fatalf("reopened: %v, used %d; want %v, used %d", got, c.Used(), want, used)
	}
	if err := c.Locate(6); err != nil {
		t.Fatal(err)
	}
	if p := pos(t, c); p.File != 3 {
		t.Fatalf("object 6 in file %d, want 3", p.File)
	}
	// Appending after reopen continues the same image.
	c.Space(SpaceEndOfData, 0)
	if _, err := c.WriteRecord(record(9, 109)); err != nil {
		t.Fatal(err)
	}
	if got := lengths(t, c); !equalInts(got, append(want, 109)) {
		t.Fatalf("after append: %v", got)
	}
}

func TestClosed(t *testing.T) {
	c, _ := newTape(t, Options{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Close":        c.Close(),
		"Flush":        c.Flush(),
		"Rewind":       c.Rewind(),
		"Locate":       c.Locate(0),
		"Space":        c.Space(SpaceRecords, 1),
		"SetBlockSize": c.SetBlockSize(0),
	}
	_, checks["ReadRecord"] = c.ReadRecord(nil)
	_, checks["WriteRecord"] = c.WriteRecord([]byte("x"))
	_, checks["WriteFilemarks"] = c.WriteFilemarks(1)
	_, checks["ReadPosition"] = c.ReadPosition()
	for name, err := range checks {
		if !errors.Is(err, ErrNotLoaded) {
			t.Errorf("%s after Close: %v, want ErrNotLoaded", name, err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c, _ := newTape(t, Options{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			if _, err := c.WriteRecord(record(i, 10)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			if _, err := c.ReadPosition(); err != nil {
				t.Error(err)
				return
			}
			_ = c.Used()
		}
	}()
	wg.Wait()
	if p := pos(t, c); p.ObjectID != 200 {
		t.Fatalf("at %d after 200 writes", p.ObjectID)
	}
}

// TestFlushWhileWriting flushes from one goroutine while another writes, as
// the mover does at a checkpoint: every record must be in the image after
// reopening, and Close must wait for a Flush still in its fsync.
func TestFlushWhileWriting(t *testing.T) {
	c, path := newTape(t, Options{})
	const records = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range records {
			// Large and small records take the two write paths.
			n := 10 + i
			if i%3 == 0 {
				n = directWriteMin + i
			}
			if _, err := c.WriteRecord(record(i, n)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := c.Flush(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush() }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-flushed; err != nil && !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("Flush racing Close: %v", err)
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := lengths(t, c)
	if len(got) != records {
		t.Fatalf("%d records after reopening, want %d", len(got), records)
	}
	for i, n := range got {
		want := 10 + i
		if i%3 == 0 {
			want = directWriteMin + i
		}
		if n != want {
			t.Fatalf("record %d is %d bytes, want %d", i, n, want)
		}
	}
}

// Erase ends the tape at the position, writing nothing there.
func TestErase(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout string
		at     uint64
		want   []int
	}{
		{"unterminated file", "r F r r", 2, []int{100, -1}},
		{"at EOD", "r F", 2, []int{100, -1}},
		{"at BOP", "r F r", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path := newTape(t, Options{})
			build(t, c, tc.layout)
			if err := c.Locate(tc.at); err != nil {
				t.Fatal(err)
			}
			if err := c.Erase(); err != nil {
				t.Fatal(err)
			}
			if p := pos(t, c); !p.EOD || p.ObjectID != tc.at {
				t.Fatalf("after the erase: %+v, want EOD at object %d", p, tc.at)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := lengths(t, c); !equalInts(got, tc.want) {
				t.Fatalf("tape holds %v, want %v", got, tc.want)
			}
			if st, _ := os.Stat(path); st.Size() != c.Used() {
				t.Fatalf("image is %d bytes, Used %d", st.Size(), c.Used())
			}
		})
	}
}
