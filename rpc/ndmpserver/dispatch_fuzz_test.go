package ndmpserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/storage/library"
)

// fuzzCodes are the messages the dispatcher fuzz picks from, in a fixed
// order so that inputs mean the same thing from run to run: every request
// a DMA may send, and an unknown code.
func fuzzCodes() []ndmp.Ndmp4_message {
	var out []ndmp.Ndmp4_message
	for code := ndmp.Ndmp4_message(0); code < 0xB00; code++ {
		if ndmp.Known(code) && !ndmp.IsPost(code) {
			out = append(out, code)
		}
	}
	return append(out, 0x7777)
}

// fuzzInput encodes a sequence of (message, body) as FuzzDispatch reads it:
// for each, the message's index in fuzzCodes (2 bytes), the body's length
// (2 bytes) and the body.
func fuzzInput(msgs ...fuzzMsg) []byte {
	codes := fuzzCodes()
	var b []byte
	for _, m := range msgs {
		body := []byte{}
		if m.body != nil {
			rec, _ := ndmp.Encode(&ndmp.Message{Header: ndmp.Header{Message_code: m.code}, Body: m.body})
			body = rec[24:]
		}
		b = binary.BigEndian.AppendUint16(b, uint16(slices.Index(codes, m.code)))
		b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
		b = append(b, body...)
	}
	return b
}

type fuzzMsg struct {
	code ndmp.Ndmp4_message
	body ndmp.Body
}

// FuzzDispatch sends random message sequences to an authenticated session
// over a fake cluster: whatever the state, the server must not panic, and
// every request gets a well-formed reply in order, or the connection ends
// cleanly (CONNECT_CLOSE).
func FuzzDispatch(f *testing.F) {
	codes := fuzzCodes()
	for _, code := range codes {
		f.Add(fuzzInput(fuzzMsg{code, ndmp.NewBody(code, ndmp.NDMP4_MESSAGE_REQUEST)}))
	}
	var listen ndmp.Ndmp4_mover_listen_request
	listen.Mode, listen.Addr_type = ndmp.NDMP4_MOVER_MODE_READ, ndmp.NDMP4_ADDR_LOCAL
	f.Add(fuzzInput(
		fuzzMsg{ndmp.NDMP4_TAPE_OPEN, &ndmp.Ndmp4_tape_open_request{Device: "lib/0", Mode: ndmp.NDMP4_TAPE_RDWR_MODE}},
		fuzzMsg{ndmp.NDMP4_TAPE_WRITE, &ndmp.Ndmp4_tape_write_request{Data_out: []byte("record")}},
		fuzzMsg{ndmp.NDMP4_TAPE_MTIO, &ndmp.Ndmp4_tape_mtio_request{Tape_op: ndmp.NDMP4_MTIO_REW, Count: 1}},
		fuzzMsg{ndmp.NDMP4_MOVER_LISTEN, &listen},
		fuzzMsg{ndmp.NDMP4_MOVER_GET_STATE, nil},
		fuzzMsg{ndmp.NDMP4_TAPE_CLOSE, nil},
	))
	f.Add(fuzzInput(
		fuzzMsg{ndmp.NDMP4_SCSI_OPEN, &ndmp.Ndmp4_scsi_open_request{Device: "lib"}},
		fuzzMsg{ndmp.NDMP4_SCSI_EXECUTE_CDB, &ndmp.Ndmp4_execute_cdb_request{Flags: ndmp.NDMP4_SCSI_DATA_IN, Datain_len: 1024, Cdb: []byte{0xB8, 0x10, 0, 0, 0, 10, 0, 0, 4, 0, 0, 0}}},
		fuzzMsg{ndmp.NDMP4_SCSI_EXECUTE_CDB, &ndmp.Ndmp4_execute_cdb_request{Cdb: []byte{0xA5, 0, 0, 0, 0, 1, 0, 0x10, 0, 0, 0, 0}}},
	))
	f.Fuzz(func(t *testing.T, in []byte) {
		fc := newFakeCluster(t, "A00001L9", "A00002L9")
		if err := fc.Move(context.Background(), "lib", library.AtSlot(1), library.AtDrive(0), "fuzz"); err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{Cluster: fc, User: testUser, Password: testPassword, DataRoots: []string{t.TempDir()},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		a, b, err := socketPair()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		sess := srv.newSession(ctx, ndmp.NewConn(a))
		served := make(chan struct{})
		go func() { sess.serve(); close(served) }()
		defer func() {
			cancel()
			b.Close()
			select {
			case <-served:
			case <-time.After(30 * time.Second):
				t.Fatal("session did not end after its connection closed")
			}
		}()
		client := ndmp.NewConn(b)
		_ = b.SetDeadline(time.Now().Add(30 * time.Second))
		next := func() *ndmp.Message {
			for {
				m, err := client.Read()
				if err != nil {
					t.Fatalf("reading the server: %v", err)
				}
				if m.IsReply() {
					return m
				}
			}
		}
		var auth ndmp.Ndmp4_connect_client_auth_request
		auth.Auth_data.Auth_type = ndmp.NDMP4_AUTH_TEXT
		*auth.Auth_data.Auth_text() = ndmp.Ndmp4_auth_text{Auth_id: testUser, Auth_password: testPassword}
		if _, err := client.Send(ndmp.NDMP4_CONNECT_CLIENT_AUTH, &auth); err != nil {
			t.Fatal(err)
		}
		if r := next(); ndmp.ReplyError(r) != nil {
			t.Fatalf("authentication: %v", ndmp.ReplyError(r))
		}
		seq := uint32(100)
		for len(in) >= 4 {
			i := int(binary.BigEndian.Uint16(in)) % len(codes)
			n := min(int(binary.BigEndian.Uint16(in[2:])), len(in)-4)
			body := in[4 : 4+n]
			in = in[4+n:]
			code := codes[i]
			seq++
			rec := binary.BigEndian.AppendUint32(nil, seq)
			rec = binary.BigEndian.AppendUint32(rec, 0)
			rec = binary.BigEndian.AppendUint32(rec, uint32(ndmp.NDMP4_MESSAGE_REQUEST))
			rec = binary.BigEndian.AppendUint32(rec, uint32(code))
			rec = binary.BigEndian.AppendUint32(rec, 0)
			rec = binary.BigEndian.AppendUint32(rec, 0)
			if err := ndmp.WriteRecord(b, append(rec, body...)); err != nil {
				t.Fatalf("writing %v: %v", code, err)
			}
			if code == ndmp.NDMP4_CONNECT_CLOSE {
				// The server closes: the next read ends cleanly.
				for {
					if _, err := client.Read(); err != nil {
						if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
							t.Fatalf("after CONNECT_CLOSE: %v", err)
						}
						return
					}
				}
			}
			r := next()
			if r.Header.Reply_sequence != seq || (ndmp.Known(code) && r.Header.Message_code != code) {
				t.Fatalf("request #%d %v answered by %v", seq, code, r)
			}
		}
	})
}
