package smc

import (
	"context"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
)

// FuzzCDB sends arbitrary CDBs, from a DMA over the network, to the
// device server: it must never panic, must answer GOOD or CHECK CONDITION
// with well-formed fixed sense data, must never return more data-in than
// the client's buffer, and must leave the library state valid.
func FuzzCDB(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 0, 0, 0, 0, 0},
		{opInquiry, 0, 0, 0, 128, 0},
		inquiryCDB(true, 0x83, 255),
		{opModeSense6, 0x08, 0x1D, 0, 255, 0},
		{opModeSense10, 0, 0x3F, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0},
		resCDB(0x10, 0, 80, 0, 8192),
		resCDB(0x10, 0, 0xFFFF, 0x03, 8),
		resCDB(0x14, 5, 3, 0x01, 0xFFFFFF),
		moveCDB(0, 1, 6),
		moveCDB(0, 7, 3),
		moveCDB(0, 5, 0),
		{opInitElementRange, 1, 0, 7, 0, 0, 0, 2, 0, 0},
		{opPreventAllow, 0, 0, 0, 1, 0},
		{opReportLUNs, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0},
		{opRequestSense, 1, 0, 0, 252, 0},
		{},
		{0xFF},
	} {
		f.Add(seed, uint16(4096), uint8(0))
	}
	f.Fuzz(func(t *testing.T, cdb []byte, maxIn uint16, held uint8) {
		lib := newFixture(t)
		if held&1 != 0 {
			lib.holders[int(held>>1)%2] = "job fuzz"
		}
		if held&0x80 != 0 {
			lib.busy["A00001L9"] = "job fuzz"
		}
		d := New(Config{Name: "lib1"}, lib)
		r := d.Execute(context.Background(), Command{CDB: cdb, MaxIn: int(maxIn)})
		switch r.Status {
		case StatusGood:
			if r.Sense != nil || r.Err != nil {
				t.Fatalf("GOOD with sense %v", r.Err)
			}
		case StatusCheckCondition:
			if len(r.Sense) != sense.FixedLength || r.Data != nil {
				t.Fatalf("CHECK CONDITION with %d bytes of sense and %d of data", len(r.Sense), len(r.Data))
			}
			if _, err := sense.Parse(r.Sense); err != nil {
				t.Fatalf("sense % x: %v", r.Sense, err)
			}
		default:
			t.Fatalf("status %#x", r.Status)
		}
		if len(r.Data) > int(maxIn) {
			t.Fatalf("%d bytes of data-in for a %d-byte buffer", len(r.Data), maxIn)
		}
		if err := lib.state.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
