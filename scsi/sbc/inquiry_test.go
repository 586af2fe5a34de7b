package sbc

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestInquiryGolden pins INQUIRY standard data and every VPD page byte for
// byte.
func TestInquiryGolden(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, title string
		cdb         []byte
	}{
		{"inquiry_standard", "standard INQUIRY data, LUN 1, with a copy manager", inquiryCDB(false, 0, 260)},
		{"vpd_00_supported", "VPD 00h supported pages", inquiryCDB(true, vpdSupportedPages, 255)},
		{"vpd_80_serial", "VPD 80h unit serial number", inquiryCDB(true, vpdUnitSerial, 255)},
		{"vpd_83_device_id", "VPD 83h: NAA 6h LU designator, relative target port 2, port and target SCSI names", inquiryCDB(true, vpdDeviceID, 255)},
		{"vpd_8f_third_party_copy", "VPD 8Fh with xcopy.DefaultLimits", inquiryCDB(true, vpdThirdPartyCopy, 1024)},
		{"vpd_b0_block_limits", "VPD B0h block limits, 512-byte blocks, defaults", inquiryCDB(true, vpdBlockLimits, 255)},
		{"vpd_b1_block_device", "VPD B1h block device characteristics", inquiryCDB(true, vpdBlockDevice, 255)},
		{"vpd_b2_provisioning", "VPD B2h logical block provisioning", inquiryCDB(true, vpdLogicalBlockProv, 255)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.run(tc.cdb, nil)
			check(t, res, good)
			checkGolden(t, tc.name, tc.title, res.DataIn)
		})
	}
}

// TestInquiryLibiscsi encodes what iscsi-test-cu's SCSI.Inquiry suite
// checks.
func TestInquiryLibiscsi(t *testing.T) {
	f := newFixture(t)

	t.Run("Standard", func(t *testing.T) {
		d := f.run(inquiryCDB(false, 0, 260), nil).DataIn
		if d[0] != 0 || d[2] != versionSPC4 || d[3]&0x0F != 2 {
			t.Fatalf("qualifier/type %#x version %#x format %#x", d[0], d[2], d[3])
		}
		if int(d[4]) != len(d)-5 {
			t.Fatalf("ADDITIONAL LENGTH %d for %d bytes", d[4], len(d))
		}
		for i := 8; i < 36; i++ {
			if d[i] != 0 && (d[i] < 0x20 || d[i] > 0x7E) {
				t.Fatalf("byte %d = %#x is not printable ASCII", i, d[i])
			}
		}
		if d[3]&0xC0 != 0 {
			t.Fatalf("AERC/TRMTSK set: %#x", d[3])
		}
		sbc3 := false
		for i := 0; i < 8; i++ {
			if binary.BigEndian.Uint16(d[58+2*i:]) == 0x04C0 {
				sbc3 = true
			}
		}
		if !sbc3 {
			t.Fatal("no SBC-3 version descriptor: libiscsi would skip its SBC-3 checks")
		}
	})
	t.Run("AllocLength", func(t *testing.T) {
		for n := uint16(5); n < 256; n++ {
			res := f.run(inquiryCDB(false, 0, n), nil)
			check(t, res, good)
			if len(res.DataIn) != min(int(n), standardInquiryLen) {
				t.Fatalf("alloc %d: %d bytes", n, len(res.DataIn))
			}
		}
		a, b := f.run(inquiryCDB(false, 0, 511), nil), f.run(inquiryCDB(false, 0, 512), nil)
		if !bytes.Equal(a.DataIn, b.DataIn) {
			t.Fatal("alloc 511 and 512 differ")
		}
	})
	t.Run("EVPD", func(t *testing.T) {
		check(t, f.run(inquiryCDB(false, 1, 256), nil), invalidAt(2, 7))
	})
	t.Run("SupportedVPD", func(t *testing.T) {
		d := f.run(inquiryCDB(true, 0, 255), nil).DataIn
		pages := d[4 : 4+binary.BigEndian.Uint16(d[2:4])]
		for i, p := range pages {
			if i > 0 && p <= pages[i-1] {
				t.Fatalf("pages not ascending: % x", pages)
			}
			res := f.run(inquiryCDB(true, p, 255), nil)
			check(t, res, good)
			if res.DataIn[1] != p || int(binary.BigEndian.Uint16(res.DataIn[2:4]))+4 != len(res.DataIn) {
				t.Fatalf("page %#x header % x for %d bytes", p, res.DataIn[:4], len(res.DataIn))
			}
		}
		if !bytes.Contains(pages, []byte{vpdThirdPartyCopy}) {
			t.Fatal("no third-party copy page: ReceiveCopyResults tests would pass without running")
		}
	})
	t.Run("BlockLimits", func(t *testing.T) {
		d := f.run(inquiryCDB(true, vpdBlockLimits, 255), nil).DataIn
		if d[3] != 0x3C || len(d) != 64 {
			t.Fatalf("page length %#x, %d bytes; SBC-3 wants 3Ch", d[3], len(d))
		}
		if d[4]&1 != 0 {
			t.Fatal("WSNZ set")
		}
		if binary.BigEndian.Uint32(d[20:24]) != 0 || binary.BigEndian.Uint32(d[24:28]) != 0 {
			t.Fatal("UNMAP limits without LBPU")
		}
	})
	t.Run("UnknownLUN", func(t *testing.T) {
		res := f.runLUN(7, inquiryCDB(false, 0, 96), nil)
		check(t, res, good)
		if res.DataIn[0] != 0x7F {
			t.Fatalf("peripheral byte %#x, want 7Fh", res.DataIn[0])
		}
		check(t, f.runLUN(7, inquiryCDB(true, 0x83, 255), nil), lunMissing)
	})
}

// TestDeviceIdentificationForXcopy checks the designator libiscsi copies
// into its EXTENDED COPY target descriptors: the highest-typed of vendor,
// T10, EUI-64 and NAA designators no longer than 20 bytes must be the
// LUN's NAA with association "logical unit", as xcopy.Decode requires.
func TestDeviceIdentificationForXcopy(t *testing.T) {
	f := newFixture(t)
	d := f.run(inquiryCDB(true, vpdDeviceID, 255), nil).DataIn
	var best []byte
	bestType := -1
	for p := d[4:]; len(p) >= 4; p = p[4+int(p[3]):] {
		typ := int(p[1] & 0x0F)
		if typ <= typeNAA && p[3] <= 20 && typ >= bestType {
			best, bestType = p[:4+int(p[3])], typ
		}
	}
	if best == nil || best[0]&0x0F != codeSetBinary || best[1]&0x30 != assocLU || !bytes.Equal(best[4:], testNAA) {
		t.Fatalf("libiscsi would pick % x", best)
	}
}
