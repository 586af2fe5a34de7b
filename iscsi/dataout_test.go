package iscsi

import (
	"bytes"
	"slices"
	"testing"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// A write's buffer is filled by range: with InitialR2T=No, data that
// overlaps the immediate data is merged when it agrees and refused when it
// does not, and the R2Ts solicit exactly the holes, so no byte the
// initiator did not send is written. The old target counted bytes: 512
// bytes of immediate data and a 4096-byte Data-Out at offset 0 made it
// solicit from 4608, and bytes 4096-4607 were written as zeros.
func TestDataOutByCoverage(t *testing.T) {
	const edtl = 8192
	type seg struct{ off, n int }
	tests := []struct {
		name      string
		immediate int
		unsol     []seg // unsolicited Data-Out PDUs, the last one final
		corrupt   bool  // the unsolicited data disagrees with the immediate data
		wantR2Ts  []uint32
	}{
		{"Data-Out from 0 over immediate data", 512, []seg{{0, 4096}}, false, []uint32{4096}},
		{"Data-Out after immediate data", 512, []seg{{512, 3584}}, false, []uint32{4096}},
		{"gap between immediate and unsolicited data", 512, []seg{{1024, 1024}}, false, []uint32{512, 2048}},
		{"disagreeing overlap", 512, []seg{{0, 4096}}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, srv := startTarget(t, nil)
			in := dial(t, addr)
			in.mustLogin(pdu.KV{Key: "InitialR2T", Value: "No"}, pdu.KV{Key: "ImmediateData", Value: "Yes"})
			if in.initialR2T || !in.immediateData {
				t.Fatalf("negotiated InitialR2T %v ImmediateData %v", in.initialR2T, in.immediateData)
			}
			want := pattern(edtl, 7)
			itt := in.nextITT()
			in.send(pdu.EncodeSCSICommand(&pdu.SCSICommand{Write: true, ITT: itt, ExpectedDataTransferLength: edtl,
				CmdSN: in.cmdSN, ExpStatSN: in.expStatSN, CDB: write10(0, edtl/512)}, want[:tc.immediate]))
			in.cmdSN++
			for i, s := range tc.unsol {
				data := want[s.off : s.off+s.n]
				if tc.corrupt {
					data = bytes.Repeat([]byte{0x55}, s.n)
				}
				in.send(pdu.Build(&pdu.DataOut{Final: i == len(tc.unsol)-1, ITT: itt, TTT: pdu.ReservedTag,
					ExpStatSN: in.expStatSN, DataSN: uint32(i), BufferOffset: uint32(s.off)}, data))
			}
			var r2ts []uint32
			for done := false; !done; {
				p := in.recv()
				switch p.Header.Opcode() {
				case pdu.OpR2T:
					var r pdu.R2T
					r.Unmarshal(&p.Header)
					r2ts = append(r2ts, r.BufferOffset)
					in.sendData(itt, r.TTT, want, int(r.BufferOffset), int(r.DesiredDataTransferLength))
				case pdu.OpSCSIResponse:
					var r pdu.SCSIResponse
					r.Unmarshal(&p.Header)
					if tc.corrupt || r.Status != 0 {
						t.Fatalf("status %#x (corrupt data %v)", r.Status, tc.corrupt)
					}
					done = true
				case pdu.OpReject:
					var rej pdu.Reject
					rej.Unmarshal(&p.Header)
					if !tc.corrupt || rej.Reason != pdu.RejectProtocolError {
						t.Fatalf("Reject reason %d", rej.Reason)
					}
					done = true
				default:
					t.Fatalf("unexpected %v", p.Header.Opcode())
				}
			}
			if !slices.Equal(r2ts, tc.wantR2Ts) {
				t.Errorf("R2Ts at %v, want %v", r2ts, tc.wantR2Ts)
			}
			got := srv.Bytes()[:edtl]
			if tc.corrupt {
				want = make([]byte, edtl)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("the LUN differs from what was sent at byte %d", i)
			}
		})
	}
}

// firstDiff is the index of the first byte where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
