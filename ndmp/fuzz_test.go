package ndmp

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary records to Decode: it must never panic, and
// whatever decodes must encode again to a record that decodes to the same
// bytes (a canonical form: Decode ignores trailing bytes, so the first
// encoding may be shorter than the input).
func FuzzDecode(f *testing.F) {
	for code := range messages {
		for _, mt := range []Ndmp4_header_message_type{NDMP4_MESSAGE_REQUEST, NDMP4_MESSAGE_REPLY} {
			b, err := Encode(&Message{Header: Header{Sequence: 1, Message_type: mt, Message_code: code}, Body: NewBody(code, mt)})
			if err == nil {
				f.Add(b)
			}
		}
	}
	var listen Ndmp4_mover_listen_reply
	listen.Connect_addr.Addr_type = NDMP4_ADDR_TCP
	*listen.Connect_addr.Tcp_addr() = []Ndmp4_tcp_addr{{Ip_addr: 0x7f000001, Port: 10001, Addr_env: []Ndmp4_pval{{Name: "a", Value: "b"}}}}
	b, _ := Encode(&Message{Header: Header{Message_type: NDMP4_MESSAGE_REPLY, Message_code: NDMP4_MOVER_LISTEN}, Body: &listen})
	f.Add(b)
	f.Fuzz(func(t *testing.T, rec []byte) {
		m, err := Decode(rec)
		if err != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %v but cannot encode it: %v", m, err)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded %v does not decode: %v", m, err)
		}
		out2, _ := Encode(m2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not canonical: %x then %x", out, out2)
		}
	})
}
