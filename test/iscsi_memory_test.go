package test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/iscsi"
	"github.com/ferry-san/ferry/iscsi/initiator"
	"github.com/ferry-san/ferry/iscsi/pdu"
)

const (
	// hostileSessions each send hostileReads READ(16) of hostileReadBytes
	// and never read their sockets: the attack of issue 10, which grew the
	// agent from 73 MB to 2.18 GB.
	hostileSessions  = 2
	hostileReads     = 64
	hostileReadBytes = 16 << 20
	// loginAttempts is how many sessions the flood tries to open.
	loginAttempts = 1000
	// memoryLUNBytes is the size of the test's LUN.
	memoryLUNBytes = 64 << 20
)

// rssBound is how far the agent's resident set may grow over what it was
// before the attacks. The target holds the data of the hostile READs a
// piece at a time, and every write's data-out, charged to a budget of 256
// MiB (iscsi.DefaultConfig().DataBudget); the agent runs with GOGC=400,
// which would let the heap grow to five times those buffers, and a soft
// memory limit of the budget plus 256 MiB (cmd/ferry/agent.go) that keeps
// the whole heap within it. The bound is that limit and 64 MiB for what
// it does not hold at once: it is soft (freed pages go back to the system
// after the fact), and memory outside Go's heap (bbolt's mapped pages, the
// binary's pages touched for the first time) grows too. Under the race
// detector, which the agents run under too, Go's memory has shadow memory
// besides that the limit does not count ("memory usage may increase by
// 5-10x", says the Go race detector's manual): the bound is four times
// as large, and only a run without -race (FERRY_BINARY set to a plain
// build) holds the agent to the limit itself. Before the data-in was streamed
// the unread READs filled the budget, and before the limit eight sessions
// writing 16 MiB at a time grew the agent by 660 MiB.
func rssBound() int64 {
	b := int64(iscsi.DefaultConfig().DataBudget) + 256<<20 + 64<<20
	if raceBuild {
		b *= 4
	}
	return b
}

// TestISCSIMemoryBoundedUnderHostileInitiators runs the attacks of issue
// 10 against a real node: two sessions send 64 READ(16) of 16 MiB each and
// never read their sockets, while a third session writes and reads and
// must get GOOD every time, and the agent's resident set must stay within
// rssBound of what it was; then a flood of 1,000 logins must find the
// session cap (TARGET ERROR, OUT OF RESOURCES past it) while the third
// session keeps working.
func TestISCSIMemoryBoundedUnderHostileInitiators(t *testing.T) {
	m := startMovers(t, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m.addEmptyDisk(ctx, "lun1", memoryLUNBytes)
	lun := uint64(m.disk(ctx, "lun1").GetLun())
	node, err := m.c.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	addr, pid := node.ISCSIAddr(), node.PID()

	good, err := initiator.Dial(ctx, addr, "iqn.2026-11.io.ferry:well-behaved", iscsiTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	waitLUNs(t, ctx, good, uint32(lun))
	if err := goodIO(ctx, good, lun, 0); err != nil {
		t.Fatal(err)
	}

	base, err := vmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	rss := sampleRSS(t, pid)
	t.Logf("agent pid %d: %d MiB resident before the attack; bound %d MiB more", pid, base>>20, rssBound()>>20)

	var hostile []*rawSession
	for i := range hostileSessions {
		s, resp, err := rawLogin(ctx, addr, fmt.Sprintf("iqn.2026-11.io.ferry:hostile-%d", i))
		if err != nil || resp.StatusClass != 0 {
			t.Fatalf("hostile login %d: %v (status %d/%d)", i, err, resp.StatusClass, resp.StatusDetail)
		}
		defer s.nc.Close()
		for range hostileReads {
			if err := s.read16(lun, 0, hostileReadBytes); err != nil {
				t.Fatal(err)
			}
		}
		hostile = append(hostile, s)
	}
	// The attack is in place once the target has answered on each hostile
	// socket (what it sent is checked below).
	waitFor(t, ctx, "the target answering on every hostile socket", func() (bool, string) {
		for _, s := range hostile {
			q, established, err := s.unread()
			if err != nil || !established || q == 0 {
				return false, fmt.Sprintf("%v: %d bytes queued, established %v: %v", s.nc.LocalAddr(), q, established, err)
			}
		}
		return true, ""
	})
	for i := range 8 {
		if err := goodIO(ctx, good, lun, i+1); err != nil {
			t.Fatalf("beside the unread READs: %v (agent resident set +%d MiB so far)", err, (rss.peak()-base)>>20)
		}
	}
	for _, s := range hostile {
		// Still stalled with Data-In, not dropped, and not refused: more
		// than the 48-byte responses of 65 refused commands wait there.
		if q, established, err := s.unread(); err != nil || !established || q < 64<<10 {
			t.Fatalf("hostile session %v not stalled on its READs (%d bytes queued, established %v, %v): the check proved nothing",
				s.nc.LocalAddr(), q, established, err)
		}
	}
	peak := rss.peak()
	t.Logf("reads never read: agent resident set peaked at %d MiB (+%d MiB)", peak>>20, (peak-base)>>20)
	if peak-base > rssBound() {
		t.Fatalf("agent resident set grew by %d MiB under unread READs, bound %d MiB", (peak-base)>>20, rssBound()>>20)
	}
	for _, s := range hostile {
		s.nc.Close()
	}

	// The well-behaved session works all through the flood (and so is
	// never idle long enough to be pinged: it reads only in its commands).
	flooded := make(chan error, 1)
	go func() { flooded <- writeFlood(ctx, addr, lun) }()
	for round := 50; ; round++ {
		if err := goodIO(ctx, good, lun, round); err != nil {
			t.Fatalf("beside the write flood: %v", err)
		}
		select {
		case err := <-flooded:
			if err != nil {
				t.Fatal(err)
			}
		default:
			continue
		}
		break
	}
	peak = rss.peak()
	t.Logf("with the write flood: agent resident set peaked at %d MiB (+%d MiB)", peak>>20, (peak-base)>>20)
	if peak-base > rssBound() {
		t.Fatalf("agent resident set grew by %d MiB under the write flood, bound %d MiB", (peak-base)>>20, rssBound()>>20)
	}

	opened, refused := loginFlood(t, ctx, addr)
	maxSessions := iscsi.DefaultConfig().MaxSessions
	t.Logf("login flood: %d sessions opened, %d refused with OUT OF RESOURCES", opened, refused)
	// The well-behaved session counts; the hostile ones may still be on
	// their way out.
	if opened > maxSessions-1 || opened < maxSessions-1-hostileSessions || refused != loginAttempts-opened {
		t.Fatalf("login flood: %d of %d logins accepted and %d refused, want %d accepted (the cap, %d, less the sessions held)",
			opened, loginAttempts, refused, maxSessions-1, maxSessions)
	}
	if err := goodIO(ctx, good, lun, 100); err != nil {
		t.Fatalf("after the login flood: %v", err)
	}
	peak = rss.peak()
	t.Logf("with the login flood: agent resident set peaked at %d MiB (+%d MiB)", peak>>20, (peak-base)>>20)
	if peak-base > rssBound() {
		t.Fatalf("agent resident set grew by %d MiB, bound %d MiB", (peak-base)>>20, rssBound()>>20)
	}
}

// goodIO writes 1 MiB with a pattern of round and reads 16 MiB back from
// the same place: every command must be GOOD and the data must match.
func goodIO(ctx context.Context, s *initiator.Session, lun uint64, round int) error {
	const lba = 32768 // past the hostile reads' range
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*31 + round)
	}
	res, err := s.Command(ctx, lun, rw16(0x8a, lba, len(data)/blockSize), data, 0)
	if err != nil || res.Status != 0 {
		return fmt.Errorf("round %d: WRITE(16): %v, status %#02x sense % x", round, err, res.Status, res.Sense)
	}
	res, err = s.Command(ctx, lun, rw16(0x88, lba, hostileReadBytes/blockSize), nil, hostileReadBytes)
	if err != nil || res.Status != 0 {
		return fmt.Errorf("round %d: READ(16): %v, status %#02x sense % x", round, err, res.Status, res.Sense)
	}
	if len(res.Data) != hostileReadBytes || !bytes.Equal(res.Data[:len(data)], data) {
		return fmt.Errorf("round %d: READ(16) returned %d bytes, not what was written", round, len(res.Data))
	}
	return nil
}

// rw16 is READ(16) (0x88) or WRITE(16) (0x8a) of blocks at lba.
func rw16(op byte, lba uint64, blocks int) []byte {
	cdb := make([]byte, 16)
	cdb[0] = op
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], uint32(blocks))
	return cdb
}

// writeFlood has 8 sessions each write 3 WRITE(16) of 16 MiB, as fast as
// the target takes them: buffers of up to 128 MiB at once, half the
// budget, so every write must be GOOD. Under the race detector, where the
// bound cannot tell the collector's slack from shadow memory, one round
// each: the writes must still be GOOD, beside the well-behaved session.
func writeFlood(ctx context.Context, addr string, lun uint64) error {
	const writeSessions, size = 8, 16 << 20
	writeRounds := 3
	if raceBuild {
		writeRounds = 1
	}
	errs := make(chan error, writeSessions)
	for i := range writeSessions {
		s, err := initiator.Dial(ctx, addr, fmt.Sprintf("iqn.2026-11.io.ferry:writer-%d", i), iscsiTarget)
		if err != nil {
			return err
		}
		defer s.Close()
		go func() {
			data := make([]byte, size)
			for round := range writeRounds {
				// Past the well-behaved session's 16 MiB at 16 MiB.
				res, err := s.Command(ctx, lun, rw16(0x8a, uint64(2+i%2)*size/blockSize, size/blockSize), data, 0)
				if err == nil && res.Status != 0 {
					err = fmt.Errorf("status %#02x sense % x", res.Status, res.Sense)
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d, round %d: WRITE(16): %w", i, round, err)
					return
				}
			}
			errs <- nil
		}()
	}
	var failed error
	for range writeSessions {
		failed = cmp.Or(failed, <-errs)
	}
	return failed
}

// loginFlood opens sessions one after another, holding every one it
// gets, for loginAttempts attempts. A refusal must be TARGET ERROR, OUT OF
// RESOURCES; anything else fails the test.
func loginFlood(t *testing.T, ctx context.Context, addr string) (opened, refused int) {
	t.Helper()
	var held []*rawSession
	defer func() {
		for _, s := range held {
			s.nc.Close()
		}
	}()
	for i := range loginAttempts {
		s, resp, err := rawLogin(ctx, addr, fmt.Sprintf("iqn.2026-11.io.ferry:flood-%d", i))
		switch {
		case err != nil:
			t.Fatalf("login %d: %v", i, err)
		case resp.StatusClass == 0:
			held = append(held, s)
			opened++
		case resp.StatusClass == pdu.StatusTargetError && resp.StatusDetail == pdu.DetailOutOfResources:
			s.nc.Close()
			refused++
		default:
			t.Fatalf("login %d refused with status %d/%d, want %d/%d (OUT OF RESOURCES)", i,
				resp.StatusClass, resp.StatusDetail, pdu.StatusTargetError, pdu.DetailOutOfResources)
		}
	}
	return opened, refused
}

// rawSession is a logged-in connection driven PDU by PDU, as a hostile
// initiator drives it: it sends commands and never reads the answers.
type rawSession struct {
	nc    *net.TCPConn
	cmdSN uint32
	itt   uint32
}

// rawLogin logs in as name, in two steps (security, then operational),
// and returns the last login response: a failed login comes back as its
// status, with a nil error.
func rawLogin(ctx context.Context, addr, name string) (*rawSession, pdu.LoginResponse, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, pdu.LoginResponse{}, err
	}
	nc := c.(*net.TCPConn)
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	defer nc.SetDeadline(time.Time{})
	s := &rawSession{nc: nc, cmdSN: 1}
	r := pdu.NewReader(nc, 1<<20)
	isid := [6]byte{0x80, 0, 0, 0, 0, 1}
	steps := []struct {
		req pdu.LoginRequest
		kvs []pdu.KV
	}{
		{pdu.LoginRequest{Transit: true, CSG: pdu.StageSecurity, NSG: pdu.StageOperational},
			[]pdu.KV{{Key: "InitiatorName", Value: name}, {Key: "SessionType", Value: "Normal"},
				{Key: "TargetName", Value: iscsiTarget}, {Key: "AuthMethod", Value: "None"}}},
		{pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature},
			[]pdu.KV{{Key: "HeaderDigest", Value: "None"}, {Key: "DataDigest", Value: "None"}}},
	}
	var resp pdu.LoginResponse
	for i, st := range steps {
		st.req.ISID, st.req.TSIH, st.req.ITT, st.req.CmdSN = isid, resp.TSIH, uint32(i), s.cmdSN
		if _, err := nc.Write(pdu.Append(nil, pdu.Build(&st.req, pdu.AppendText(nil, st.kvs)), pdu.Digests{})); err != nil {
			nc.Close()
			return nil, resp, err
		}
		p, err := r.Read()
		if err != nil {
			nc.Close()
			return nil, resp, fmt.Errorf("login response: %w", err)
		}
		if p.Header.Opcode() != pdu.OpLoginResp {
			nc.Close()
			return nil, resp, fmt.Errorf("got %v during login", p.Header.Opcode())
		}
		resp.Unmarshal(&p.Header)
		if resp.StatusClass != 0 {
			return s, resp, nil
		}
	}
	return s, resp, nil
}

// read16 sends READ(16) of n bytes at lba.
func (s *rawSession) read16(lun, lba uint64, n int) error {
	s.itt++
	cmd := &pdu.SCSICommand{Final: true, Read: true, Attr: 1, LUN: lun << 48, ITT: s.itt,
		ExpectedDataTransferLength: uint32(n), CmdSN: s.cmdSN, CDB: rw16(0x88, lba, n/blockSize)}
	s.cmdSN++
	if _, err := s.nc.Write(pdu.Append(nil, pdu.EncodeSCSICommand(cmd, nil), pdu.Digests{})); err != nil {
		return fmt.Errorf("hostile READ(16): %w", err)
	}
	return nil
}

// unread is how many bytes wait in the socket's receive queue, and
// whether the target still holds the connection open (ESTABLISHED, not
// CLOSE_WAIT), from /proc/net/tcp.
func (s *rawSession) unread() (int64, bool, error) {
	local := s.nc.LocalAddr().(*net.TCPAddr)
	want := fmt.Sprintf("%08X:%04X", binary.LittleEndian.Uint32(local.IP.To4()), local.Port)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[1] != want {
			continue
		}
		_, rx, _ := strings.Cut(fields[4], ":")
		q, err := strconv.ParseInt(rx, 16, 64)
		return q, fields[3] == "01", err
	}
	return 0, false, errors.Join(sc.Err(), fmt.Errorf("socket %s not in /proc/net/tcp", want))
}

// rssSampler records the peak of a process's VmRSS.
type rssSampler struct {
	mu  sync.Mutex
	max int64
	err error
}

func (r *rssSampler) peak() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.max
}

// sampleRSS samples pid's resident set every 10 ms until the test ends.
func sampleRSS(t *testing.T, pid int) *rssSampler {
	r := &rssSampler{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			v, err := vmRSS(pid)
			r.mu.Lock()
			r.max = max(r.max, v)
			if err != nil && r.err == nil {
				r.err = err
			}
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if r.err != nil && !t.Failed() {
			t.Errorf("sampling the agent's VmRSS: %v", r.err)
		}
	})
	return r
}

// vmRSS is pid's resident set size in bytes, from /proc/PID/status.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
