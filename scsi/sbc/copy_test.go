package sbc

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ferry-san/ferry/scsi/xcopy"
)

func TestExtendedCopyDelegation(t *testing.T) {
	f := newFixture(t)
	list := fill(80, 0x42)
	xc := func(n uint32) []byte { return xcopy.ExtendedCopyCDB{ParameterListLength: n}.Encode() }

	check(t, f.run(xc(0), list), good) // ExtendedCopy.Param: length 0 is GOOD
	if len(f.copier.lists) != 0 {
		t.Fatal("copy manager called for an empty parameter list")
	}
	check(t, f.run(xc(80), append(list, 1, 2, 3)), good)
	check(t, f.run(xc(200), list), good)
	if len(f.copier.lists) != 2 || !bytes.Equal(f.copier.lists[0], list) || !bytes.Equal(f.copier.lists[1], list) {
		t.Fatalf("parameter lists passed: %d", len(f.copier.lists))
	}
	if f.copier.initiator != "iqn.test,isid1" {
		t.Fatalf("initiator %q", f.copier.initiator)
	}
	lid4 := xc(80)
	lid4[1] = 0x01
	check(t, f.run(lid4, list), invalidAt(1, 4))
	reserved := xc(80)
	reserved[5] = 1
	check(t, f.run(reserved, list), invalidAt(5, 0))
}

func TestReceiveCopyResultsDelegation(t *testing.T) {
	f := newFixture(t)
	rcr := xcopy.ReceiveCopyResultsCDB{Action: xcopy.ActionOperatingParameters, AllocationLength: 1024}.Encode()
	res := f.run(rcr, nil)
	check(t, res, good)
	if !bytes.Equal(f.copier.cdb, rcr) || f.copier.alloc != 1024 {
		t.Fatalf("copy manager got % x alloc %d", f.copier.cdb, f.copier.alloc)
	}
	cs := xcopy.ReceiveCopyResultsCDB{Action: xcopy.ActionCopyStatus, ListID: 1, AllocationLength: 12}.Encode()
	check(t, f.run(cs, nil), good)
	if f.copier.cdb[2] != 1 {
		t.Fatal("list identifier not passed")
	}
	receiveData := xcopy.ReceiveCopyResultsCDB{Action: 0x01, AllocationLength: 12}.Encode()
	check(t, f.run(receiveData, nil), invalidAt(1, 4))
	opWithList := xcopy.ReceiveCopyResultsCDB{Action: xcopy.ActionOperatingParameters, ListID: 1, AllocationLength: 12}.Encode()
	check(t, f.run(opWithList, nil), invalidAt(2, 0))
}

// TestThirdPartyCopyVPDMatchesOperatingParameters checks that VPD 8Fh
// lists what libiscsi's ReceiveCopyResults.CopyStatus looks for (RECEIVE
// COPY RESULTS with COPY STATUS) and that its limits equal the OPERATING
// PARAMETERS the copy manager reports, as SPC-4 requires.
func TestThirdPartyCopyVPDMatchesOperatingParameters(t *testing.T) {
	f := newFixture(t)
	d := f.run(inquiryCDB(true, vpdThirdPartyCopy, 1024), nil).DataIn
	descs := map[uint16][]byte{}
	for p := d[4 : 4+binary.BigEndian.Uint16(d[2:4])]; len(p) >= 4; {
		n := 4 + int(binary.BigEndian.Uint16(p[2:4]))
		if n%4 != 0 {
			t.Fatalf("descriptor %#x of %d bytes, not a multiple of 4", binary.BigEndian.Uint16(p), n)
		}
		descs[binary.BigEndian.Uint16(p)] = p[:n]
		p = p[n:]
	}
	cmds := descs[tpcSupportedCommands]
	found := false
	for p := cmds[5 : 5+cmds[4]]; len(p) >= 2; p = p[2+int(p[1]):] {
		if p[0] == opReceiveCopyResults && bytes.Contains(p[2:2+int(p[1])], []byte{saCopyStatus}) {
			found = true
		}
	}
	if !found {
		t.Fatal("RECEIVE COPY RESULTS (COPY STATUS) not listed")
	}
	want, err := xcopy.DecodeOperatingParameters(f.run(xcopy.ReceiveCopyResultsCDB{Action: xcopy.ActionOperatingParameters, AllocationLength: 1024}.Encode(), nil).DataIn)
	if err != nil {
		t.Fatal(err)
	}
	p := descs[tpcParameterData]
	if binary.BigEndian.Uint16(p[8:10]) != want.MaxTargetDescriptors ||
		binary.BigEndian.Uint16(p[10:12]) != want.MaxSegmentDescriptors ||
		binary.BigEndian.Uint32(p[12:16]) != want.MaxDescriptorListLength ||
		binary.BigEndian.Uint32(p[16:20]) != want.MaxInlineData {
		t.Fatalf("parameter data % x vs %+v", p, want)
	}
	sd := descs[tpcSupportedDescriptors]
	if !bytes.Equal(sd[5:5+sd[4]], want.Implemented) {
		t.Fatalf("supported descriptors % x, want % x", sd[5:5+sd[4]], want.Implemented)
	}
	g := descs[tpcGeneralCopyOps]
	if binary.BigEndian.Uint32(g[4:8]) != uint32(want.TotalConcurrentCopies) || binary.BigEndian.Uint32(g[12:16]) != want.MaxSegmentLength {
		t.Fatalf("general copy operations % x vs %+v", g, want)
	}
	std := f.run(inquiryCDB(false, 0, 96), nil).DataIn
	if std[5]&tpcBit == 0 {
		t.Fatal("standard INQUIRY lacks TPC")
	}
}
