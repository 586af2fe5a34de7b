package pdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex turns a spaced hex dump into bytes.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The golden headers are written by hand from the layouts of RFC 7143
// chapter 11, one line per 8 bytes.
var goldens = []struct {
	name string
	msg  Message
	// fresh returns an empty message of the same type for decoding.
	fresh func() Message
	bhs   string
}{
	{"SCSI Command READ(10)", &SCSICommand{Final: true, Read: true, Attr: 1, LUN: 0x0001000000000000, ITT: 0x10,
		ExpectedDataTransferLength: 0x1000, CmdSN: 5, ExpStatSN: 7,
		CDB: []byte{0x28, 0, 0, 0, 0, 0x20, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0}},
		func() Message { return &SCSICommand{} }, `
		01 c1 00 00 00 00 00 00  00 01 00 00 00 00 00 00
		00 00 00 10 00 00 10 00  00 00 00 05 00 00 00 07
		28 00 00 00 00 20 00 00  08 00 00 00 00 00 00 00`},
	{"Login Request", &LoginRequest{Transit: true, CSG: StageOperational, NSG: StageFullFeature,
		ISID: [6]byte{0x80, 0x12, 0x34, 0x56, 0, 0}, ITT: 1, CID: 2, CmdSN: 9, ExpStatSN: 0},
		func() Message { return &LoginRequest{} }, `
		43 87 00 00 00 00 00 00  80 12 34 56 00 00 00 00
		00 00 00 01 00 02 00 00  00 00 00 09 00 00 00 00
		00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00`},
	{"Login Response failure", &LoginResponse{CSG: StageSecurity, ISID: [6]byte{0x80, 1, 2, 3, 4, 5}, ITT: 0xabcd,
		SN: SN{StatSN: 1, ExpCmdSN: 2, MaxCmdSN: 3}, StatusClass: StatusInitiatorError, StatusDetail: DetailNotFound},
		func() Message { return &LoginResponse{} }, `
		23 00 00 00 00 00 00 00  80 01 02 03 04 05 00 00
		00 00 ab cd 00 00 00 00  00 00 00 01 00 00 00 02
		00 00 00 03 02 03 00 00  00 00 00 00 00 00 00 00`},
	{"Data-Out", &DataOut{Final: true, LUN: 0x0001000000000000, ITT: 0x20, TTT: 0x30, ExpStatSN: 4, DataSN: 1, BufferOffset: 0x2000},
		func() Message { return &DataOut{} }, `
		05 80 00 00 00 00 00 00  00 01 00 00 00 00 00 00
		00 00 00 20 00 00 00 30  00 00 00 00 00 00 00 04
		00 00 00 00 00 00 00 01  00 00 20 00 00 00 00 00`},
	{"Data-In with status", &DataIn{Final: true, HasStatus: true, Status: 0, Residual: Residual{Underflow: true, Count: 0x200},
		ITT: 0x10, TTT: ReservedTag, SN: SN{StatSN: 0x11, ExpCmdSN: 0x12, MaxCmdSN: 0x51}, DataSN: 2, BufferOffset: 0x400},
		func() Message { return &DataIn{} }, `
		25 83 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		00 00 00 10 ff ff ff ff  00 00 00 11 00 00 00 12
		00 00 00 51 00 00 00 02  00 00 04 00 00 00 02 00`},
	{"SCSI Response check condition overflow", &SCSIResponse{Status: 2, Residual: Residual{Overflow: true, Count: 8},
		ITT: 0x10, SN: SN{StatSN: 1, ExpCmdSN: 2, MaxCmdSN: 3}, ExpDataSN: 1},
		func() Message { return &SCSIResponse{} }, `
		21 84 00 02 00 00 00 00  00 00 00 00 00 00 00 00
		00 00 00 10 00 00 00 00  00 00 00 01 00 00 00 02
		00 00 00 03 00 00 00 01  00 00 00 00 00 00 00 08`},
	{"R2T", &R2T{LUN: 0x0001000000000000, ITT: 0x10, TTT: 0x99, SN: SN{StatSN: 5, ExpCmdSN: 6, MaxCmdSN: 7},
		R2TSN: 1, BufferOffset: 0x10000, DesiredDataTransferLength: 0x40000},
		func() Message { return &R2T{} }, `
		31 80 00 00 00 00 00 00  00 01 00 00 00 00 00 00
		00 00 00 10 00 00 00 99  00 00 00 05 00 00 00 06
		00 00 00 07 00 00 00 01  00 01 00 00 00 04 00 00`},
	{"Task Management ABORT TASK", &TaskMgmtRequest{Immediate: true, Function: TMFAbortTask, ITT: 0x40,
		ReferencedTaskTag: 0x10, CmdSN: 8, ExpStatSN: 3, RefCmdSN: 7},
		func() Message { return &TaskMgmtRequest{} }, `
		42 81 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		00 00 00 40 00 00 00 10  00 00 00 08 00 00 00 03
		00 00 00 07 00 00 00 00  00 00 00 00 00 00 00 00`},
	{"NOP-In ping", &NOPIn{ITT: ReservedTag, TTT: 0x7fffffff, SN: SN{StatSN: 9, ExpCmdSN: 10, MaxCmdSN: 73}},
		func() Message { return &NOPIn{} }, `
		20 80 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		ff ff ff ff 7f ff ff ff  00 00 00 09 00 00 00 0a
		00 00 00 49 00 00 00 00  00 00 00 00 00 00 00 00`},
	{"Logout Request close session", &LogoutRequest{Immediate: true, Reason: LogoutCloseSession, ITT: 5, CID: 1, CmdSN: 3, ExpStatSN: 4},
		func() Message { return &LogoutRequest{} }, `
		46 80 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		00 00 00 05 00 01 00 00  00 00 00 03 00 00 00 04
		00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00`},
	{"Logout Response", &LogoutResponse{ITT: 5, SN: SN{StatSN: 1, ExpCmdSN: 2, MaxCmdSN: 3}, Time2Wait: 2, Time2Retain: 20},
		func() Message { return &LogoutResponse{} }, `
		26 80 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		00 00 00 05 00 00 00 00  00 00 00 01 00 00 00 02
		00 00 00 03 00 00 00 00  00 02 00 14 00 00 00 00`},
	{"Reject", &Reject{Reason: RejectProtocolError, SN: SN{StatSN: 1, ExpCmdSN: 2, MaxCmdSN: 3}},
		func() Message { return &Reject{} }, `
		3f 80 04 00 00 00 00 00  00 00 00 00 00 00 00 00
		ff ff ff ff 00 00 00 00  00 00 00 01 00 00 00 02
		00 00 00 03 00 00 00 00  00 00 00 00 00 00 00 00`},
	{"Text Response", &TextResponse{Final: true, ITT: 3, TTT: ReservedTag, SN: SN{StatSN: 1, ExpCmdSN: 2, MaxCmdSN: 3}},
		func() Message { return &TextResponse{} }, `
		24 80 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		00 00 00 03 ff ff ff ff  00 00 00 01 00 00 00 02
		00 00 00 03 00 00 00 00  00 00 00 00 00 00 00 00`},
}

func TestGoldenHeaders(t *testing.T) {
	for _, tc := range goldens {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.bhs)
			var h Header
			tc.msg.Marshal(&h)
			if !bytes.Equal(h[:], want) {
				t.Fatalf("encoded\n%x\nwant\n%x", h[:], want)
			}
			got := tc.fresh()
			got.Unmarshal(&h)
			var h2 Header
			got.Marshal(&h2)
			if h2 != h {
				t.Fatalf("decode then encode changed the header:\n%x\n%x", h2[:], h[:])
			}
		})
	}
}

func TestWireFormatWithDigests(t *testing.T) {
	// 32 zero bytes have CRC32C 0x8a9136aa (RFC 3720 B.4), sent least
	// significant byte first.
	if got := CRC32C(make([]byte, 32)); got != 0x8a9136aa {
		t.Fatalf("CRC32C of 32 zeros = %08x", got)
	}
	p := Build(&NOPIn{ITT: 1, TTT: ReservedTag}, []byte("ping!"))
	tests := []struct {
		name string
		d    Digests
		size int
	}{
		{"none", Digests{}, 48 + 8},
		{"header", Digests{Header: true}, 48 + 4 + 8},
		{"both", Digests{Header: true, Data: true}, 48 + 4 + 8 + 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wire := Append(nil, p, tc.d)
			if len(wire) != tc.size {
				t.Fatalf("wire size %d, want %d", len(wire), tc.size)
			}
			if !bytes.Equal(wire[5:8], []byte{0, 0, 5}) {
				t.Fatalf("data segment length bytes %x", wire[5:8])
			}
			r := NewReader(bytes.NewReader(wire), 1024)
			r.Digests = tc.d
			got, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			if got.Header != p.Header || string(got.Data) != "ping!" {
				t.Fatalf("read back %x %q", got.Header[:], got.Data)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	good := Append(nil, Build(&NOPIn{ITT: 1}, []byte("abcd")), Digests{Header: true, Data: true})
	badHeader := bytes.Clone(good)
	badHeader[20] ^= 1
	badData := bytes.Clone(good)
	badData[48+4] ^= 1
	huge := Append(nil, Build(&NOPIn{}, make([]byte, 2048)), Digests{})
	tests := []struct {
		name    string
		wire    []byte
		wantErr error
		withPDU bool
	}{
		{"header digest", badHeader, ErrDigest, false},
		{"data digest", badData, ErrDigest, true},
		{"data over limit", huge, ErrMalformed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.wire), 1024)
			r.Digests = Digests{Header: true, Data: true}
			p, err := r.Read()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if (p != nil) != tc.withPDU {
				t.Fatalf("PDU returned: %v, want %v", p != nil, tc.withPDU)
			}
		})
	}
}

func TestExtendedCDB(t *testing.T) {
	cdb := make([]byte, 32)
	for i := range cdb {
		cdb[i] = byte(i + 1)
	}
	m := &SCSICommand{Final: true, Write: true, ITT: 7, ExpectedDataTransferLength: 512, CDB: cdb}
	p := EncodeSCSICommand(m, nil)
	// 16 extra CDB bytes + the reserved byte: length 17, 20 bytes with the header, no padding.
	want := unhex(t, "0011 01 00 1112131415161718191a1b1c1d1e1f20")
	if !bytes.Equal(p.AHS, want) {
		t.Fatalf("AHS %x, want %x", p.AHS, want)
	}
	wire := Append(nil, p, Digests{})
	if wire[4] != 5 {
		t.Fatalf("TotalAHSLength %d words, want 5", wire[4])
	}
	got, err := NewReader(bytes.NewReader(wire), 0).Read()
	if err != nil {
		t.Fatal(err)
	}
	dec, _, err := ParseSCSICommand(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.CDB, cdb) {
		t.Fatalf("CDB %x", dec.CDB)
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []KV
		wantErr bool
	}{
		{"two pairs", "A=1\x00B=x,y\x00", []KV{{"A", "1"}, {"B", "x,y"}}, false},
		{"no final NUL", "A=1", []KV{{"A", "1"}}, false},
		{"empty value", "A=\x00", []KV{{"A", ""}}, false},
		{"padding NULs", "A=1\x00\x00\x00", []KV{{"A", "1"}}, false},
		{"empty", "", nil, false},
		{"no equals", "A\x00", nil, true},
		{"empty key", "=1\x00", nil, true},
		{"empty pair inside", "A=1\x00\x00B=2\x00", nil, true},
		{"key too long", strings.Repeat("k", 64) + "=1", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseText([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			if len(tc.want) > 0 {
				back, _ := ParseText(AppendText(nil, got))
				if len(back) != len(got) {
					t.Fatalf("round trip %v", back)
				}
			}
		})
	}
}
