package iscsi

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/ferry-san/ferry/iscsi/pdu"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// invalidFieldInIU is INVALID FIELD IN COMMAND INFORMATION UNIT, the
// answer to a command the transport cannot carry (FCP-4, SAM-5).
var invalidFieldInIU = sense.MakeCode(0x0e, 0x03)

// command is one SCSI task from its SCSI Command PDU to its final status.
// The collecting fields belong to the connection's reader goroutine.
type command struct {
	itt    uint32
	lunRaw uint64
	cdb    []byte
	edtl   uint32
	// readLen is how much data-in the initiator accepts: the EDTL, or for
	// a bidirectional command the length in its AHS.
	readLen uint32
	read    bool
	write   bool
	counted bool
	// reserved is what the command holds of the target's data budget,
	// given back when it is forgotten.
	reserved uint64
	// piece is the size of the data-in buffer the budget holds for it.
	piece int

	// Data-out collection. cov is what buf holds; nextOffset is where the
	// next R2T looks for a hole to solicit.
	buf         []byte
	cov         coverage
	unsolicited bool
	unsolDataSN uint32
	nextOffset  uint32
	r2ts        map[uint32]*r2tState
	r2tSN       uint32
	collecting  bool

	ctx    context.Context
	cancel context.CancelFunc
	// gate keeps the command off the medium once task management aborted
	// it (see abort).
	gate task.Gate
	// aborted is set under conn.cmdMu by task management; an aborted
	// command sends no response.
	aborted bool
	// thirdParty is set, also under conn.cmdMu, when a reset from another
	// session aborted the command: it ends with TASK ABORTED.
	thirdParty bool
	// answered is set, under conn.cmdMu, once finish has decided to send
	// the command's response: from then on task management no longer
	// finds it, as the initiator will hear it completed (an ABORT TASK
	// of it is TASK DOES NOT EXIST, never FUNCTION COMPLETE beside a GOOD
	// status).
	answered bool
	done     chan struct{}
}

// stopped reports, under conn.cmdMu, whether task management aborted cmd.
func (c *conn) stopped(cmd *command) bool {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	return cmd.aborted || cmd.thirdParty
}

// r2tState is one outstanding R2T.
type r2tState struct {
	offset, length uint32
	dataSN         uint32
}

// scsiCommand starts a command: it takes immediate data, then solicits the
// rest or runs the command.
func (c *conn) scsiCommand(ctx context.Context, p *pdu.PDU) error {
	m, bidiRead, err := pdu.ParseSCSICommand(p)
	if err != nil {
		c.reject(p, pdu.RejectInvalidField)
		return nil
	}
	if !c.sess.admit(m.CmdSN, m.Immediate, !m.Immediate) {
		c.log.Debug("iscsi: command outside the CmdSN window ignored", "cmdsn", m.CmdSN)
		return nil
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := &command{itt: m.ITT, lunRaw: m.LUN, cdb: m.CDB, edtl: m.ExpectedDataTransferLength,
		readLen: readLength(&m, bidiRead), read: m.Read, write: m.Write, counted: !m.Immediate, r2ts: map[uint32]*r2tState{},
		ctx: cctx, cancel: cancel, done: make(chan struct{})}
	if len(p.Data) > 0 && (!m.Write || !c.sess.p.ImmediateData ||
		uint32(len(p.Data)) > min(m.ExpectedDataTransferLength, c.sess.p.FirstBurst)) {
		cancel()
		return fmt.Errorf("%w: %d bytes of immediate data for a command of EDTL %d (write %v, ImmediateData %v)",
			errProtocol, len(p.Data), m.ExpectedDataTransferLength, m.Write, c.sess.p.ImmediateData)
	}
	tooBig := m.Write && cmd.edtl > c.t.cfg.MaxTransferLength
	busy := false
	if m.Write && cmd.edtl > 0 && !tooBig {
		busy = !c.t.buffers.take(uint64(cmd.edtl))
	}
	if m.Write && cmd.edtl > 0 && !tooBig && !busy {
		cmd.reserved = uint64(cmd.edtl)
		// Collecting state is complete before the command is visible to
		// task management on other goroutines.
		cmd.buf = make([]byte, cmd.edtl)
		cmd.cov.fill(cmd.buf, 0, p.Data)
		cmd.unsolicited = !m.Final
		cmd.collecting = true
	}
	c.cmdMu.Lock()
	_, dup := c.cmds[cmd.itt]
	if !dup {
		c.cmds[cmd.itt] = cmd
	}
	c.cmdMu.Unlock()
	switch {
	case dup:
		c.t.buffers.give(cmd.reserved)
		cancel()
		if cmd.counted {
			c.sess.release()
		}
		c.reject(p, pdu.RejectTaskInProgress)
		return nil
	case tooBig:
		// Data-Out still on its way for this ITT is dropped because the
		// command is gone by then.
		c.finish(cmd, task.Fail(sense.New(sense.IllegalRequest, invalidFieldInIU)))
		return nil
	case busy:
		// Likewise; the initiator tries again later.
		c.finish(cmd, task.Result{Status: task.Busy})
		return nil
	case cmd.collecting:
		return c.advance(cmd)
	}
	c.execute(cmd)
	return nil
}

// dataOut files one Data-Out PDU into its command.
func (c *conn) dataOut(ctx context.Context, p *pdu.PDU) error {
	var m pdu.DataOut
	m.Unmarshal(&p.Header)
	c.cmdMu.Lock()
	cmd := c.cmds[m.ITT]
	c.cmdMu.Unlock()
	if cmd == nil || !cmd.collecting {
		// Data for an aborted or refused command (RFC 7143 11.5.1).
		return nil
	}
	r, err := cmd.file(&m, p.Data, c.sess.p.FirstBurst)
	if err != nil {
		// A Data-Out out of sequence (RFC 7143 7.12) is rejected and its
		// command dropped: the initiator fails the command on the Reject,
		// and the connection, with its other commands, carries on.
		c.log.Debug("iscsi: Data-Out rejected", "err", err)
		c.reject(p, pdu.RejectProtocolError)
		c.cmdMu.Lock()
		cmd.aborted, cmd.collecting = true, false
		c.cmdMu.Unlock()
		c.finish(cmd, abortedResult)
		return nil
	}
	switch {
	case !m.Final:
	case r == nil:
		// The R2Ts solicit every hole the unsolicited data left, from
		// the start of the buffer.
		cmd.unsolicited = false
		cmd.nextOffset = 0
	default:
		delete(cmd.r2ts, m.TTT)
	}
	return c.advance(cmd)
}

// file checks a Data-Out and puts its data into cmd's buffer. It returns
// the R2T the Data-Out answers, nil for unsolicited data. Data that
// disagrees with what the buffer already holds at that place, or a
// sequence that ends without filling its R2T, is a protocol error: the
// command could otherwise write bytes no one sent.
func (cmd *command) file(m *pdu.DataOut, data []byte, firstBurst uint32) (*r2tState, error) {
	r, err := cmd.check(m, len(data), firstBurst)
	if err != nil {
		return nil, err
	}
	if !cmd.cov.fill(cmd.buf, m.BufferOffset, data) {
		return nil, fmt.Errorf("%w: Data-Out ITT %#x at %d+%d disagrees with data already received there",
			errProtocol, m.ITT, m.BufferOffset, len(data))
	}
	if r != nil && m.Final && !cmd.cov.covers(r.offset, r.offset+r.length) {
		return nil, fmt.Errorf("%w: Data-Out sequence of ITT %#x TTT %#x ends before filling its R2T at %d+%d",
			errProtocol, m.ITT, m.TTT, r.offset, r.length)
	}
	return r, nil
}

// check validates a Data-Out against what cmd expects and returns the R2T
// it answers, nil for unsolicited data.
func (cmd *command) check(m *pdu.DataOut, n int, firstBurst uint32) (*r2tState, error) {
	end := uint64(m.BufferOffset) + uint64(n)
	if m.TTT == pdu.ReservedTag {
		limit := min(firstBurst, cmd.edtl)
		if !cmd.unsolicited || m.DataSN != cmd.unsolDataSN || end > uint64(limit) {
			return nil, fmt.Errorf("%w: unsolicited Data-Out ITT %#x DataSN %d (want %d) ends at %d of %d",
				errProtocol, m.ITT, m.DataSN, cmd.unsolDataSN, end, limit)
		}
		cmd.unsolDataSN++
		return nil, nil
	}
	r := cmd.r2ts[m.TTT]
	if r == nil || m.DataSN != r.dataSN || m.BufferOffset < r.offset || end > uint64(r.offset)+uint64(r.length) {
		return nil, fmt.Errorf("%w: Data-Out ITT %#x TTT %#x DataSN %d at %d+%d does not answer an R2T",
			errProtocol, m.ITT, m.TTT, m.DataSN, m.BufferOffset, n)
	}
	r.dataSN++
	return r, nil
}

// advance solicits more data for cmd or, once all of it is in, runs it.
// A command that another session's reset aborted while it collected asks
// for no more data: once the R2Ts already sent are answered (their data
// dropped), it ends with TASK ABORTED and never runs.
func (c *conn) advance(cmd *command) error {
	if cmd.unsolicited {
		return nil
	}
	if c.stopped(cmd) {
		if len(cmd.r2ts) == 0 {
			c.cmdMu.Lock()
			cmd.collecting = false
			c.cmdMu.Unlock()
			c.finish(cmd, abortedResult)
		}
		return nil
	}
	for uint32(len(cmd.r2ts)) < c.sess.p.MaxOutstandingR2T {
		h, ok := cmd.cov.hole(cmd.nextOffset, cmd.edtl)
		if !ok {
			break
		}
		n := min(c.sess.p.MaxBurst, h.end-h.off)
		ttt := c.newTTT()
		cmd.r2ts[ttt] = &r2tState{offset: h.off, length: n}
		r := &pdu.R2T{LUN: cmd.lunRaw, ITT: cmd.itt, TTT: ttt, R2TSN: cmd.r2tSN,
			BufferOffset: h.off, DesiredDataTransferLength: n}
		cmd.r2tSN++
		cmd.nextOffset = h.off + n
		if err := c.send(pdu.Build(r, nil), keepStatSN); err != nil {
			return err
		}
	}
	// Every R2T answered fills its range (file checks it), so once none
	// is outstanding and no hole is left past nextOffset the buffer is
	// whole.
	if len(cmd.r2ts) == 0 && cmd.cov.covers(0, cmd.edtl) {
		// The check and the end of collecting are one step under cmdMu,
		// as abort's are: either abort sees a command that runs (and
		// waits for it) or the command sees that it was aborted.
		c.cmdMu.Lock()
		stopped := cmd.aborted || cmd.thirdParty
		cmd.collecting = false
		c.cmdMu.Unlock()
		if stopped {
			c.finish(cmd, abortedResult)
			return nil
		}
		c.execute(cmd)
	}
	return nil
}

func (c *conn) newTTT() uint32 {
	c.nextTTT++
	if c.nextTTT == pdu.ReservedTag {
		c.nextTTT = 0
	}
	return c.nextTTT
}

// readLength is the data-in length a command accepts.
func readLength(m *pdu.SCSICommand, bidiRead uint32) uint32 {
	switch {
	case m.Read && m.Write:
		return bidiRead
	case m.Read:
		return m.ExpectedDataTransferLength
	}
	return 0
}

// dataOutSizer is implemented by a task.Server that can tell how many
// data-out bytes a CDB asks for (the SCSI transfer length), so that the
// target reports write residuals (RFC 7143 11.4.5.1) and hands the server
// exactly that much.
type dataOutSizer interface {
	DataOutLength(lun uint64, cdb []byte) (uint32, bool)
}

// quickBytes bounds the transfer of a command run on the reader goroutine.
const quickBytes = 64 << 10

// quickServer is implemented by a task.Server that can tell a command that
// ends with its own block I/O (a READ or WRITE) from one that may wait
// long (a copy, a round through the cluster).
type quickServer interface {
	Quick(cdb []byte) bool
}

// execute runs cmd, at most QueueDepth at a time: on its own goroutine, or
// on the reader's when running it there is cheaper and delays nothing
// (see inline).
func (c *conn) execute(cmd *command) {
	c.running.Add(1)
	c.executing.Add(1)
	if c.inline(cmd) {
		c.runCommand(cmd)
		return
	}
	go c.runCommand(cmd)
}

// inline reports whether cmd runs on the reader goroutine: with one
// command in flight, handing each to a goroutine of its own costs a
// thread wake-up and a third of the commands per second. Only when cmd
// is the connection's only command, no further PDU has arrived (task
// management could only wait for it), and the server says it is a block
// read or write of at most quickBytes.
func (c *conn) inline(cmd *command) bool {
	q, ok := c.t.cfg.Server.(quickServer)
	return ok && c.executing.Load() == 1 && c.r.Buffered() == 0 &&
		max(cmd.edtl, cmd.readLen) <= quickBytes && q.Quick(cmd.cdb)
}

// runCommand waits for a queue slot, runs cmd on the server and sends its
// outcome.
func (c *conn) runCommand(cmd *command) {
	defer c.running.Done()
	defer c.executing.Add(-1)
	slot := false
	select {
	case c.slots <- struct{}{}:
		slot = true
	case <-cmd.ctx.Done():
	}
	// Both cases may be ready at once and select picks either: an
	// aborted command that got a slot gives it back unrun.
	if cmd.ctx.Err() != nil {
		if slot {
			<-c.slots
		}
		c.finish(cmd, abortedResult)
		return
	}
	// A read holds one piece of its data-in at a time (respond reads a
	// streamed READ piece by piece), charged to the budget from here to
	// its response.
	if cmd.readLen > 0 {
		n := min(uint64(cmd.readLen), dataInPiece, c.t.cfg.DataBudget)
		if !c.t.buffers.take(n) {
			<-c.slots
			c.finish(cmd, task.Result{Status: task.Busy})
			return
		}
		c.cmdMu.Lock()
		cmd.reserved += n
		c.cmdMu.Unlock()
		cmd.piece = int(n)
	}
	t := &task.Task{LUN: lunNumber(cmd.lunRaw), CDB: cmd.cdb, Initiator: c.sess.port, Gate: &cmd.gate,
		StreamDataIn: true}
	t.AllocationLength = cmd.readLen
	t.DataOut = cmd.buf
	if sz, ok := c.t.cfg.Server.(dataOutSizer); ok && cmd.buf != nil {
		if n, ok := sz.DataOutLength(t.LUN, cmd.cdb); ok && n < uint32(len(cmd.buf)) {
			t.DataOut = cmd.buf[:n]
		}
	}
	res := c.run(cmd.ctx, t)
	<-c.slots
	c.finish(cmd, res)
}

// run executes t on the server.
func (c *conn) run(ctx context.Context, t *task.Task) task.Result {
	var res task.Result
	if err := c.guard(t.CDB, func() error {
		res = c.t.cfg.Server.Execute(ctx, t)
		return nil
	}); err != nil {
		return task.ErrorResult(err)
	}
	return res
}

// guard runs f, a call into the task server for the command cdb. A server
// that panics fails the command with INTERNAL TARGET FAILURE instead of
// taking the node down with it.
func (c *conn) guard(cdb []byte, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("iscsi: task server panicked", "cdb", fmt.Sprintf("%x", cdb), "panic", v,
				"stack", string(debug.Stack()))
			err = sense.New(sense.HardwareError, sense.InternalTargetFailure)
		}
	}()
	return f()
}

// finish sends cmd's outcome, unless it was aborted, and forgets it.
func (c *conn) finish(cmd *command, res task.Result) {
	c.cmdMu.Lock()
	aborted := cmd.aborted
	if cmd.thirdParty {
		res = abortedResult
	}
	cmd.answered = true
	c.cmdMu.Unlock()
	var err error
	if aborted {
		if cmd.counted {
			c.sess.release()
		}
	} else {
		err = c.respond(cmd, res)
	}
	c.forget(cmd)
	if err != nil {
		c.log.Debug("iscsi: response lost", "itt", cmd.itt, "err", err)
		c.nc.Close()
	}
}

// forget removes cmd from the connection and wakes whoever waits for it.
func (c *conn) forget(cmd *command) {
	c.cmdMu.Lock()
	if c.cmds[cmd.itt] == cmd {
		delete(c.cmds, cmd.itt)
	}
	reserved := cmd.reserved
	cmd.reserved = 0
	c.cmdMu.Unlock()
	c.t.buffers.give(reserved)
	cmd.cancel()
	close(cmd.done)
}

// lunNumber decodes the first level of a SAM-5 LUN field: peripheral
// (00b) or flat (01b) addressing. Other methods pass through unchanged,
// so that the server reports them as unsupported LUNs.
func lunNumber(raw uint64) uint64 {
	b0, b1 := byte(raw>>56), byte(raw>>48)
	if b0>>6 > 1 {
		return raw
	}
	return uint64(b0&0x3f)<<8 | uint64(b1)
}
