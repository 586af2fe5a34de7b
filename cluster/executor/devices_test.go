package executor

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/tape"
)

// cartridgeWithFiles makes an image holding a label (file 0) and files 1
// and 2 of one record each, and returns its registration.
func cartridgeWithFiles(t *testing.T) *ferryv1.Cartridge {
	t.Helper()
	path := filepath.Join(t.TempDir(), "A00001L9.tap")
	c, err := tape.Create(path, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.WriteLabel(c, "A00001L9"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"file one", "file two"} {
		if _, err := c.WriteRecord([]byte(r)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteFilemarks(1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return &ferryv1.Cartridge{Barcode: "A00001L9", Path: path}
}

func readFile(t *testing.T, c *tape.Cartridge) string {
	t.Helper()
	buf := make([]byte, 100)
	n, err := c.ReadRecord(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// TestFileAtEndOfDataDoesNotExist: on a cartridge with files 0-2, file 3
// is where spacing lands at end of data; reading it is refused like file 4,
// while a destination may start there.
func TestFileAtEndOfDataDoesNotExist(t *testing.T) {
	reg := cartridgeWithFiles(t)
	c, err := OpenCartridge(reg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := PositionAtFile(c, 2, false); err != nil || readFile(t, c) != "file two" {
		t.Fatalf("file 2: %v", err)
	}
	for _, n := range []uint32{3, 4} {
		err := PositionAtFile(c, n, false)
		if !errors.Is(err, tape.ErrEndOfData) || !strings.Contains(err.Error(), "holds 3 (files 0 to 2)") {
			t.Errorf("reading file %d: %v", n, err)
		}
	}
	if err := PositionAtFile(c, 3, true); err != nil {
		t.Errorf("a new file 3: %v", err)
	}
	if err := PositionAtFile(c, 4, true); !errors.Is(err, tape.ErrEndOfData) {
		t.Errorf("writing from file 4: %v", err)
	}
}

// TestReadAfterACutAppend: after a kill -9 during an append the image ends
// inside a record; a read-only open still reads every complete file and
// does not change the image.
func TestReadAfterACutAppend(t *testing.T) {
	reg := cartridgeWithFiles(t)
	w, err := tape.Open(reg.GetPath(), tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Space(tape.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteRecord(bytes.Repeat([]byte("x"), 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(reg.GetPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(reg.GetPath(), st.Size()-500); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCartridge(reg, true)
	if err != nil {
		t.Fatalf("read-only open of a cut image: %v", err)
	}
	for n, want := range []string{"VOL1", "file one", "file two"} {
		if err := PositionAtFile(c, uint32(n), false); err != nil || !strings.HasPrefix(readFile(t, c), want) {
			t.Fatalf("file %d: %v", n, err)
		}
	}
	if err := PositionAtFile(c, 3, false); !errors.Is(err, tape.ErrEndOfData) {
		t.Fatalf("the cut file: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(reg.GetPath()); err != nil || after.Size() != st.Size()-500 {
		t.Fatalf("a reader changed the image: %v", err)
	}
}
