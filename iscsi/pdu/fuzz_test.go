package pdu

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the PDU reader and the typed
// decoders: they must fail cleanly, never panic, and what they accept
// must survive a re-encoding.
func FuzzDecode(f *testing.F) {
	for _, g := range goldens {
		var h Header
		g.msg.Marshal(&h)
		f.Add(Append(nil, &PDU{Header: h, Data: []byte("A=1\x00")}, Digests{}), false)
	}
	f.Add(Append(nil, EncodeSCSICommand(&SCSICommand{CDB: make([]byte, 32)}, nil), Digests{Header: true}), true)
	f.Fuzz(func(t *testing.T, wire []byte, digests bool) {
		r := NewReader(bytes.NewReader(wire), 8192)
		r.Digests = Digests{Header: digests, Data: digests}
		p, err := r.Read()
		if err != nil {
			return
		}
		if p.Header.Opcode() == OpSCSICommand {
			if _, _, err := ParseSCSICommand(p); err != nil {
				return
			}
		}
		_, _ = ParseText(p.Data)
		again := Append(nil, p, r.Digests)
		p2, err := readerOf(again, r.Digests).Read()
		if err != nil || p2.Header != p.Header || !bytes.Equal(p2.Data, p.Data) || !bytes.Equal(p2.AHS, p.AHS) {
			t.Fatalf("re-encoding lost the PDU: %v", err)
		}
	})
}

// readerOf reads b with digests d.
func readerOf(b []byte, d Digests) *Reader {
	r := NewReader(bytes.NewReader(b), 1<<24)
	r.Digests = d
	return r
}

// FuzzParseText checks that the text codec never panics and that what it
// parses encodes back to the same pairs.
func FuzzParseText(f *testing.F) {
	f.Add([]byte("InitiatorName=iqn.x\x00SessionType=Normal\x00"))
	f.Add([]byte("A=\x00=\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := ParseText(b)
		if err != nil {
			return
		}
		back, err := ParseText(AppendText(nil, kvs))
		if err != nil || len(back) != len(kvs) {
			t.Fatalf("round trip of %q: %v %v", b, back, err)
		}
		for i := range kvs {
			if kvs[i] != back[i] {
				t.Fatalf("pair %d: %v became %v", i, kvs[i], back[i])
			}
		}
	})
}
