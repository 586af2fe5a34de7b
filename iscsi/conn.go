package iscsi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// errProtocol marks a PDU that breaks RFC 7143; at ErrorRecoveryLevel 0
// the connection is closed.
var errProtocol = errors.New("iscsi: protocol error")

// writeTimeout bounds one write, so that an initiator that stops reading
// cannot hold a command goroutine forever.
const writeTimeout = 30 * time.Second

// conn is one TCP connection: its login, then its full feature phase.
type conn struct {
	t   *Target
	nc  net.Conn
	log *slog.Logger
	r   *pdu.Reader

	sess *session
	// loggedIn is set once sess is, for goroutines other than the
	// connection's own.
	loggedIn atomic.Bool
	cid      uint16

	wmu     sync.Mutex
	statSN  uint32
	digests pdu.Digests
	wbuf    []byte

	// lastRecv is when the last PDU arrived, in UnixNano, for idle pings.
	lastRecv atomic.Int64

	// cmds are the commands of this connection from their SCSI Command PDU
	// until their final response; the reader goroutine owns collecting
	// state, the lock guards the map for task management and completion.
	cmdMu   sync.Mutex
	cmds    map[uint32]*command
	nextTTT uint32
	running sync.WaitGroup
	// executing counts the commands between execute and their response.
	executing atomic.Int32
	slots     chan struct{}
}

func newConn(t *Target, nc net.Conn) *conn {
	c := &conn{t: t, nc: nc, log: t.cfg.Logger.With("remote", nc.RemoteAddr().String()),
		r: pdu.NewReader(nc, int(t.cfg.MaxRecvDataSegmentLength)), cmds: map[uint32]*command{},
		slots: make(chan struct{}, t.cfg.QueueDepth)}
	return c
}

// serve runs the connection until it fails, logs out or ctx ends.
func (c *conn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()
	defer c.nc.Close()

	c.nc.SetReadDeadline(time.Now().Add(c.t.cfg.LoginTimeout))
	s, err := c.login()
	if err != nil {
		c.logEnd("login", err)
		return
	}
	c.nc.SetReadDeadline(time.Time{})
	defer c.t.unregister(s)
	c.log = c.log.With("initiator", s.port)
	c.log.Info("iscsi: login", "discovery", s.discovery, "tsih", s.tsih,
		"header_digest", s.p.HeaderDigest, "data_digest", s.p.DataDigest)

	c.touch()
	var pinger sync.WaitGroup
	if c.t.cfg.NOPInterval > 0 {
		pinger.Go(func() { c.pinger(ctx) })
	}
	err = c.fullFeature(ctx)
	// Commands still running see their context end; their responses go
	// nowhere, but their goroutines must finish before the session is gone.
	cancel()
	c.nc.Close()
	c.running.Wait()
	c.releaseBuffers()
	pinger.Wait()
	c.logEnd("session", err)
}

// releaseBuffers gives back the data budget of the commands a closed
// connection leaves behind: writes still collecting their data-out.
func (c *conn) releaseBuffers() {
	c.cmdMu.Lock()
	var n uint64
	for _, cmd := range c.cmds {
		n += cmd.reserved
		cmd.reserved = 0
	}
	c.cmdMu.Unlock()
	c.t.buffers.give(n)
}

func (c *conn) logEnd(phase string, err error) {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		c.log.Debug("iscsi: connection closed", "phase", phase)
		return
	}
	c.log.Warn("iscsi: connection dropped", "phase", phase, "err", err)
}

func (c *conn) touch() { c.lastRecv.Store(time.Now().UnixNano()) }

// fullFeature reads PDUs until logout or an error.
func (c *conn) fullFeature(ctx context.Context) error {
	for {
		p, err := c.r.Read()
		if err != nil {
			if errors.Is(err, pdu.ErrDigest) && p != nil {
				// A data digest error on an intact header is rejected
				// (RFC 7143 7.8); recovering the command needs
				// ErrorRecoveryLevel 1, so the connection ends as well.
				c.reject(p, pdu.RejectDataDigest)
			}
			return err
		}
		c.touch()
		if c.log.Enabled(ctx, slog.LevelDebug) {
			c.log.Debug("iscsi: received", "opcode", p.Header.Opcode(), "itt", p.Header.ITT(),
				"immediate", p.Header.Immediate(), "final", p.Header.Final(), "data", len(p.Data))
		}
		done, err := c.dispatch(ctx, p)
		if err != nil || done {
			return err
		}
	}
}

// dispatch handles one full-feature PDU; done means the connection ends.
func (c *conn) dispatch(ctx context.Context, p *pdu.PDU) (bool, error) {
	op := p.Header.Opcode()
	if c.sess.discovery {
		switch op {
		case pdu.OpTextReq, pdu.OpNOPOut, pdu.OpLogoutReq:
		default:
			c.reject(p, pdu.RejectProtocolError)
			return false, nil
		}
	}
	switch op {
	case pdu.OpNOPOut:
		return false, c.nopOut(p)
	case pdu.OpSCSICommand:
		return false, c.scsiCommand(ctx, p)
	case pdu.OpDataOut:
		return false, c.dataOut(ctx, p)
	case pdu.OpTaskMgmtReq:
		return false, c.taskMgmt(p)
	case pdu.OpTextReq:
		return false, c.text(p)
	case pdu.OpLogoutReq:
		return c.logout(p)
	case pdu.OpSNACKReq:
		c.reject(p, pdu.RejectSNACK)
		return false, nil
	case pdu.OpLoginReq:
		c.reject(p, pdu.RejectProtocolError)
		return false, nil
	default:
		c.reject(p, pdu.RejectNotSupported)
		return false, nil
	}
}

// sendMode says how a PDU uses StatSN.
type sendMode int

const (
	// keepStatSN: the PDU carries the next StatSN without using it up
	// (R2T, Data-In without status, a NOP-In ping).
	keepStatSN sendMode = iota
	// nextStatSN: the PDU is a status and takes the next StatSN.
	nextStatSN
	// finalStatus: a command's last PDU; its queue slot is freed first,
	// so that the MaxCmdSN it carries already opens the window.
	finalStatus
)

// send stamps the sequence numbers into p and writes it. It is safe for
// concurrent use: commands finish on their own goroutines.
func (c *conn) send(p *pdu.PDU, mode sendMode) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if mode == finalStatus {
		c.sess.release()
	}
	exp, maxSN := c.sess.window()
	p.Header.SetStatSN(c.statSN, exp, maxSN)
	if mode != keepStatSN {
		c.statSN++
	}
	// The data goes out from its own buffer: a read's data is not copied.
	c.wbuf = pdu.AppendHeader(c.wbuf[:0], p, c.digests)
	head := len(c.wbuf)
	c.wbuf = pdu.AppendTrailer(c.wbuf, p, c.digests)
	bufs := net.Buffers{c.wbuf[:head], p.Data, c.wbuf[head:]}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := bufs.WriteTo(c.nc); err != nil {
		return fmt.Errorf("iscsi: send %v: %w", p.Header.Opcode(), err)
	}
	return nil
}

// requestLogout asks the initiator to log out within grace seconds; a
// connection still logging in is simply closed.
func (c *conn) requestLogout(grace uint16) {
	if !c.loggedIn.Load() {
		// The login may be sending its final response: wait for it.
		c.wmu.Lock()
		in := c.loggedIn.Load()
		c.wmu.Unlock()
		if !in {
			c.nc.Close()
			return
		}
	}
	m := &pdu.AsyncMessage{Event: pdu.AsyncLogoutRequest, Parameter3: grace}
	if err := c.send(pdu.Build(m, nil), nextStatSN); err != nil {
		c.nc.Close()
	}
}

// reject refuses p with reason; the connection stays up.
func (c *conn) reject(p *pdu.PDU, reason byte) {
	c.log.Debug("iscsi: reject", "opcode", p.Header.Opcode(), "reason", reason)
	hdr := p.Header
	if err := c.send(pdu.Build(&pdu.Reject{Reason: reason}, hdr[:]), nextStatSN); err != nil {
		c.nc.Close()
	}
}
