package ndmpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/prometheus/client_golang/prometheus"
)

// Auth methods a server accepts in CONNECT_CLIENT_AUTH.
type AuthMethod string

const (
	AuthMD5  AuthMethod = "md5"
	AuthText AuthMethod = "text"
	// AuthNone lets any DMA in without credentials; never the default.
	AuthNone AuthMethod = "none"
)

// DefaultPort is NDMP's registered port.
const DefaultPort = 10000

// Config configures a Server.
type Config struct {
	// Cluster gives the server its libraries, robot moves and drives.
	// Required.
	Cluster Cluster
	// User and Password are the credentials DMAs authenticate with.
	// Required unless Auth is only AuthNone.
	User, Password string
	// Credentials, when set, is asked for the user and password at each
	// authentication instead of User and Password, so that they can be
	// rotated while the server runs; "" refuses every DMA.
	Credentials func() (user, password string)
	// Auth lists the accepted methods. Default: MD5 and TEXT, as
	// NDMP_CONNECT_CLIENT_AUTH defines them.
	Auth []AuthMethod
	// DataRoots are the directories DATA may back up and recover into
	// (FILESYSTEM and recover destinations must lie inside one). Empty
	// means none: DATA refuses every backup and recover ("/" allows all).
	DataRoots []string
	// Version is the revision CONFIG_GET_SERVER_INFO reports.
	Version string
	// MaxSessions bounds the control connections served at once; one more
	// is greeted with NOTIFY_CONNECTION_STATUS REFUSED and closed.
	// Default DefaultMaxSessions.
	MaxSessions int
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer receives the server's metrics; none when nil.
	Registerer prometheus.Registerer
}

// DefaultMaxSessions is Config.MaxSessions' default: far more DMA
// connections than a node has drives (Amanda opens one per step), few
// enough that nobody who reaches the port can exhaust the node.
const DefaultMaxSessions = 256

// DefaultAuth is what a server accepts when Config.Auth is empty.
func DefaultAuth() []AuthMethod { return []AuthMethod{AuthMD5, AuthText} }

// Server is an NDMP v4 server: tape, mover, data and SCSI (robot)
// services over the cluster's libraries.
type Server struct {
	cfg      Config
	log      *slog.Logger
	handlers handlers
	metrics  *metrics

	mu       sync.Mutex
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// New checks the configuration and makes a server.
func New(cfg Config) (*Server, error) {
	if cfg.Cluster == nil {
		return nil, errors.New("ndmpserver: Config.Cluster is required")
	}
	if len(cfg.Auth) == 0 {
		cfg.Auth = DefaultAuth()
	}
	onlyNone := true
	for _, a := range cfg.Auth {
		switch a {
		case AuthMD5, AuthText:
			onlyNone = false
		case AuthNone:
		default:
			return nil, fmt.Errorf("ndmpserver: auth method %q: want md5, text or none", a)
		}
	}
	if !onlyNone && cfg.Credentials == nil && (cfg.User == "" || cfg.Password == "") {
		return nil, errors.New("ndmpserver: a user and a password are required unless authentication is none")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "ndmp"), handlers: handlers{}, sessions: map[*session]struct{}{}}
	s.metrics = newMetrics(cfg.Registerer)
	if s.accepts(AuthNone) {
		s.log.Warn("NDMP accepts DMAs without authentication (-ndmp-auth none): anyone who reaches the port can read and write this cluster's tapes")
	}
	registerConnect(s.handlers)
	registerConfig(s.handlers)
	registerSCSI(s.handlers)
	registerTape(s.handlers)
	registerMover(s.handlers)
	registerData(s.handlers)
	return s, nil
}

// credentials are what a DMA authenticating now must present.
func (s *Server) credentials() (user, password string) {
	if s.cfg.Credentials != nil {
		return s.cfg.Credentials()
	}
	return s.cfg.User, s.cfg.Password
}

func (s *Server) accepts(m AuthMethod) bool {
	for _, a := range s.cfg.Auth {
		if a == m {
			return true
		}
	}
	return false
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("ndmpserver: closed")

// Serve accepts DMAs' control connections until ctx ends or Close is
// called; each is served in its own goroutine. It returns ErrClosed then.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		ln.Close()
		return ErrClosed
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || ctx.Err() != nil {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		sess := s.newSession(ctx, ndmp.NewConn(c))
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrClosed
		}
		if len(s.sessions) >= s.cfg.MaxSessions {
			s.mu.Unlock()
			s.refuse(sess.conn)
			continue
		}
		s.sessions[sess] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sess.serve()
			s.mu.Lock()
			delete(s.sessions, sess)
			s.mu.Unlock()
		}()
	}
}

// refuse tells a DMA over the limit why, as NDMP provides, and hangs up.
func (s *Server) refuse(c *ndmp.Conn) {
	s.log.Warn("NDMP connection refused: too many open", "dma", c.NetConn().RemoteAddr().String(), "max", s.cfg.MaxSessions)
	_ = c.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Send(ndmp.NDMP4_NOTIFY_CONNECTION_STATUS, &ndmp.Ndmp4_notify_connection_status_post{
		Reason: ndmp.NDMP4_REFUSED, Protocol_version: ndmp.NDMP4VER,
		Text_reason: fmt.Sprintf("this node serves at most %d NDMP connections at once", s.cfg.MaxSessions),
	})
	c.Close()
}

// Close ends every session (releasing the drives they hold) and waits for
// them.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for sess := range s.sessions {
		sess.cancel()
		sess.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
