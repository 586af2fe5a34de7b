package iscsi

import (
	"bytes"
	"context"
	"testing"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/task"
)

// quickFake answers every command GOOD and calls READ(16) and WRITE(16)
// quick.
type quickFake struct{}

func (quickFake) Execute(context.Context, *task.Task) task.Result { return task.Result{} }
func (quickFake) Quick(cdb []byte) bool                           { return cdb[0] == 0x88 || cdb[0] == 0x8a }

// slowFake knows no quick command.
type slowFake struct{}

func (slowFake) Execute(context.Context, *task.Task) task.Result { return task.Result{} }

// TestInline: a command runs on the reader goroutine only when it is the
// connection's only one, nothing more has arrived, its transfer is small
// and the server calls it quick.
func TestInline(t *testing.T) {
	read16, write16, xcopy := []byte{0x88}, []byte{0x8a}, []byte{0x83}
	for _, tc := range []struct {
		name      string
		server    task.Server
		executing int32
		pending   []byte
		cdb       []byte
		edtl      uint32 // a write's
		readLen   uint32 // a read's
		want      bool
	}{
		{"4 KiB write alone", quickFake{}, 1, nil, write16, 4096, 0, true},
		{"64 KiB read alone", quickFake{}, 1, nil, read16, 0, quickBytes, true},
		{"another command running", quickFake{}, 2, nil, write16, 4096, 0, false},
		{"a PDU already waiting", quickFake{}, 1, make([]byte, 48), write16, 4096, 0, false},
		{"a large read", quickFake{}, 1, nil, read16, 0, quickBytes + 512, false},
		{"a large write", quickFake{}, 1, nil, write16, 1 << 20, 0, false},
		{"a copy", quickFake{}, 1, nil, xcopy, 64, 0, false},
		{"a server without Quick", slowFake{}, 1, nil, write16, 4096, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One PDU read (a zeroed header), then what arrived after it.
			c := &conn{t: &Target{cfg: Config{Server: tc.server}},
				r: pdu.NewReader(bytes.NewReader(append(make([]byte, 48), tc.pending...)), 8192)}
			if _, err := c.r.Read(); err != nil {
				t.Fatal(err)
			}
			c.executing.Store(tc.executing)
			if got := c.inline(&command{cdb: tc.cdb, edtl: tc.edtl, readLen: tc.readLen}); got != tc.want {
				t.Fatalf("inline = %v, want %v", got, tc.want)
			}
		})
	}
}
