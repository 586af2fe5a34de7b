package tape

import (
	"bytes"
	"errors"
	"testing"
)

func TestLabelRoundTrip(t *testing.T) {
	c, _ := newTape(t, Options{BlockSize: 512})
	if err := c.SetBlockSize(0); err != nil {
		t.Fatal(err)
	}
	build(t, c, "r F r") // a used tape: labelling discards it
	if err := c.SetBlockSize(512); err != nil {
		t.Fatal(err)
	}
	if err := WriteLabel(c, "A00001L9"); err != nil {
		t.Fatal(err)
	}
	if p := pos(t, c); p.File != 1 || !p.EOD || p.ObjectID != 2 {
		t.Fatalf("after WriteLabel at %+v, want the start of file 1 at EOD", p)
	}
	if c.BlockSize() != 512 {
		t.Fatalf("WriteLabel left block size %d, want 512 restored", c.BlockSize())
	}
	if _, err := c.WriteRecord(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLabel(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Label{VolumeID: "A00001", Accessibility: ' ', ImplementationID: ImplementationID, Version: '4'}
	if l != want {
		t.Fatalf("ReadLabel: %+v, want %+v", l, want)
	}
	if p := pos(t, c); p.File != 1 || p.ObjectID != 2 {
		t.Fatalf("after ReadLabel at %+v, want the start of file 1", p)
	}
	// The record itself, byte for byte.
	c.Rewind()
	c.SetBlockSize(0)
	buf := make([]byte, 100)
	n, err := c.ReadRecord(buf)
	wantRec := []byte("VOL1A00001" + string(bytes.Repeat([]byte(" "), 14)) + "FERRY" + string(bytes.Repeat([]byte(" "), 50)) + "4")
	if err != nil || !bytes.Equal(buf[:n], wantRec) {
		t.Fatalf("VOL1 record %q (%v), want %q", buf[:n], err, wantRec)
	}
}

func TestVolumeID(t *testing.T) {
	for _, tc := range []struct {
		barcode, want string
		ok            bool
	}{
		{"A00001L9", "A00001", true},
		{"ABC", "ABC   ", true},
		{"CLN001L1", "CLN001", true},
		{"", "", false},
		{"a00001L9", "", false},
		{"A0 001L9", "", false},
		{"A0\x00001", "", false},
	} {
		got, err := VolumeID(tc.barcode)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("VolumeID(%q) = %q, %v", tc.barcode, got, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("VolumeID(%q): %v, want ErrInvalidArgument", tc.barcode, err)
		}
	}
}

func TestReadLabelRejects(t *testing.T) {
	vol1, _ := encodeVOL1("A00001L9")
	for _, tc := range []struct {
		name   string
		layout func(c *Cartridge)
	}{
		{"blank tape", func(c *Cartridge) {}},
		{"filemark first", func(c *Cartridge) { c.WriteFilemarks(1) }},
		{"short record", func(c *Cartridge) { c.WriteRecord([]byte("VOL1")) }},
		{"long record", func(c *Cartridge) { c.WriteRecord(append(vol1, 'x', 'y')) }},
		{"81-byte record", func(c *Cartridge) { c.WriteRecord(append(vol1, 'x')) }},
		{"HDR1 instead", func(c *Cartridge) { c.WriteRecord(append([]byte("HDR1"), vol1[4:]...)) }},
		{"lower case", func(c *Cartridge) { c.WriteRecord(append([]byte("VOL1a"), vol1[5:]...)) }},
		{"no filemark after", func(c *Cartridge) { c.WriteRecord(vol1); c.WriteRecord(vol1) }},
		{"end of data after", func(c *Cartridge) { c.WriteRecord(vol1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTape(t, Options{})
			tc.layout(c)
			_, err := ReadLabel(c)
			if tc.name == "end of data after" {
				if !errors.Is(err, ErrEndOfData) {
					t.Fatalf("ReadLabel: %v, want ErrEndOfData", err)
				}
				return
			}
			if !errors.Is(err, ErrNotLabeled) {
				t.Fatalf("ReadLabel: %v, want ErrNotLabeled", err)
			}
		})
	}
}

func TestWriteLabelErrors(t *testing.T) {
	c, path := newTape(t, Options{})
	if err := WriteLabel(c, "bad"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("WriteLabel with a bad barcode: %v", err)
	}
	c.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := WriteLabel(ro, "A00001L9"); !errors.Is(err, ErrWriteProtected) {
		t.Fatalf("WriteLabel on a protected tape: %v", err)
	}
}
