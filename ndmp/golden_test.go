package ndmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// goldenDir holds NDMP sessions of Amanda's ndmjob recorded byte for byte
// by test/ndmp_golden_record_test.go (go test ./test -run
// TestNDMPRecordGolden -args -update): with ndmjob's own daemon and with a
// Ferry node. NAME-N.client is what ndmjob sent on its Nth connection,
// NAME-N.server what the server sent back.
const goldenDir = "testdata/golden"

// TestGolden decodes every record of the recorded sessions and encodes it
// again: the bytes must be the same, record for record, and the client's
// records must be requests, the server's replies and posts (so a codec
// that decodes a message as the wrong type cannot pass by symmetry).
// Every message a session carried is logged with -v.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.client"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden sessions in %s: record them with go test ./test -run TestNDMPRecordGolden -args -update", goldenDir)
	}
	seen := map[Ndmp4_message]int{}
	for _, client := range files {
		base := strings.TrimSuffix(client, ".client")
		for _, side := range []string{"client", "server"} {
			path := base + "." + side
			t.Run(filepath.Base(path), func(t *testing.T) {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				msgs := checkStream(t, data, side == "server")
				var b strings.Builder
				for _, m := range msgs {
					seen[m.Header.Message_code]++
					fmt.Fprintf(&b, "  %v\n", m)
				}
				t.Logf("%d messages:\n%s", len(msgs), b.String())
			})
		}
	}
	var codes []string
	for c, n := range seen {
		codes = append(codes, fmt.Sprintf("%v×%d", c, n))
	}
	sort.Strings(codes)
	t.Logf("%d message codes in the golden sessions: %s", len(seen), strings.Join(codes, " "))
}

// checkStream splits a recorded byte stream into records, decodes each,
// re-encodes it and compares. A stream may end inside a record only where
// the recording did (a connection cut); that tail is reported, not
// decoded.
func checkStream(t *testing.T, data []byte, fromServer bool) []*Message {
	t.Helper()
	var msgs []*Message
	r := bytes.NewReader(data)
	for i := 1; ; i++ {
		off := len(data) - r.Len()
		fragments := countFragments(data[off:])
		rec, err := ReadRecord(r, nil)
		if errors.Is(err, io.EOF) {
			return msgs
		}
		if err != nil {
			t.Errorf("record %d at byte %d: %v (the recording ends inside it)", i, off, err)
			return msgs
		}
		m, err := Decode(rec)
		if err != nil {
			t.Errorf("record %d at byte %d (%d bytes): %v\n% x", i, off, len(rec), err, rec[:min(len(rec), 64)])
			continue
		}
		msgs = append(msgs, m)
		switch {
		case fromServer && !m.IsReply() && !IsPost(m.Header.Message_code) && m.Header.Message_code != NDMP4_CONNECT_CLOSE:
			t.Errorf("record %d: the server sent request %v", i, m)
		case !fromServer && m.IsReply():
			t.Errorf("record %d: the client sent reply %v", i, m)
		}
		enc, err := Encode(m)
		if err != nil {
			t.Errorf("record %d (%v): encode: %v", i, m, err)
			continue
		}
		if !bytes.Equal(enc, rec) {
			at := 0
			for at < len(enc) && at < len(rec) && enc[at] == rec[at] {
				at++
			}
			t.Errorf("record %d (%v): re-encoded to %d bytes, recorded %d; first difference at byte %d\n got % x\nwant % x",
				i, m, len(enc), len(rec), at, enc[at:min(len(enc), at+32)], rec[at:min(len(rec), at+32)])
			continue
		}
		// A record sent in one fragment is framed as WriteRecord frames it.
		if fragments == 1 {
			var framed bytes.Buffer
			if err := WriteRecord(&framed, enc); err != nil {
				t.Fatal(err)
			}
			if end := len(data) - r.Len(); !bytes.Equal(framed.Bytes(), data[off:end]) {
				t.Errorf("record %d (%v): framing differs from the recording", i, m)
			}
		}
	}
}

// countFragments counts the fragments of the record starting at data.
func countFragments(data []byte) int {
	n := 0
	for len(data) >= 4 {
		mark := binary.BigEndian.Uint32(data)
		n++
		size := int(mark &^ (1 << 31))
		if mark&(1<<31) != 0 || size+4 > len(data) {
			return n
		}
		data = data[4+size:]
	}
	return n
}

// TestGoldenMD5 checks MD5Digest against ndmjob's own: in the recorded
// query of ndmjob's daemon (password "ndmp") the digest ndmjob sent must be
// MD5Digest of the challenge the daemon gave.
func TestGoldenMD5(t *testing.T) {
	read := func(side string) []*Message {
		data, err := os.ReadFile(filepath.Join(goldenDir, "ndmjobd-query-1."+side))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []*Message
		r := bytes.NewReader(data)
		for {
			rec, err := ReadRecord(r, nil)
			if err != nil {
				return msgs
			}
			if m, err := Decode(rec); err == nil {
				msgs = append(msgs, m)
			}
		}
	}
	var challenge *[64]byte
	for _, m := range read("server") {
		if b, ok := m.Body.(*Ndmp4_config_get_auth_attr_reply); ok && b.Server_attr.Auth_type == NDMP4_AUTH_MD5 {
			challenge = b.Server_attr.Challenge()
		}
	}
	var digest *[16]byte
	for _, m := range read("client") {
		if b, ok := m.Body.(*Ndmp4_connect_client_auth_request); ok && b.Auth_data.Auth_type == NDMP4_AUTH_MD5 {
			digest = &b.Auth_data.Auth_md5().Auth_digest
		}
	}
	if challenge == nil || digest == nil {
		t.Fatal("the recorded query has no MD5 challenge and digest")
	}
	if got := MD5Digest("ndmp", *challenge); got != *digest {
		t.Errorf("MD5Digest(\"ndmp\", challenge) = %x, ndmjob sent %x", got, *digest)
	}
}
