package initiator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi"
	"github.com/ferry-san/ferry/iscsi/initiator"
	"github.com/ferry-san/ferry/iscsi/internal/memlun"
)

const targetIQN = "iqn.2026-11.io.ferry:test"

// startTarget serves an in-memory LUN 0 of 2048 blocks on a loopback port.
func startTarget(t *testing.T, mutate func(*iscsi.Config)) (string, *memlun.Server) {
	t.Helper()
	srv := memlun.New(2048)
	cfg := iscsi.DefaultConfig()
	cfg.TargetName, cfg.Server = targetIQN, srv
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	tgt, err := iscsi.NewTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tgt.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		tgt.Close()
	})
	return ln.Addr().String(), srv
}

func rw10(op byte, lba uint32, blocks uint16) []byte {
	c := make([]byte, 10)
	c[0] = op
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint16(c[7:], blocks)
	return c
}

// TestWriteRead writes and reads back sizes that take immediate data
// only, immediate data plus R2Ts, and several Data-In PDUs.
func TestWriteRead(t *testing.T) {
	tests := []struct {
		name   string
		blocks uint16
		mutate func(*iscsi.Config)
	}{
		{"one block", 1, nil},
		{"immediate data then R2Ts", 1024, nil},
		{"small segments and bursts", 512, func(c *iscsi.Config) {
			c.MaxRecvDataSegmentLength, c.FirstBurstLength, c.MaxBurstLength = 4096, 8192, 16384
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, srv := startTarget(t, tc.mutate)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := initiator.Dial(ctx, addr, "iqn.2026-11.io.ferry:initiator", targetIQN)
			if err != nil {
				t.Fatal(err)
			}
			data := make([]byte, int(tc.blocks)*memlun.BlockSize)
			rand.Read(data)
			res, err := s.Command(ctx, 0, rw10(0x2a, 7, tc.blocks), data, 0)
			if err != nil || res.Status != 0 {
				t.Fatalf("WRITE(10): %+v, %v", res, err)
			}
			if got := srv.Bytes()[7*memlun.BlockSize:][:len(data)]; !bytes.Equal(got, data) {
				t.Fatal("the LUN does not hold what was written")
			}
			res, err = s.Command(ctx, 0, rw10(0x28, 7, tc.blocks), nil, uint32(len(data)))
			if err != nil || res.Status != 0 {
				t.Fatalf("READ(10): status %d, %v", res.Status, err)
			}
			if !bytes.Equal(res.Data, data) {
				t.Fatal("READ(10) returned other bytes than were written")
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestCheckCondition returns the sense data of a failed command.
func TestCheckCondition(t *testing.T) {
	addr, _ := startTarget(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := initiator.Dial(ctx, addr, "iqn.2026-11.io.ferry:initiator", targetIQN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name    string
		lun     uint64
		cdb     []byte
		wantASC byte
	}{
		{"LBA out of range", 0, rw10(0x28, 4096, 1), 0x21},
		{"unsupported LUN", 3, rw10(0x28, 0, 1), 0x25},
		{"unknown opcode", 0, []byte{0xff, 0, 0, 0, 0, 0}, 0x20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Command(ctx, tc.lun, tc.cdb, nil, 512)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 2 || len(res.Sense) < 13 || res.Sense[12] != tc.wantASC {
				t.Fatalf("status %d sense % x, want CHECK CONDITION with ASC %#x", res.Status, res.Sense, tc.wantASC)
			}
		})
	}
}

// TestErrors covers a refused login, a LUN flat addressing cannot
// express, and a session used after Close.
func TestErrors(t *testing.T) {
	addr, _ := startTarget(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := initiator.Dial(ctx, addr, "iqn.2026-11.io.ferry:initiator", "iqn.2026-11.io.ferry:nope"); !errors.Is(err, initiator.ErrLogin) {
		t.Fatalf("login to an unknown target: %v, want ErrLogin", err)
	}
	s, err := initiator.Dial(ctx, addr, "iqn.2026-11.io.ferry:initiator", targetIQN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Command(ctx, 1<<14, rw10(0x28, 0, 1), nil, 512); !errors.Is(err, initiator.ErrLUN) {
		t.Fatalf("LUN 16384: %v, want ErrLUN", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Command(ctx, 0, rw10(0x28, 0, 1), nil, 512); !errors.Is(err, initiator.ErrClosed) {
		t.Fatalf("command after Close: %v, want ErrClosed", err)
	}
}

// testWriter sends the target's log to the test's output.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// TestISID keeps a given ISID and draws a random one of the random type
// otherwise.
func TestISID(t *testing.T) {
	addr, _ := startTarget(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name string
		isid [6]byte
	}{
		{"given", [6]byte{0x80, 1, 2, 3, 4, 5}},
		{"random", [6]byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := initiator.DialOptions(ctx, addr, "iqn.2026-11.io.ferry:initiator", targetIQN, initiator.Options{ISID: tc.isid})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := s.ISID()
			if tc.isid != [6]byte{} && got != tc.isid || got[0]>>6 != 2 {
				t.Fatalf("ISID % x, want % x or a random one", got, tc.isid)
			}
		})
	}
}
