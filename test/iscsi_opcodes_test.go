package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi/initiator"
	"github.com/ferry-san/ferry/scsi/sense"
)

// opcodeInitiator is the initiator name of the opcode sweep's sessions.
const opcodeInitiator = "iqn.2026-11.io.ferry:opcode-test"

// Where the sweep's commands go: the raw CDBs to a thin scratch LUN (and
// to a LUN the target does not have), the checked reads and writes to a
// data LUN, whose content the test knows byte for byte.
const (
	sweepDataLUN    = 1
	sweepScratchLUN = 2
	sweepNoLUN      = 200
	sweepBlock      = 512
	sweepDataBlocks = 2048 // 1 MiB of checked data
	sweepDiskBytes  = 8 << 20
)

// sweepVariant is how one raw CDB travels: with no data-out and an
// allocation (a read of that much, or no data at all), or with a data-out
// of some length (immediate data only, immediate data and R2Ts).
type sweepVariant struct {
	alloc uint32
	out   int // -1: no data-out
}

var sweepVariants = []sweepVariant{
	{alloc: 0, out: -1},
	{alloc: 4096, out: -1},
	{out: 1},
	{out: sweepBlock},
	{out: 12345},
	{out: 131072},
}

// TestISCSIEveryOpcode sends every operation code 00h-FFh to a real node,
// as a 16-byte CDB whose other bytes are all zero or all one, with and
// without data-out of several lengths, to a LUN and to a LUN the target
// does not have. After each one it writes and reads back blocks of another
// LUN with WRITE(16) and READ(16), while a second session does the same on
// its own blocks: every raw CDB gets a well-formed answer (GOOD, or CHECK
// CONDITION with sense data; never a dropped connection, a Reject or a
// hang), one the target does not advertise in REPORT SUPPORTED OPERATION
// CODES is ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE, and the data
// LUN holds exactly what was written to it.
func TestISCSIEveryOpcode(t *testing.T) {
	m := startMovers(t, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m.addEmptyDisk(ctx, "sweepdata", sweepDiskBytes)
	m.addEmptyDisk(ctx, "sweepscratch", sweepDiskBytes, thinDisk) // UNMAP and GET LBA STATUS too
	addr := mustNode(t, m.c, "n1").ISCSIAddr()

	dial := func() *initiator.Session {
		s, err := initiator.Dial(ctx, addr, opcodeInitiator, iscsiTarget)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := dial()
	waitLUNs(t, ctx, s, sweepDataLUN, sweepScratchLUN)
	advertised := supportedOpcodes(t, ctx, s)
	t.Logf("%d operation codes advertised", len(advertised))

	// The data LUN: the sweep's session checks the first half, the other
	// session the second.
	half := uint64(sweepDataBlocks / 2)
	sweep := newCheckedRegion(0, half)
	other := newCheckedRegion(half, half)
	s2 := dial()
	// TEST UNIT READY first, as an initiator does: it takes any unit
	// attention a new I_T nexus has pending.
	waitLUNs(t, ctx, s2, sweepDataLUN)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var otherErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(2, 2))
		for n := 0; ; n++ {
			select {
			case <-stop:
				otherErr = other.verifyAll(ctx, s2)
				if otherErr == nil && n == 0 {
					otherErr = errors.New("the second session never ran")
				}
				return
			default:
			}
			if otherErr = other.writeRead(ctx, s2, rng); otherErr != nil {
				return
			}
		}
	}()

	rng := rand.New(rand.NewPCG(1, 1))
	count := 0
	for op := range 256 {
		for _, body := range []byte{0x00, 0xFF} {
			for _, v := range sweepVariants {
				for _, lun := range []uint64{sweepScratchLUN, sweepNoLUN} {
					if lun == sweepNoLUN && v.out > sweepBlock {
						continue // the unknown LUN gets fewer variants
					}
					cdb := make([]byte, 16)
					cdb[0] = byte(op)
					for i := 1; i < len(cdb); i++ {
						cdb[i] = body
					}
					what := fmt.Sprintf("opcode %02Xh, CDB bytes 1-15 %02Xh, LUN %d, %s", op, body, lun, v)
					checkAnswer(t, ctx, s, lun, cdb, v, advertised[byte(op)], what)
					count++
					if err := sweep.writeRead(ctx, s, rng); err != nil {
						t.Fatalf("after %s: %v", what, err)
					}
				}
			}
		}
		if op%32 == 31 {
			if err := sweep.verifyAll(ctx, s); err != nil {
				t.Fatalf("after opcode %02Xh: %v", op, err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if otherErr != nil {
		t.Fatalf("the second session: %v", otherErr)
	}
	if err := sweep.verifyAll(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d raw CDBs answered; %d and %d checked writes", count, sweep.writes, other.writes)
}

func (v sweepVariant) String() string {
	if v.out < 0 {
		return fmt.Sprintf("no data-out, allocation %d", v.alloc)
	}
	return fmt.Sprintf("%d bytes of data-out", v.out)
}

// checkAnswer sends one raw CDB and checks its answer.
func checkAnswer(t *testing.T, ctx context.Context, s *initiator.Session, lun uint64, cdb []byte, v sweepVariant, advertised bool, what string) {
	t.Helper()
	var out []byte
	if v.out >= 0 {
		out = bytes.Repeat([]byte{0x5A}, v.out)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := s.Command(cctx, lun, cdb, out, v.alloc)
	if err != nil {
		t.Fatalf("%s: no answer: %v", what, err)
	}
	switch res.Status {
	case 0x00:
		if !advertised {
			t.Fatalf("%s: GOOD for an operation code the target does not advertise", what)
		}
		return
	case 0x02:
	default:
		t.Fatalf("%s: status %#02x, want GOOD or CHECK CONDITION", what, res.Status)
	}
	sn, err := sense.Parse(res.Sense)
	if err != nil {
		t.Fatalf("%s: CHECK CONDITION with malformed sense % x: %v", what, res.Sense, err)
	}
	if sn.Key == sense.NoSense {
		t.Fatalf("%s: CHECK CONDITION with sense key NO SENSE: %v", what, &sn)
	}
	invalidOp := sn.Key == sense.IllegalRequest && sn.Code() == sense.InvalidCommandOperationCode
	switch {
	case !advertised && !invalidOp:
		t.Fatalf("%s: %v for an operation code the target does not advertise, want INVALID COMMAND OPERATION CODE", what, &sn)
	case advertised && invalidOp:
		t.Fatalf("%s: INVALID COMMAND OPERATION CODE for an advertised operation code", what)
	}
}

// supportedOpcodes reads REPORT SUPPORTED OPERATION CODES (all commands).
func supportedOpcodes(t *testing.T, ctx context.Context, s *initiator.Session) map[byte]bool {
	t.Helper()
	cdb := []byte{0xA3, 0x0C, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	res, err := s.Command(ctx, sweepScratchLUN, cdb, nil, 65536)
	if err != nil || res.Status != 0 || len(res.Data) < 4 {
		t.Fatalf("REPORT SUPPORTED OPERATION CODES: %v, status %#02x, sense % x", err, res.Status, res.Sense)
	}
	ops := map[byte]bool{}
	d := res.Data[4:min(len(res.Data), 4+int(binary.BigEndian.Uint32(res.Data[0:4])))]
	for len(d) >= 8 {
		ops[d[0]] = true
		n := 8
		if d[5]&0x02 != 0 { // CTDP
			n += 12
		}
		d = d[min(n, len(d)):]
	}
	return ops
}

// checkedRegion is a range of the data LUN that one session writes and
// reads back, with what it must hold.
type checkedRegion struct {
	first, blocks uint64
	want          []byte
	writes        int
}

func newCheckedRegion(first, blocks uint64) *checkedRegion {
	return &checkedRegion{first: first, blocks: blocks, want: make([]byte, blocks*sweepBlock)}
}

// writeRead writes 1-16 random blocks somewhere in the region with
// WRITE(16) and reads them back with READ(16).
func (r *checkedRegion) writeRead(ctx context.Context, s *initiator.Session, rng *rand.Rand) error {
	n := 1 + rng.Uint64N(16)
	at := rng.Uint64N(r.blocks - n + 1)
	data := make([]byte, n*sweepBlock)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := command(ctx, s, rw16CDB(0x8A, r.first+at, uint32(n)), data, 0, nil); err != nil {
		return fmt.Errorf("WRITE(16) of %d blocks at %d: %w", n, r.first+at, err)
	}
	copy(r.want[at*sweepBlock:], data)
	r.writes++
	got := make([]byte, 0, len(data))
	if err := command(ctx, s, rw16CDB(0x88, r.first+at, uint32(n)), nil, uint32(len(data)), &got); err != nil {
		return fmt.Errorf("READ(16) of %d blocks at %d: %w", n, r.first+at, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("READ(16) of %d blocks at %d differs from what WRITE(16) wrote", n, r.first+at)
	}
	return nil
}

// verifyAll reads the whole region and compares it with what was written.
func (r *checkedRegion) verifyAll(ctx context.Context, s *initiator.Session) error {
	var got []byte
	if err := command(ctx, s, rw16CDB(0x88, r.first, uint32(r.blocks)), nil, uint32(len(r.want)), &got); err != nil {
		return fmt.Errorf("READ(16) of blocks %d-%d: %w", r.first, r.first+r.blocks-1, err)
	}
	if len(got) != len(r.want) {
		return fmt.Errorf("READ(16) of blocks %d-%d: %d bytes", r.first, r.first+r.blocks-1, len(got))
	}
	for b := uint64(0); b < r.blocks; b++ {
		if at := b * sweepBlock; !bytes.Equal(got[at:at+sweepBlock], r.want[at:at+sweepBlock]) {
			return fmt.Errorf("block %d of the data LUN is not what was written there", r.first+b)
		}
	}
	return nil
}

// command runs a command that must succeed, keeping its data-in in *in.
func command(ctx context.Context, s *initiator.Session, cdb, out []byte, alloc uint32, in *[]byte) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := s.Command(cctx, sweepDataLUN, cdb, out, alloc)
	if err != nil {
		return err
	}
	if res.Status != 0 {
		return fmt.Errorf("status %#02x, sense % x", res.Status, res.Sense)
	}
	if in != nil {
		*in = res.Data
	}
	return nil
}

func rw16CDB(op byte, lba uint64, blocks uint32) []byte {
	c := make([]byte, 16)
	c[0] = op
	binary.BigEndian.PutUint64(c[2:10], lba)
	binary.BigEndian.PutUint32(c[10:14], blocks)
	return c
}
