package ndmp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"reflect"
	"testing"
)

// TestEncodeGolden pins the bytes of a few messages, worked out by hand from
// the specification's XDR definitions.
func TestEncodeGolden(t *testing.T) {
	var addr Ndmp4_mover_listen_reply
	addr.Connect_addr.Addr_type = NDMP4_ADDR_TCP
	*addr.Connect_addr.Tcp_addr() = []Ndmp4_tcp_addr{{Ip_addr: 0x7f000001, Port: 10001}}
	for _, tc := range []struct {
		name string
		m    Message
		want string
	}{
		{"connect open request", Message{
			Header: Header{Sequence: 1, Time_stamp: 2, Message_type: NDMP4_MESSAGE_REQUEST, Message_code: NDMP4_CONNECT_OPEN},
			Body:   &Ndmp4_connect_open_request{Protocol_version: 4},
		}, "00000001" + "00000002" + "00000000" + "00000900" + "00000000" + "00000000" + "00000004"},
		{"tape open request", Message{
			Header: Header{Sequence: 7, Message_code: NDMP4_TAPE_OPEN},
			Body:   &Ndmp4_tape_open_request{Device: "lib/0", Mode: NDMP4_TAPE_RDWR_MODE},
		}, "00000007" + "00000000" + "00000000" + "00000300" + "00000000" + "00000000" +
			"00000005" + "6c69622f30000000" + "00000001"},
		{"mover listen reply with a TCP address", Message{
			Header: Header{Sequence: 9, Message_type: NDMP4_MESSAGE_REPLY, Message_code: NDMP4_MOVER_LISTEN, Reply_sequence: 8},
			Body:   &addr,
		}, "00000009" + "00000000" + "00000001" + "00000a01" + "00000008" + "00000000" +
			"00000000" + "00000001" + "00000001" + "7f000001" + "00002711" + "00000000"},
		{"reply with a header error has no body", Message{
			Header: Header{Sequence: 3, Message_type: NDMP4_MESSAGE_REPLY, Message_code: NDMP4_TAPE_OPEN, Reply_sequence: 2, Error_code: NDMP4_NOT_AUTHORIZED_ERR},
			Body:   &Ndmp4_tape_open_reply{Error: NDMP4_NOT_AUTHORIZED_ERR},
		}, "00000003" + "00000000" + "00000001" + "00000300" + "00000002" + "00000004"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(&tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tc.want {
				t.Fatalf("encoded\n %x\nwant\n %s", got, tc.want)
			}
			back, err := Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if back.Header != tc.m.Header {
				t.Fatalf("header %+v, want %+v", back.Header, tc.m.Header)
			}
			if tc.m.Header.Error_code == NDMP4_NO_ERR && !reflect.DeepEqual(back.Body, tc.m.Body) {
				t.Fatalf("body %+v, want %+v", back.Body, tc.m.Body)
			}
		})
	}
}

// TestEveryMessageRoundTrips encodes the zero request and reply of every
// message in the table and decodes them again.
func TestEveryMessageRoundTrips(t *testing.T) {
	for code := range messages {
		for _, mt := range []Ndmp4_header_message_type{NDMP4_MESSAGE_REQUEST, NDMP4_MESSAGE_REPLY} {
			m := &Message{Header: Header{Sequence: 5, Message_type: mt, Message_code: code}, Body: NewBody(code, mt)}
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("%v %v: %v", code, mt, err)
			}
			back, err := Decode(b)
			if err != nil {
				t.Fatalf("%v %v: %v", code, mt, err)
			}
			again, _ := Encode(back)
			if !bytes.Equal(b, again) {
				t.Fatalf("%v %v: %x re-encoded as %x", code, mt, b, again)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	hdr := func(code uint32, mt uint32) []byte {
		b, _ := hex.DecodeString("00000001" + "00000000")
		w := func(v uint32) { b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
		w(mt)
		w(code)
		w(0)
		w(0)
		return b
	}
	for _, tc := range []struct {
		name       string
		rec        []byte
		want       error
		withHeader bool
	}{
		{"empty", nil, ErrShort, false},
		{"short header", make([]byte, 23), ErrShort, false},
		{"unknown code", hdr(0x7777, 0), ErrUnknownMessage, true},
		{"bad message type", hdr(0x900, 9), ErrBadMessageType, true},
		{"body cut short", append(hdr(0x300, 0), 0, 0, 0, 9, 'a'), ErrBadBody, true},
		{"huge string length", append(hdr(0x300, 0), 0xff, 0xff, 0xff, 0xff), ErrBadBody, true},
		{"bad union arm", append(hdr(0x409, 1), 0, 0, 0, 0, 0, 0, 0, 7), ErrBadBody, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.rec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode: %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) || (de.Header != nil) != tc.withHeader {
				t.Fatalf("DecodeError %+v: header present %v, want %v", de, de != nil && de.Header != nil, tc.withHeader)
			}
		})
	}
}

func TestRecordMarking(t *testing.T) {
	// Two fragments make one record.
	stream, _ := hex.DecodeString("00000002" + "abcd" + "80000001" + "ef")
	rec, err := ReadRecord(bytes.NewReader(stream), nil)
	if err != nil || hex.EncodeToString(rec) != "abcdef" {
		t.Fatalf("ReadRecord = %x, %v", rec, err)
	}
	huge, _ := hex.DecodeString("ffffffff")
	if _, err := ReadRecord(bytes.NewReader(huge), nil); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("a 2 GiB record: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteRecord(&buf, []byte{1, 2, 3}); err != nil || hex.EncodeToString(buf.Bytes()) != "80000003010203" {
		t.Fatalf("WriteRecord = %x, %v", buf.Bytes(), err)
	}
}

func TestBodyError(t *testing.T) {
	if got := BodyError(&Ndmp4_tape_get_state_reply{Unsupported: 3, Error: NDMP4_IO_ERR}); got != NDMP4_IO_ERR {
		t.Fatalf("BodyError of a reply with its error second = %v", got)
	}
	if got := BodyError(&Ndmp4_tape_open_reply{Error: NDMP4_DEVICE_BUSY_ERR}); got != NDMP4_DEVICE_BUSY_ERR {
		t.Fatalf("BodyError = %v", got)
	}
}

func TestConnSendAndReply(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	defer ca.Close()
	defer cb.Close()
	go func() {
		_, _ = ca.Send(NDMP4_TAPE_OPEN, &Ndmp4_tape_open_request{Device: "x/0"})
	}()
	m, err := cb.Read()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cb.Reply(&m.Header, NDMP4_NO_ERR, &Ndmp4_tape_open_reply{Error: NDMP4_NO_TAPE_LOADED_ERR}) }()
	r, err := ca.Read()
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Reply_sequence != m.Header.Sequence || !r.IsReply() {
		t.Fatalf("reply header %+v to %+v", r.Header, m.Header)
	}
	var ne *Error
	if err := ReplyError(r); !errors.As(err, &ne) || ne.Code != NDMP4_NO_TAPE_LOADED_ERR {
		t.Fatalf("ReplyError = %v", err)
	}
}

func TestMD5Digest(t *testing.T) {
	// The layout ndmjob (and NetApp) use: password, zeros, challenge,
	// password, 128 bytes in all. Worked out independently with
	// python3 -c 'import hashlib; ch=bytes(range(64)); pw=b"secret";
	// print(hashlib.md5(pw+bytes(64-2*len(pw))+ch+pw).hexdigest())'.
	var ch [64]byte
	for i := range ch {
		ch[i] = byte(i)
	}
	d := MD5Digest("secret", ch)
	if got, want := hex.EncodeToString(d[:]), "70a332cc22e42742ea3fe70e383273c9"; got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	// Only the first 32 bytes of a longer password count.
	long := "0123456789abcdef0123456789abcdef"
	if MD5Digest(long, ch) != MD5Digest(long+"ignored", ch) {
		t.Fatal("bytes past 32 changed the digest")
	}
}
