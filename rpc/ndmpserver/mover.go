package ndmpserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/storage/tape"
)

// The MOVER service moves a data stream between a data connection and the
// session's open tape, in records of record_size bytes.
//
// Directions are named from the data connection's side, as NDMP does:
// MOVER_MODE_READ reads the connection and writes the tape (a backup),
// MOVER_MODE_WRITE reads the tape and writes the connection (a recover).
//
// The stream is addressed by byte offsets that run across tapes. The DMA
// sets a window, [window_offset, window_offset+window_length), the part of
// the stream the current tape holds starting at the tape position where
// the window was set. The mover pauses when it needs to go outside it:
// EOW when a backup reaches its end, SEEK when a recover wants a byte
// outside it (the DMA finds the tape that holds it, sets a new window and
// continues), EOM when the tape reaches its early-warning zone (the record
// is written: the pause loses nothing), EOF when a recover meets a
// filemark or end of data. It halts when the connection closes (the normal
// end of a backup), on MOVER_ABORT, on a tape error and on an internal one.
//
// One goroutine per LISTEN or CONNECT runs the stream; it blocks on the
// network or the tape without holding any lock, takes the tape's lock for
// each record and the mover's to account for it. Handlers change the state
// under the mover's lock and wake it with cond.

// Mover defaults, as a freshly connected NDMP server has them: a record of
// 20 tar blocks and an infinite window.
const (
	defaultRecordSize = 20 * 512
	lengthInfinity    = ^uint64(0)
	// connectTimeout bounds MOVER_CONNECT's dial of a DATA service.
	connectTimeout = 30 * time.Second
	// releaseTimeout bounds the release of a drive when a session ends.
	releaseTimeout = 30 * time.Second
	// streamBuffer is the buffered reader on a backup's data connection:
	// one read system call brings many records.
	streamBuffer = 1 << 20
)

// moverState is a session's MOVER service.
type moverState struct {
	s *session

	mu   sync.Mutex
	cond *sync.Cond // broadcast on every state change the stream waits for

	state      ndmp.Ndmp4_mover_state
	mode       ndmp.Ndmp4_mover_mode
	pause      ndmp.Ndmp4_mover_pause_reason
	halt       ndmp.Ndmp4_mover_halt_reason
	recordSize uint32

	windowOffset, windowLength, windowEnd uint64
	// windowObject is the tape's logical object id where the window
	// starts: where the tape stood when the window was set, or (set with
	// no tape open) when the stream first needed it.
	windowObject uint64
	windowKnown  bool

	pos        uint64 // stream offset of the next byte to move
	bytesMoved uint64
	seekPos    uint64
	leftToRead uint64

	addr ndmp.Ndmp4_addr
	ln   io.Closer // the listener while LISTEN
	// connected says, while LISTEN, that the data connection is already
	// established (DATA_CONNECT LOCAL took the other end, a peer's TCP
	// connection is accepted or waits in the listener's queue): the
	// stream's goroutine is about to go ACTIVE.
	connected func() bool
	conn      io.Closer     // the data connection while it is open
	done      chan struct{} // closed when the stream's goroutine ends
	// ewDrive is the drive on which the early-warning pause was made: the
	// mover pauses once per tape, then writes to its end.
	ewDrive Drive
}

// moverState returns the session's MOVER service, created on first use.
func (s *session) moverState() *moverState {
	if s.mover == nil {
		m := &moverState{s: s}
		m.cond = sync.NewCond(&m.mu)
		m.reset()
		s.mover = m
		s.tapeState() // its closer stops the mover before the drive goes
	}
	return s.mover
}

// reset puts the mover back in IDLE with its defaults. m.mu is held.
func (m *moverState) reset() {
	m.state = ndmp.NDMP4_MOVER_STATE_IDLE
	m.mode = ndmp.NDMP4_MOVER_MODE_READ
	m.pause = ndmp.NDMP4_MOVER_PAUSE_NA
	m.halt = ndmp.NDMP4_MOVER_HALT_NA
	m.recordSize = defaultRecordSize
	m.windowOffset, m.windowLength, m.windowEnd = 0, lengthInfinity, lengthInfinity
	m.windowKnown = false
	m.pos, m.bytesMoved, m.seekPos, m.leftToRead = 0, 0, 0, 0
	m.addr = ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}
	m.ln, m.conn, m.done, m.connected = nil, nil, nil, nil
	m.ewDrive = nil
}

// active reports whether the mover is moving data, so the tape is its.
func (m *moverState) active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == ndmp.NDMP4_MOVER_STATE_ACTIVE
}

// idle reports whether the mover is IDLE (the DATA service's LISTEN and
// CONNECT need it).
func (m *moverState) idle() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == ndmp.NDMP4_MOVER_STATE_IDLE
}

// shutdown ends the stream when the session ends: no notification (the
// DMA is gone), the goroutine waited for so that the drive is free.
func (m *moverState) shutdown() {
	m.mu.Lock()
	if m.state != ndmp.NDMP4_MOVER_STATE_IDLE && m.state != ndmp.NDMP4_MOVER_STATE_HALTED {
		m.setHalted(ndmp.NDMP4_MOVER_HALT_ABORTED)
	}
	done := m.done
	m.mu.Unlock()
	if done != nil {
		<-done
	}
}

func registerMover(h handlers) {
	h.add(ndmp.NDMP4_MOVER_GET_STATE, moverGetState)
	h.add(ndmp.NDMP4_MOVER_LISTEN, moverListen)
	h.add(ndmp.NDMP4_MOVER_CONNECT, moverConnect)
	h.add(ndmp.NDMP4_MOVER_CONTINUE, moverContinue)
	h.add(ndmp.NDMP4_MOVER_ABORT, moverAbort)
	h.add(ndmp.NDMP4_MOVER_STOP, moverStop)
	h.add(ndmp.NDMP4_MOVER_SET_WINDOW, moverSetWindow)
	h.add(ndmp.NDMP4_MOVER_READ, moverRead)
	h.add(ndmp.NDMP4_MOVER_CLOSE, moverClose)
	h.add(ndmp.NDMP4_MOVER_SET_RECORD_SIZE, moverSetRecordSize)
}

func moverGetState(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	m := s.moverState()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settleListenLocked()
	return &ndmp.Ndmp4_mover_get_state_reply{
		Mode:                 m.mode,
		State:                m.state,
		Pause_reason:         m.pause,
		Halt_reason:          m.halt,
		Record_size:          m.recordSize,
		Record_num:           uint32(min(m.pos/uint64(m.recordSize), blocknoUnknown)),
		Bytes_moved:          m.bytesMoved,
		Seek_position:        m.seekPos,
		Bytes_left_to_read:   m.leftToRead,
		Window_offset:        m.windowOffset,
		Window_length:        m.windowLength,
		Data_connection_addr: m.addr,
	}, ndmp.NDMP4_NO_ERR
}

// settleWait bounds how long get_state waits for an established data
// connection to make the mover ACTIVE.
const settleWait = 2 * time.Second

// settleListenLocked waits, when the mover is LISTEN but its data
// connection is already established, for the stream's goroutine to make it
// ACTIVE. A DMA asks for the state right after DATA_CONNECT (or DATA_START_
// BACKUP) returned; answering LISTEN then is a state that has already
// passed, and ndmjob, seeing it, sleeps up to two seconds before it looks
// again. m.mu is held.
func (m *moverState) settleListenLocked() {
	if m.state != ndmp.NDMP4_MOVER_STATE_LISTEN || m.connected == nil || !m.connected() {
		return
	}
	deadline := time.Now().Add(settleWait)
	t := time.AfterFunc(settleWait, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer t.Stop()
	for m.state == ndmp.NDMP4_MOVER_STATE_LISTEN && time.Now().Before(deadline) {
		m.cond.Wait()
	}
}

// acceptPending says whether a connection waits in ln's accept queue.
func acceptPending(ln net.Listener) bool {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	pending := false
	if err := rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		pending = err == nil && n > 0 && pfd[0].Revents&unix.POLLIN != 0
	}); err != nil {
		return false
	}
	return pending
}

// dataStateOf is the state of this session's DATA service: a MOVER_LISTEN
// needs it IDLE, as the reference server does, so that one session never
// runs two streams.
func (s *session) dataStateOf() ndmp.Ndmp4_data_state {
	if s.data == nil {
		return ndmp.NDMP4_DATA_STATE_IDLE
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	return s.data.state
}

// canProceed is what LISTEN, CONNECT and CONTINUE need of the tape: open,
// and opened for writing when the mover will write it.
func (s *session) moverCanProceed(mode ndmp.Ndmp4_mover_mode) ndmp.Ndmp4_error {
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.drive == nil:
		return ndmp.NDMP4_DEV_NOT_OPEN_ERR
	case mode == ndmp.NDMP4_MOVER_MODE_READ && t.mode == ndmp.NDMP4_TAPE_READ_MODE:
		return ndmp.NDMP4_PERMISSION_ERR
	}
	return ndmp.NDMP4_NO_ERR
}

// checkModeAddr validates a LISTEN's or CONNECT's mode and address type.
func checkModeAddr(mode ndmp.Ndmp4_mover_mode, at ndmp.Ndmp4_addr_type) ndmp.Ndmp4_error {
	switch mode {
	case ndmp.NDMP4_MOVER_MODE_READ, ndmp.NDMP4_MOVER_MODE_WRITE:
	default:
		return ndmp.NDMP4_ILLEGAL_ARGS_ERR
	}
	switch at {
	case ndmp.NDMP4_ADDR_LOCAL, ndmp.NDMP4_ADDR_TCP:
	default:
		return ndmp.NDMP4_ILLEGAL_ARGS_ERR
	}
	return ndmp.NDMP4_NO_ERR
}

func moverListen(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_mover_listen_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		// No address: LOCAL's arm is void (a bogus type would not encode).
		return &ndmp.Ndmp4_mover_listen_reply{Error: e, Connect_addr: ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}}, ndmp.NDMP4_NO_ERR
	}
	if e := checkModeAddr(r.Mode, r.Addr_type); e != ndmp.NDMP4_NO_ERR {
		return fail(e)
	}
	m := s.moverState()
	if !m.idle() || s.dataStateOf() != ndmp.NDMP4_DATA_STATE_IDLE {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	if e := s.moverCanProceed(r.Mode); e != ndmp.NDMP4_NO_ERR {
		return fail(e)
	}
	var (
		addr      ndmp.Ndmp4_addr
		accept    func() (io.ReadWriteCloser, error)
		ln        io.Closer
		connected func() bool
	)
	switch r.Addr_type {
	case ndmp.NDMP4_ADDR_TCP:
		tl, a, err := s.listenTCP()
		if err != nil {
			s.log.Warn("ndmp: mover listen", "err", err)
			return fail(ndmp.NDMP4_CONNECT_ERR)
		}
		addr, ln = a, tl
		var accepted atomic.Bool
		accept = func() (io.ReadWriteCloser, error) {
			c, err := tl.Accept()
			accepted.Store(err == nil)
			tl.Close() // one connection per listen
			if err != nil {
				return nil, err
			}
			tuneDataConn(c)
			return c, nil
		}
		connected = func() bool { return accepted.Load() || acceptPending(tl) || accepted.Load() }
	case ndmp.NDMP4_ADDR_LOCAL:
		l, err := s.moverListenLocal()
		if err != nil {
			s.log.Warn("ndmp: mover listen local", "err", err)
			return fail(ndmp.NDMP4_IO_ERR)
		}
		addr = ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}
		ln, accept, connected = l, l.accept, l.connected
	}
	m.mu.Lock()
	m.mode = r.Mode
	m.state = ndmp.NDMP4_MOVER_STATE_LISTEN
	m.pause, m.halt = ndmp.NDMP4_MOVER_PAUSE_NA, ndmp.NDMP4_MOVER_HALT_NA
	m.addr = addr
	m.ln, m.connected = ln, connected
	m.done = make(chan struct{})
	m.mu.Unlock()
	go m.run(accept)
	s.log.Info("ndmp: mover listening", "mode", r.Mode, "addr", addrString(addr))
	return &ndmp.Ndmp4_mover_listen_reply{Connect_addr: addr}, ndmp.NDMP4_NO_ERR
}

func moverConnect(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_mover_connect_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_mover_connect_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	if e := checkModeAddr(r.Mode, r.Addr.Addr_type); e != ndmp.NDMP4_NO_ERR {
		return fail(e)
	}
	m := s.moverState()
	if !m.idle() {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	// LOCAL joins this session's DATA, listening; TCP reaches a DATA
	// elsewhere, so this one must be idle.
	ds := s.dataStateOf()
	if (r.Addr.Addr_type == ndmp.NDMP4_ADDR_LOCAL && ds != ndmp.NDMP4_DATA_STATE_LISTEN) ||
		(r.Addr.Addr_type == ndmp.NDMP4_ADDR_TCP && ds != ndmp.NDMP4_DATA_STATE_IDLE) {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	if e := s.moverCanProceed(r.Mode); e != ndmp.NDMP4_NO_ERR {
		return fail(e)
	}
	var conn io.ReadWriteCloser
	switch r.Addr.Addr_type {
	case ndmp.NDMP4_ADDR_TCP:
		if len(*r.Addr.Tcp_addr()) == 0 {
			return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
		}
		dctx, cancel := context.WithTimeout(ctx, connectTimeout)
		c, err := dialAddr(dctx, r.Addr)
		cancel()
		if err != nil {
			s.log.Info("ndmp: mover connect", "addr", addrString(r.Addr), "err", err)
			s.logMessage(ndmp.NDMP4_LOG_ERROR, "MOVER_CONNECT to %s: %v", addrString(r.Addr), err)
			return fail(ndmp.NDMP4_CONNECT_ERR)
		}
		tuneDataConn(c)
		conn = c
	case ndmp.NDMP4_ADDR_LOCAL:
		c, ok := s.connectLocal()
		if !ok {
			// DATA of this session is not listening LOCAL.
			return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
		}
		conn = c
	}
	m.mu.Lock()
	m.mode = r.Mode
	m.state = ndmp.NDMP4_MOVER_STATE_ACTIVE
	m.pause, m.halt = ndmp.NDMP4_MOVER_PAUSE_NA, ndmp.NDMP4_MOVER_HALT_NA
	m.addr = r.Addr
	m.conn = conn
	m.done = make(chan struct{})
	m.mu.Unlock()
	go m.run(func() (io.ReadWriteCloser, error) { return conn, nil })
	s.log.Info("ndmp: mover connected", "mode", r.Mode, "addr", addrString(r.Addr))
	return &ndmp.Ndmp4_mover_connect_reply{}, ndmp.NDMP4_NO_ERR
}

func moverContinue(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_mover_continue_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	m := s.moverState()
	m.mu.Lock()
	st, mode := m.state, m.mode
	m.mu.Unlock()
	if st != ndmp.NDMP4_MOVER_STATE_PAUSED {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	if e := s.moverCanProceed(mode); e != ndmp.NDMP4_NO_ERR {
		return fail(e)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != ndmp.NDMP4_MOVER_STATE_PAUSED {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR) // halted meanwhile
	}
	m.state, m.pause = ndmp.NDMP4_MOVER_STATE_ACTIVE, ndmp.NDMP4_MOVER_PAUSE_NA
	m.cond.Broadcast()
	return &ndmp.Ndmp4_mover_continue_reply{}, ndmp.NDMP4_NO_ERR
}

func moverAbort(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	m := s.moverState()
	m.mu.Lock()
	switch m.state {
	case ndmp.NDMP4_MOVER_STATE_LISTEN, ndmp.NDMP4_MOVER_STATE_ACTIVE, ndmp.NDMP4_MOVER_STATE_PAUSED:
	default:
		m.mu.Unlock()
		e := ndmp.NDMP4_ILLEGAL_STATE_ERR
		return &ndmp.Ndmp4_mover_abort_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	m.setHalted(ndmp.NDMP4_MOVER_HALT_ABORTED)
	m.mu.Unlock()
	m.notifyHalted(ndmp.NDMP4_MOVER_HALT_ABORTED, "mover aborted by the DMA")
	return &ndmp.Ndmp4_mover_abort_reply{}, ndmp.NDMP4_NO_ERR
}

func moverStop(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	m := s.moverState()
	m.mu.Lock()
	if m.state != ndmp.NDMP4_MOVER_STATE_HALTED {
		m.mu.Unlock()
		e := ndmp.NDMP4_ILLEGAL_STATE_ERR
		return &ndmp.Ndmp4_mover_stop_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	done := m.done
	m.mu.Unlock()
	if done != nil {
		// The stream's goroutine is on its way out (it was woken by the
		// halt); wait so that IDLE really means nothing moves.
		<-done
	}
	m.mu.Lock()
	m.reset()
	m.mu.Unlock()
	return &ndmp.Ndmp4_mover_stop_reply{}, ndmp.NDMP4_NO_ERR
}

func moverClose(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	m := s.moverState()
	m.mu.Lock()
	switch m.state {
	case ndmp.NDMP4_MOVER_STATE_IDLE:
		m.mu.Unlock()
		e := ndmp.NDMP4_ILLEGAL_STATE_ERR
		return &ndmp.Ndmp4_mover_close_reply{Error: e}, ndmp.NDMP4_NO_ERR
	case ndmp.NDMP4_MOVER_STATE_HALTED:
		m.mu.Unlock()
		return &ndmp.Ndmp4_mover_close_reply{}, ndmp.NDMP4_NO_ERR
	}
	m.setHalted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED)
	m.mu.Unlock()
	m.notifyHalted(ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED, "data connection closed by the DMA")
	return &ndmp.Ndmp4_mover_close_reply{}, ndmp.NDMP4_NO_ERR
}

func moverSetRecordSize(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_mover_set_record_size_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_mover_set_record_size_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	m := s.moverState()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != ndmp.NDMP4_MOVER_STATE_IDLE && m.state != ndmp.NDMP4_MOVER_STATE_PAUSED {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	if r.Len == 0 || r.Len > maxTapeRecord {
		return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	m.recordSize = r.Len
	return &ndmp.Ndmp4_mover_set_record_size_reply{}, ndmp.NDMP4_NO_ERR
}

func moverSetWindow(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_mover_set_window_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_mover_set_window_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	m := s.moverState()
	m.mu.Lock()
	st, rs := m.state, uint64(m.recordSize)
	m.mu.Unlock()
	// NDMP v4: the window is set in IDLE, before LISTEN or CONNECT, or
	// while PAUSED.
	if st != ndmp.NDMP4_MOVER_STATE_IDLE && st != ndmp.NDMP4_MOVER_STATE_PAUSED {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	if r.Offset%rs != 0 {
		return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	end := lengthInfinity
	// "A window length of all ones minus the current window offset" is
	// the spec's infinite window; all ones is accepted too (Amanda's
	// (0, -1) read window).
	if r.Length != lengthInfinity && r.Offset+r.Length != lengthInfinity {
		if r.Length%rs != 0 || r.Length > lengthInfinity-r.Offset {
			return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
		}
		end = r.Offset + r.Length
	}
	// Where the tape stands now is where the window starts.
	obj, known := s.tapePosition()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != st {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	m.windowOffset, m.windowLength, m.windowEnd = r.Offset, r.Length, end
	m.windowObject, m.windowKnown = obj, known
	if st == ndmp.NDMP4_MOVER_STATE_IDLE {
		// The stream starts at the window (record_num = offset /
		// record_size, as the spec says).
		m.pos = r.Offset
	}
	return &ndmp.Ndmp4_mover_set_window_reply{}, ndmp.NDMP4_NO_ERR
}

// tapePosition is the open tape's logical object id, if a tape is open.
func (s *session) tapePosition() (uint64, bool) {
	t := s.tapeState()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drive == nil {
		return 0, false
	}
	p, err := t.drive.ReadPosition()
	if err != nil {
		return 0, false
	}
	return p.ObjectID, true
}

func moverRead(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := req.Body.(*ndmp.Ndmp4_mover_read_request)
	fail := func(e ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_mover_read_reply{Error: e}, ndmp.NDMP4_NO_ERR
	}
	m := s.moverState()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.state != ndmp.NDMP4_MOVER_STATE_ACTIVE, m.mode != ndmp.NDMP4_MOVER_MODE_WRITE:
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	case m.leftToRead > 0:
		return fail(ndmp.NDMP4_READ_IN_PROGRESS_ERR)
	}
	m.seekPos, m.leftToRead = r.Offset, r.Length
	m.pos = r.Offset
	m.cond.Broadcast()
	return &ndmp.Ndmp4_mover_read_reply{}, ndmp.NDMP4_NO_ERR
}

// setHalted halts the mover and closes its connection and listener, which
// wakes a stream blocked on the network. m.mu is held.
func (m *moverState) setHalted(reason ndmp.Ndmp4_mover_halt_reason) {
	m.state, m.halt, m.pause = ndmp.NDMP4_MOVER_STATE_HALTED, reason, ndmp.NDMP4_MOVER_PAUSE_NA
	m.leftToRead = 0
	if m.ln != nil {
		m.ln.Close()
		m.ln = nil
	}
	m.connected = nil
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
	m.cond.Broadcast()
}

// notifyHalted posts NOTIFY_MOVER_HALTED and a LOG_MESSAGE saying why.
func (m *moverState) notifyHalted(reason ndmp.Ndmp4_mover_halt_reason, why string) {
	s := m.s
	logType := ndmp.NDMP4_LOG_NORMAL
	if reason != ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED {
		logType = ndmp.NDMP4_LOG_ERROR
	}
	s.logMessage(logType, "%s", why)
	if _, err := s.conn.Send(ndmp.NDMP4_NOTIFY_MOVER_HALTED, &ndmp.Ndmp4_notify_mover_halted_post{Reason: reason}); err != nil {
		s.log.Debug("ndmp: notify mover halted", "err", err)
	}
}

// notifyPaused posts NOTIFY_MOVER_PAUSED and a LOG_MESSAGE saying why.
func (m *moverState) notifyPaused(reason ndmp.Ndmp4_mover_pause_reason, seek uint64, why string) {
	s := m.s
	s.logMessage(ndmp.NDMP4_LOG_NORMAL, "%s", why)
	if _, err := s.conn.Send(ndmp.NDMP4_NOTIFY_MOVER_PAUSED, &ndmp.Ndmp4_notify_mover_paused_post{Reason: reason, Seek_position: seek}); err != nil {
		s.log.Debug("ndmp: notify mover paused", "err", err)
	}
}

// pauseLocked pauses the mover and waits until it is continued (true) or
// halted (false). The notification is sent without the lock. m.mu is held.
func (m *moverState) pauseLocked(reason ndmp.Ndmp4_mover_pause_reason, why string) bool {
	if m.state != ndmp.NDMP4_MOVER_STATE_ACTIVE {
		// The stream's goroutine read or wrote without the lock and a
		// handler halted the mover meanwhile (MOVER_CLOSE after DATA
		// halted, ABORT): the halt stands. Pausing now would turn a
		// HALTED mover back into PAUSED, and the DMA, which saw it
		// halted, would abort it and call the operation questionable.
		return false
	}
	m.state, m.pause = ndmp.NDMP4_MOVER_STATE_PAUSED, reason
	m.seekPos = m.pos
	seek := m.pos
	m.mu.Unlock()
	m.s.log.Info("ndmp: mover paused", "reason", reason, "position", seek, "why", why)
	m.notifyPaused(reason, seek, why)
	m.mu.Lock()
	for m.state == ndmp.NDMP4_MOVER_STATE_PAUSED {
		m.cond.Wait()
	}
	return m.state == ndmp.NDMP4_MOVER_STATE_ACTIVE
}

// run is the stream's goroutine: it waits for the data connection, then
// moves data until the mover halts.
func (m *moverState) run(accept func() (io.ReadWriteCloser, error)) {
	defer close(m.done)
	conn, err := accept()
	m.mu.Lock()
	if m.state == ndmp.NDMP4_MOVER_STATE_HALTED {
		// Aborted while listening.
		m.mu.Unlock()
		if conn != nil {
			conn.Close()
		}
		return
	}
	if err != nil {
		m.setHalted(ndmp.NDMP4_MOVER_HALT_CONNECT_ERROR)
		m.mu.Unlock()
		m.notifyHalted(ndmp.NDMP4_MOVER_HALT_CONNECT_ERROR, fmt.Sprintf("data connection not established: %v", err))
		return
	}
	m.ln, m.connected = nil, nil
	m.conn = conn
	if m.state == ndmp.NDMP4_MOVER_STATE_LISTEN {
		m.state = ndmp.NDMP4_MOVER_STATE_ACTIVE
		m.cond.Broadcast() // get_state may wait for this
		if tc, ok := conn.(net.Conn); ok && m.addr.Addr_type == ndmp.NDMP4_ADDR_TCP {
			// get_state shows the peer once connected.
			m.addr = ndmpAddrOf(tc.RemoteAddr())
		}
	}
	mode, rs := m.mode, m.recordSize
	m.mu.Unlock()
	m.s.log.Info("ndmp: mover active", "mode", mode, "record_size", rs)

	var reason ndmp.Ndmp4_mover_halt_reason
	var why string
	if mode == ndmp.NDMP4_MOVER_MODE_READ {
		reason, why = m.toTape(conn)
	} else {
		reason, why = m.fromTape(conn)
	}
	m.mu.Lock()
	if m.state == ndmp.NDMP4_MOVER_STATE_HALTED {
		// Halted by a handler (abort, close), which notified.
		m.mu.Unlock()
		conn.Close()
		return
	}
	m.setHalted(reason)
	moved := m.bytesMoved
	m.mu.Unlock()
	conn.Close()
	m.s.log.Info("ndmp: mover halted", "reason", reason, "bytes", moved, "why", why)
	m.notifyHalted(reason, why)
}

// waitActive blocks while the mover is PAUSED; false when it halted.
// m.mu is held.
func (m *moverState) waitActive() bool {
	for m.state == ndmp.NDMP4_MOVER_STATE_PAUSED {
		m.cond.Wait()
	}
	return m.state == ndmp.NDMP4_MOVER_STATE_ACTIVE
}

// tape is the session's TAPE service. The mover uses whichever drive is
// open when it moves a record: a DMA changes tapes while the mover is
// paused.
func (m *moverState) tape() *tapeState { return m.s.tape }

// toTape is a backup: records from the connection to the tape. It returns
// why the mover halts.
//
// Records are gathered into batches of up to moverBatch bytes from what the
// connection has already delivered (the first record of a batch is waited
// for, the others only taken when buffered), and a batch goes to the drive
// in one call when the drive can (recordsWriter): a cluster drive checks
// its lease and fence once per call, not once per 10 KiB record.
func (m *moverState) toTape(conn io.Reader) (ndmp.Ndmp4_mover_halt_reason, string) {
	m.mu.Lock()
	rs := int(m.recordSize)
	m.mu.Unlock()
	br := bufio.NewReaderSize(conn, max(streamBuffer, 2*rs))
	perBatch := max(1, moverBatch/rs)
	slab := make([]byte, perBatch*rs) // the batch's records, reused
	recs := make([][]byte, 0, perBatch)
	t := m.tape()
	for {
		m.mu.Lock()
		if n := int(m.recordSize); n != rs {
			// Set while paused: the stream is cut in the new size from
			// here on.
			rs, perBatch = n, max(1, moverBatch/n)
			slab, recs = make([]byte, perBatch*rs), make([][]byte, 0, perBatch)
		}
		m.mu.Unlock()
		recs = recs[:0]
		eof := false
		for len(recs) < perBatch && (len(recs) == 0 || br.Buffered() >= rs) {
			rec := slab[len(recs)*rs : (len(recs)+1)*rs]
			n, err := io.ReadFull(br, rec)
			if n == 0 && errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				// The last record, padded to the record size as NDMP
				// requires: the tape holds only whole records.
				clear(rec[n:])
				recs = append(recs, rec)
				eof = true
				break
			}
			if err != nil {
				return ndmp.NDMP4_MOVER_HALT_CONNECT_ERROR, fmt.Sprintf("reading the data connection: %v", err)
			}
			recs = append(recs, rec)
		}
		if len(recs) > 0 {
			if reason, why, ok := m.writeRecords(t, recs); !ok {
				return reason, why
			}
		}
		if eof {
			return m.endOfBackup()
		}
	}
}

// moverBatch bounds the bytes of records a backup hands the drive at once.
const moverBatch = 1 << 20

// recordsWriter is a drive that writes several records in one call (a
// cluster drive: one pass of its write guard for the lot). It stops after
// the first record that ends in the early-warning zone or fails, and says
// how many it wrote.
type recordsWriter interface {
	WriteRecords(recs [][]byte) (n int, earlyWarning bool, err error)
}

// writeRecordsTo writes recs to d, in one call when d can, and returns how
// many were written; it stops after the first one in the early-warning
// zone, as recordsWriter does.
func writeRecordsTo(d Drive, recs [][]byte) (int, bool, error) {
	if w, ok := d.(recordsWriter); ok && d.BlockSize() == 0 {
		return w.WriteRecords(recs)
	}
	for i, rec := range recs {
		ew, err := writeRecord(d, rec)
		if err != nil {
			return i, false, err
		}
		if ew {
			return i + 1, true, nil
		}
	}
	return len(recs), false, nil
}

// endOfBackup makes what the mover wrote durable before the DMA hears that
// the stream ended.
func (m *moverState) endOfBackup() (ndmp.Ndmp4_mover_halt_reason, string) {
	t := m.tape()
	t.mu.Lock()
	var err error
	if t.drive != nil {
		err = t.drive.Flush()
	}
	t.mu.Unlock()
	m.mu.Lock()
	moved := m.bytesMoved
	m.mu.Unlock()
	if err != nil {
		return ndmp.NDMP4_MOVER_HALT_MEDIA_ERROR, fmt.Sprintf("flushing the tape: %v", err)
	}
	return ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED, fmt.Sprintf("end of the data stream: %d bytes written", moved)
}

// writeRecords writes a backup's records, within the window, pausing at
// the window's end (EOW) and at the end of the medium (EOM); false when
// the mover halts.
func (m *moverState) writeRecords(t *tapeState, recs [][]byte) (ndmp.Ndmp4_mover_halt_reason, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := uint64(len(recs[0]))
	for len(recs) > 0 {
		if !m.waitActive() {
			return 0, "", false
		}
		if m.pos >= m.windowEnd || m.pos < m.windowOffset {
			if !m.pauseLocked(ndmp.NDMP4_MOVER_PAUSE_EOW, fmt.Sprintf("end of the mover window at byte %d", m.pos)) {
				return 0, "", false
			}
			continue
		}
		k := len(recs)
		if room := (m.windowEnd - m.pos) / rs; room < uint64(k) {
			k = int(max(room, 1))
		}
		m.mu.Unlock()
		t.mu.Lock()
		d := t.drive
		var (
			n   int
			ew  bool
			err error
		)
		if d == nil {
			err = tape.ErrNotLoaded
		} else {
			n, ew, err = writeRecordsTo(d, recs[:k])
			t.blockno, t.atFilemark = -1, false
		}
		t.mu.Unlock()
		m.mu.Lock()
		if n > 0 {
			m.s.countTape(true, n*int(rs))
			m.pos += uint64(n) * rs
			m.bytesMoved += uint64(n) * rs
			recs = recs[n:]
		}
		switch {
		case errors.Is(err, tape.ErrEndOfMedium):
			// Not written: the rest goes on the next tape after
			// CONTINUE.
			m.ewDrive = d
			if !m.pauseLocked(ndmp.NDMP4_MOVER_PAUSE_EOM, fmt.Sprintf("end of medium on %s at byte %d", barcode(d), m.pos)) {
				return 0, "", false
			}
			continue
		case err != nil:
			return ndmp.NDMP4_MOVER_HALT_MEDIA_ERROR, fmt.Sprintf("writing the tape at byte %d: %v", m.pos, err), false
		}
		if ew && m.ewDrive != d {
			// Written, in the early-warning zone: pause once on this
			// tape so that the DMA can change it losslessly.
			m.ewDrive = d
			if !m.pauseLocked(ndmp.NDMP4_MOVER_PAUSE_EOM, fmt.Sprintf("early warning: %s is nearly full at byte %d", barcode(d), m.pos)) {
				return 0, "", false
			}
		}
	}
	return 0, "", true
}

// barcode names the cartridge in a drive for messages.
func barcode(d Drive) string {
	if d == nil {
		return "no cartridge"
	}
	return d.Barcode()
}

// fromTape is a recover: the bytes MOVER_READ asks for, from the tape to
// the connection. It returns why the mover halts.
func (m *moverState) fromTape(conn io.Writer) (ndmp.Ndmp4_mover_halt_reason, string) {
	m.mu.Lock()
	rs := uint64(m.recordSize)
	m.mu.Unlock()
	buf := make([]byte, rs)
	// out gathers what goes to the connection, written in one call per
	// MiB rather than per record, and always before the mover waits or
	// pauses: the peer never waits for bytes the mover holds.
	out := make([]byte, 0, max(moverBatch, 2*int(rs)))
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		_, err := conn.Write(out)
		out = out[:0]
		return err
	}
	t := m.tape()
	var (
		cached    = false // buf holds record cachedRec of the window
		cachedRec uint64
		cachedLen uint64
		cachedWin uint64 // windowObject when the record was read
		at        = ^uint64(0)
	)
	for {
		m.mu.Lock()
		if len(out) > 0 && (m.state != ndmp.NDMP4_MOVER_STATE_ACTIVE || m.leftToRead == 0 ||
			m.pos < m.windowOffset || m.pos >= m.windowEnd || len(out)+int(rs) > cap(out)) {
			m.mu.Unlock()
			if err := flush(); err != nil {
				return ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED, fmt.Sprintf("writing the data connection: %v", err)
			}
			continue
		}
		for m.state == ndmp.NDMP4_MOVER_STATE_PAUSED || (m.state == ndmp.NDMP4_MOVER_STATE_ACTIVE && m.leftToRead == 0) {
			m.cond.Wait()
		}
		if m.state != ndmp.NDMP4_MOVER_STATE_ACTIVE {
			m.mu.Unlock()
			return 0, ""
		}
		if m.recordSize != uint32(rs) {
			rs = uint64(m.recordSize)
			buf = make([]byte, rs)
			cached, at = false, ^uint64(0)
		}
		if m.pos < m.windowOffset || m.pos >= m.windowEnd {
			if !m.pauseLocked(ndmp.NDMP4_MOVER_PAUSE_SEEK, fmt.Sprintf("byte %d is outside the mover window", m.pos)) {
				m.mu.Unlock()
				return 0, ""
			}
			cached, at = false, ^uint64(0) // the DMA may have moved the tape
			m.mu.Unlock()
			continue
		}
		rel := m.pos - m.windowOffset
		recNo, off := rel/rs, rel%rs
		want := min(m.leftToRead, m.windowEnd-m.pos)
		if !m.windowKnown {
			m.mu.Unlock()
			obj, ok := m.s.tapePosition()
			m.mu.Lock()
			if !ok {
				m.mu.Unlock()
				return ndmp.NDMP4_MOVER_HALT_MEDIA_ERROR, "no tape is open"
			}
			m.windowObject, m.windowKnown = obj, true
		}
		win := m.windowObject
		m.mu.Unlock()

		if !cached || cachedRec != recNo || cachedWin != win {
			n, err := m.readTapeRecord(t, buf, win+recNo*blocksPer(t, rs), at != win+recNo*blocksPer(t, rs))
			switch {
			case errors.Is(err, tape.ErrFilemark), errors.Is(err, tape.ErrEndOfData):
				if err := flush(); err != nil {
					return ndmp.NDMP4_MOVER_HALT_CONNECT_CLOSED, fmt.Sprintf("writing the data connection: %v", err)
				}
				m.mu.Lock()
				ok := m.pauseLocked(ndmp.NDMP4_MOVER_PAUSE_EOF, fmt.Sprintf("end of the tape file at byte %d", m.pos))
				m.mu.Unlock()
				if !ok {
					return 0, ""
				}
				cached, at = false, ^uint64(0)
				continue
			case err != nil:
				return ndmp.NDMP4_MOVER_HALT_MEDIA_ERROR, fmt.Sprintf("reading the tape at byte %d: %v", rel, err)
			}
			m.s.countTape(false, n)
			cached, cachedRec, cachedLen, cachedWin = true, recNo, uint64(n), win
			at = win + (recNo+1)*blocksPer(t, rs)
		}
		var chunk []byte
		if off < cachedLen {
			chunk = buf[off:min(cachedLen, off+want)]
		}
		out = append(out, chunk...)
		m.mu.Lock()
		adv := uint64(len(chunk))
		if adv == 0 {
			// A record shorter than the record size: its missing tail
			// is skipped, the stream goes on at the next record.
			adv = min(rs-off, want)
		}
		m.pos += adv
		m.bytesMoved += uint64(len(chunk))
		m.leftToRead -= min(adv, m.leftToRead)
		m.mu.Unlock()
	}
}

// blocksPer is how many tape blocks one mover record takes: one in
// variable mode, record/block size in fixed mode.
func blocksPer(t *tapeState, rs uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drive == nil {
		return 1
	}
	if bs := uint64(t.drive.BlockSize()); bs > 0 && rs > bs {
		return rs / bs
	}
	return 1
}

// readTapeRecord reads the mover record at tape object obj into buf,
// locating there first unless the tape is known to be there.
func (m *moverState) readTapeRecord(t *tapeState, buf []byte, obj uint64, locate bool) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.drive
	if d == nil {
		return 0, fmt.Errorf("no tape is open: %w", tape.ErrNotLoaded)
	}
	t.blockno, t.atFilemark = -1, false
	if locate {
		if err := d.Locate(obj); err != nil {
			return 0, err
		}
	}
	bs := int(d.BlockSize())
	if bs == 0 || bs >= len(buf) {
		n, err := d.ReadRecord(buf)
		if errors.Is(err, tape.ErrIncorrectLength) {
			err = nil
		}
		if errors.Is(err, tape.ErrFilemark) {
			// Stay on the mark's BOT side, as TAPE_READ does.
			if err := d.Space(tape.SpaceFilemarks, -1); err != nil {
				return 0, err
			}
			t.atFilemark = true
			return 0, tape.ErrFilemark
		}
		return n, err
	}
	total := 0
	for total+bs <= len(buf) {
		n, err := d.ReadRecord(buf[total : total+bs])
		if errors.Is(err, tape.ErrIncorrectLength) {
			err = nil
		}
		if err != nil {
			if total > 0 && (errors.Is(err, tape.ErrFilemark) || errors.Is(err, tape.ErrEndOfData)) {
				if errors.Is(err, tape.ErrFilemark) {
					if err := d.Space(tape.SpaceFilemarks, -1); err != nil {
						return total, err
					}
				}
				return total, nil
			}
			return total, err
		}
		total += n
	}
	return total, nil
}

// addrString shows an NDMP address in logs.
func addrString(a ndmp.Ndmp4_addr) string {
	if a.Addr_type != ndmp.NDMP4_ADDR_TCP {
		return a.Addr_type.String()
	}
	var out string
	for _, ta := range *a.Tcp_addr() {
		if out != "" {
			out += ","
		}
		out += net.JoinHostPort(ipv4(ta.Ip_addr).String(), fmt.Sprint(ta.Port))
	}
	return out
}

// ipv4 turns NDMP's u_long address (network order, as a number) into an IP.
func ipv4(a uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, a)
	return ip
}

// tuneDataConn gives a data connection large socket buffers, so that the
// network keeps flowing while a record goes to the tape.
func tuneDataConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 20)
		tc.SetWriteBuffer(4 << 20)
		tc.SetNoDelay(true)
	}
}

// ndmpAddrOf is an NDMP TCP address for a socket address.
func ndmpAddrOf(a net.Addr) ndmp.Ndmp4_addr {
	out := ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_TCP}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return out
	}
	var list []ndmp.Ndmp4_tcp_addr
	if ip4 := ta.IP.To4(); ip4 != nil {
		list = append(list, ndmp.Ndmp4_tcp_addr{Ip_addr: binary.BigEndian.Uint32(ip4), Port: uint32(ta.Port)})
	}
	*out.Tcp_addr() = list
	return out
}

// localListener is a MOVER_LISTEN of type LOCAL: the mover's end of the
// session's LOCAL connection, handed to the stream once DATA_CONNECT took
// the other end.
type localListener struct {
	end   net.Conn
	taken <-chan struct{}
	stop  chan struct{}
	once  sync.Once
}

// moverListenLocal makes the session's LOCAL data connection for the mover.
func (s *session) moverListenLocal() (*localListener, error) {
	end, taken, err := s.listenLocalNotify()
	if err != nil {
		return nil, err
	}
	return &localListener{end: end, taken: taken, stop: make(chan struct{})}, nil
}

// connected says whether DATA_CONNECT took the other end.
func (l *localListener) connected() bool {
	select {
	case <-l.taken:
		return true
	default:
		return false
	}
}

// accept waits for DATA_CONNECT (LOCAL) or for Close.
func (l *localListener) accept() (io.ReadWriteCloser, error) {
	select {
	case <-l.taken:
		return l.end, nil
	case <-l.stop:
		l.end.Close()
		return nil, net.ErrClosed
	}
}

// Close ends the listen: the end no DATA took is closed.
func (l *localListener) Close() error {
	l.once.Do(func() {
		close(l.stop)
		select {
		case <-l.taken:
			// The stream owns the end now and closes it.
		default:
			l.end.Close()
		}
	})
	return nil
}
