package ndmpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/ferry-san/ferry/ndmp"
)

// session is one DMA's control connection and the state of each service
// on it. Messages are read and handled in order by serve's goroutine;
// mover and data streams run in goroutines of their own and send their
// notifications through conn, which is safe for concurrent senders.
type session struct {
	srv    *Server
	conn   *ndmp.Conn
	log    *slog.Logger
	ctx    context.Context // ends with the connection
	cancel context.CancelFunc
	// dma is the DMA's address as this node sees it.
	dma string

	// Set by the CONNECT service.
	opened    bool
	authed    bool
	challenge *[64]byte // the MD5 challenge handed out, used once

	// Each service's state, created by the service's own file.
	tape  *tapeState
	mover *moverState
	data  *dataState
	robot *robotState

	mu      sync.Mutex
	closers []func()
	// local is the LOCAL data connection between this session's DATA and
	// MOVER services: whichever listens leaves its end here for the other
	// to connect to.
	local net.Conn
	// localTaken is closed when connectLocal takes the end: how a LOCAL
	// listener learns that the other service connected.
	localTaken chan struct{}
}

// preAuthLimit bounds the messages a DMA may send before it has
// authenticated: the largest of them, CONNECT_CLIENT_AUTH, is a user name
// and a password or digest.
const preAuthLimit = 64 << 10

func (s *Server) newSession(ctx context.Context, c *ndmp.Conn) *session {
	c.Limit = preAuthLimit
	ctx, cancel := context.WithCancel(ctx)
	dma := c.NetConn().RemoteAddr().String()
	return &session{srv: s, conn: c, ctx: ctx, cancel: cancel, dma: dma, log: s.log.With("dma", dma)}
}

// onClose registers fn to run when the connection ends, in reverse order
// of registration: a service that holds a drive releases it there (NDMP
// has no reconnect; a DMA that vanished will not close its drive).
func (s *session) onClose(fn func()) {
	s.mu.Lock()
	s.closers = append(s.closers, fn)
	s.mu.Unlock()
}

// serve greets the DMA and handles its messages until the connection ends.
func (s *session) serve() {
	s.srv.metrics.sessions.Inc()
	defer s.srv.metrics.sessions.Dec()
	defer s.finish()
	s.log.Info("NDMP connection")
	greet := &ndmp.Ndmp4_notify_connection_status_post{Reason: ndmp.NDMP4_CONNECTED, Protocol_version: ndmp.NDMP4VER}
	if _, err := s.conn.Send(ndmp.NDMP4_NOTIFY_CONNECTION_STATUS, greet); err != nil {
		return
	}
	for {
		m, err := s.conn.Read()
		var de *ndmp.DecodeError
		switch {
		case errors.As(err, &de):
			s.refuseUndecodable(de)
			continue
		case err != nil:
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
				s.log.Info("NDMP connection lost", "err", err)
			}
			return
		}
		if !s.dispatch(m) {
			return
		}
	}
}

// finish runs the closers and closes the connection.
func (s *session) finish() {
	s.cancel()
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	local := s.local
	s.local = nil
	s.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	if local != nil {
		local.Close()
	}
	s.conn.Close()
	s.log.Info("NDMP connection closed")
}

// refuseUndecodable answers a record that did not decode: when its header
// did, with NOT_SUPPORTED (an unknown message) or XDR_DECODE_ERR; the
// connection stays up either way, as the specification asks.
func (s *session) refuseUndecodable(de *ndmp.DecodeError) {
	s.log.Info("NDMP message refused", "err", de)
	if de.Header == nil || de.Header.Message_type != ndmp.NDMP4_MESSAGE_REQUEST {
		return
	}
	code := ndmp.NDMP4_XDR_DECODE_ERR
	if errors.Is(de, ndmp.ErrUnknownMessage) {
		code = ndmp.NDMP4_NOT_SUPPORTED_ERR
	}
	if errors.Is(de, ndmp.ErrUnknownMessage) || ndmp.ExpectsReply(de.Header.Message_code) {
		_ = s.conn.Reply(de.Header, code, nil)
	}
}

// logMessage posts a LOG_MESSAGE, what a DMA shows its user.
func (s *session) logMessage(t ndmp.Ndmp4_log_type, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.log.Debug("NDMP log message", "type", t, "msg", msg)
	_, _ = s.conn.Send(ndmp.NDMP4_LOG_MESSAGE, &ndmp.Ndmp4_log_message_post{Log_type: t, Entry: msg})
}

// listenLocal makes the LOCAL data connection of this session (DATA and
// MOVER in one session, one of them listening). It returns the listener's
// end and leaves the other for connectLocal.
func (s *session) listenLocal() (net.Conn, error) {
	mine, theirs, err := socketPair()
	if err != nil {
		return nil, fmt.Errorf("local data connection: %w", err)
	}
	s.mu.Lock()
	if s.local != nil {
		s.local.Close()
	}
	s.local = theirs
	s.localTaken = make(chan struct{})
	s.mu.Unlock()
	return mine, nil
}

// socketPair is a connected pair of Unix stream sockets, whose kernel
// buffers let a producer run ahead of its consumer as over TCP (net.Pipe
// has none: each write waits for a read).
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var ends [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "ndmp-local")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 0 {
				syscall.Close(fds[1])
			} else {
				ends[0].Close()
			}
			return nil, nil, err
		}
		ends[i] = c
	}
	return ends[0], ends[1], nil
}

// listenLocalNotify is listenLocal with a channel closed when the other
// service takes the connection (the MOVER goes ACTIVE then).
func (s *session) listenLocalNotify() (net.Conn, <-chan struct{}, error) {
	c, err := s.listenLocal()
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return c, s.localTaken, nil
}

// connectLocal takes the end listenLocal left; false when nothing listens.
func (s *session) connectLocal() (net.Conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.local
	s.local = nil
	if c != nil && s.localTaken != nil {
		close(s.localTaken)
		s.localTaken = nil
	}
	return c, c != nil
}

// listenTCP opens a data connection listener on the address the DMA
// reached this node at (so a DMA or a remote mover can connect to it),
// and returns it with its address as NDMP encodes it.
func (s *session) listenTCP() (net.Listener, ndmp.Ndmp4_addr, error) {
	var addr ndmp.Ndmp4_addr
	local, ok := s.conn.NetConn().LocalAddr().(*net.TCPAddr)
	if !ok {
		return nil, addr, errors.New("control connection is not TCP")
	}
	ip4 := local.IP.To4()
	if ip4 == nil {
		return nil, addr, fmt.Errorf("control connection reached %v, not an IPv4 address (NDMP v4 addresses are IPv4)", local.IP)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(ip4.String(), "0"))
	if err != nil {
		return nil, addr, err
	}
	addr.Addr_type = ndmp.NDMP4_ADDR_TCP
	*addr.Tcp_addr() = []ndmp.Ndmp4_tcp_addr{{
		Ip_addr: uint32(ip4[0])<<24 | uint32(ip4[1])<<16 | uint32(ip4[2])<<8 | uint32(ip4[3]),
		Port:    uint32(ln.Addr().(*net.TCPAddr).Port),
	}}
	return ln, addr, nil
}

// dialAddr connects to a peer's NDMP TCP address (DATA_CONNECT,
// MOVER_CONNECT: 3-way), trying each address it lists.
func dialAddr(ctx context.Context, addr ndmp.Ndmp4_addr) (net.Conn, error) {
	if addr.Addr_type != ndmp.NDMP4_ADDR_TCP {
		return nil, fmt.Errorf("address type %v is not TCP", addr.Addr_type)
	}
	var errs []error
	for _, a := range *addr.Tcp_addr() {
		ip := net.IPv4(byte(a.Ip_addr>>24), byte(a.Ip_addr>>16), byte(a.Ip_addr>>8), byte(a.Ip_addr))
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp4", net.JoinHostPort(ip.String(), fmt.Sprint(a.Port)))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("the address lists no TCP endpoint")
	}
	return nil, errors.Join(errs...)
}
