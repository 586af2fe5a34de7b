package sbc

import (
	"bytes"
	"testing"
)

// TestWriteSameLibiscsi encodes SCSI.WriteSame10 (and the same for
// WRITE SAME(16)) against a thin LUN, as its UNMAP tests need.
func TestWriteSameLibiscsi(t *testing.T) {
	const n = testBlocks
	block := fill(512, 0)
	tests := []struct {
		name string
		cdb  []byte
		data []byte
		want want
	}{
		{"0blocks to end", rw10(opWriteSame10, 0, 0, 0, 0), block, good},
		{"0blocks past end", rw10(opWriteSame10, n+1, 0, 0, 0), block, lbaOOB},
		{"0blocks 2^31", rw10(opWriteSame10, 0x80000000, 0, 0, 0), block, lbaOOB},
		{"0blocks -1", rw10(opWriteSame10, 0xFFFFFFFF, 0, 0, 0), block, lbaOOB},
		{"beyond eol", rw10(opWriteSame10, n-256+1, 256, 0, 0), block, lbaOOB},
		{"-1 wraps", rw10(opWriteSame10, 0xFFFFFFFF, 2, 0, 0), block, lbaOOB},
		{"last 256", rw10(opWriteSame10, n-256, 256, 0, 0), block, good},
		{"WRPROTECT", rw10(opWriteSame10, 0, 1, 1, 0), block, invalidAt(1, 7)},
		{"ANCHOR", rw10(opWriteSame10, 0, 1, 0, 0x10), block, invalidAt(1, 4)},
		{"ANCHOR UNMAP", rw10(opWriteSame10, 0, 1, 0, 0x18), block, invalidAt(1, 4)},
		{"UNMAP", rw10(opWriteSame10, 0, 1, 0, unmapBit), block, good},
		{"UNMAP to end", rw10(opWriteSame10, n-10, 0, 0, unmapBit), block, good},
		{"half block", rw10(opWriteSame10, 0, 1, 0, unmapBit), fill(256, 0xa6), illegal(0x1A00)},
		{"two blocks", rw10(opWriteSame10, 0, 1, 0, unmapBit), fill(1024, 0xa6), illegal(0x1A00)},
		{"NDOB on WRITE SAME(10)", rw10(opWriteSame10, 0, 1, 0, ndobBit), nil, invalidAt(1, 0)},
		{"16 NDOB", rw16(opWriteSame16, 0, 8, 0, ndobBit), nil, good},
		{"16 -1", rw16(opWriteSame16, ^uint64(0), 1, 0, 0), block, lbaOOB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newThinFixture(t)
			check(t, f.run(tc.cdb, tc.data), tc.want)
		})
	}
}

// TestWriteSameData checks WriteSame10.Check's bytes and that UNMAP and
// NDOB leave zeroes, as LBPRZ promises (WriteSame10.Unmap reads them back).
func TestWriteSameData(t *testing.T) {
	f, _ := newThinFixture(t)
	for i := 1; i <= 256; i *= 4 {
		check(t, f.run(rw10(opWriteSame10, testBlocks-uint32(i), uint16(i), 0, 0), fill(512, byte(i))), good)
		got := f.run(rw10(opRead10, testBlocks-uint32(i), uint16(i), 0, 0), nil).DataIn
		if !bytes.Equal(got, fill(i*512, byte(i))) {
			t.Fatalf("%d blocks not written", i)
		}
	}
	check(t, f.run(rw10(opWrite10, 0, 4, 0, 0), fill(4*512, 0xff)), good)
	check(t, f.run(rw10(opWriteSame10, 0, 2, 0, unmapBit), fill(512, 0)), good)
	check(t, f.run(rw16(opWriteSame16, 2, 1, 0, ndobBit), nil), good)
	got := f.run(rw10(opRead10, 0, 4, 0, 0), nil).DataIn
	if !bytes.Equal(got, append(make([]byte, 3*512), fill(512, 0xff)...)) {
		t.Fatal("UNMAP/NDOB did not zero exactly their blocks")
	}
	// Zero blocks: from the LBA to the end, more than one chunk's worth.
	big := newFixture(t)
	big.disk = newMemLUN(3*chunkBytes/512+7, 512)
	big.srv.Remove(1)
	if err := big.srv.Add(1, NewLUN(big.disk, Identity{NAA: testNAA})); err != nil {
		t.Fatal(err)
	}
	check(t, big.run(rw16(opWriteSame16, 5, 0, 0, 0), fill(512, 0x5a)), good)
	if big.disk.data[5*512-1] != 0 || !bytes.Equal(big.disk.data[5*512:], fill(len(big.disk.data)-5*512, 0x5a)) {
		t.Fatal("WRITE SAME to the end wrote the wrong blocks")
	}
	big.srv.cfg.MaxWriteSameBlocks = 16
	check(t, big.run(rw16(opWriteSame16, 0, 17, 0, 0), fill(512, 1)), invalidAt(10, 7))
	check(t, big.run(rw16(opWriteSame16, 0, 16, 0, 0), fill(512, 1)), good)
}

// TestVerifyLibiscsi encodes SCSI.Verify10.
func TestVerifyLibiscsi(t *testing.T) {
	const n = testBlocks
	f := newFixture(t)
	content := make([]byte, testBlocks*512)
	for i := range content {
		content[i] = byte(i*31 + i>>9)
	}
	copy(f.disk.data, content)
	at := func(lba, blocks int) []byte { return content[lba*512 : (lba+blocks)*512] }
	flipped := func(lba, blocks, off int) []byte {
		b := append([]byte(nil), at(lba, blocks)...)
		b[off] ^= 'X'
		return b
	}
	const bytchk = 1 << bytchkShift
	tests := []struct {
		name string
		cdb  []byte
		data []byte
		want want
	}{
		{"0blocks past end", rw10(opVerify10, n+1, 0, 0, bytchk), nil, lbaOOB},
		{"0blocks 2^31", rw10(opVerify10, 0x80000000, 0, 0, bytchk), nil, lbaOOB},
		{"0blocks -1", rw10(opVerify10, 0xFFFFFFFF, 0, 0, bytchk), nil, lbaOOB},
		{"beyond eol", rw10(opVerify10, n-1, 2, 0, bytchk), fill(1024, 0xa6), lbaOOB},
		{"simple first", rw10(opVerify10, 0, 256, 0, bytchk), at(0, 256), good},
		{"simple last", rw10(opVerify10, n-256, 256, 0, bytchk), at(n-256, 256), good},
		{"flags", rw10(opVerify10, 0, 1, 0, bytchk), at(0, 1), good},
		{"DPO", rw10(opVerify10, 0, 1, 0, 0x10|bytchk), at(0, 1), good},
		{"VRPROTECT", rw10(opVerify10, 0, 1, 1, bytchk), at(0, 1), invalidAt(1, 7)},
		{"mismatch", rw10(opVerify10, 0, 9, 0, bytchk), flipped(0, 9, 4000), miscompare},
		{"mismatch last", rw10(opVerify10, n-3, 3, 0, bytchk), flipped(n-3, 3, 1), miscompare},
		{"mismatch no cmp", rw10(opVerify10, 0, 9, 0, 0), flipped(0, 9, 4000), good},
		{"BYTCHK 10b", rw10(opVerify10, 0, 1, 0, 2<<bytchkShift), at(0, 1), invalidAt(1, 2)},
		{"16 mismatch", rw16(opVerify16, 8, 2, 0, bytchk), flipped(8, 2, 600), miscompare},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, f.run(tc.cdb, tc.data), tc.want)
		})
	}

	res := f.run(rw10(opVerify10, 0, 9, 0, bytchk), flipped(0, 9, 4000))
	if !res.Sense.InfoValid || res.Sense.Information != 4000 {
		t.Fatalf("MISCOMPARE INFORMATION %v, want offset 4000", res.Sense)
	}
	copy(f.disk.data[512:], f.disk.data[:512])
	check(t, f.run(rw10(opVerify10, 0, 2, 0, 3<<bytchkShift), at(0, 1)), good)
	check(t, f.run(rw10(opVerify10, 0, 3, 0, 3<<bytchkShift), at(0, 1)), miscompare)
}
