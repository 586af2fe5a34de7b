package iscsi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Target serves one iSCSI target name on any number of listeners.
type Target struct {
	cfg Config

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	sessions  map[string]*session // by initiator port name (name + ISID)
	lastTSIH  uint16
	wg        sync.WaitGroup

	// buffers bounds the data buffers of every command (Config.DataBudget).
	buffers budget
}

// ErrClosed is returned by Serve on a closed Target.
var ErrClosed = errors.New("iscsi: target closed")

// NewTarget checks cfg, fills its defaults and returns a Target that
// serves nothing until Serve is called.
func NewTarget(cfg Config) (*Target, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Target{cfg: c, listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
		sessions: map[string]*session{}, buffers: budget{size: c.DataBudget}}, nil
}

// Serve accepts connections on ln until ctx ends (it then returns nil),
// the Target is closed (ErrClosed) or ln fails. It closes ln on return;
// connections it accepted keep running until the Target is closed or ctx
// ends.
func (t *Target) Serve(ctx context.Context, ln net.Listener) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	t.listeners[ln] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.listeners, ln)
		t.mu.Unlock()
		ln.Close()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if t.isClosed() {
				return ErrClosed
			}
			return fmt.Errorf("iscsi: accept on %v: %w", ln.Addr(), err)
		}
		t.startConn(ctx, nc)
	}
}

func (t *Target) startConn(ctx context.Context, nc net.Conn) {
	c := newConn(t, nc)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		nc.Close()
		return
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		c.serve(ctx)
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}()
}

func (t *Target) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Close stops every listener and connection and waits for their
// goroutines, including the commands they were running.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	for ln := range t.listeners {
		ln.Close()
	}
	for c := range t.conns {
		c.nc.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

// Shutdown stops accepting connections, asks every logged-in initiator to
// log out (an Asynchronous Message, RFC 7143 11.9.1), so that multipath
// initiators move to another portal in an orderly way, and waits until
// their connections end or ctx is done. Then it closes what is left, as
// Close does, and returns ctx's error if it had to.
func (t *Target) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	for ln := range t.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	grace := uint16(1)
	if d, ok := ctx.Deadline(); ok {
		grace = uint16(min(max(time.Until(d)/time.Second, 1), 3600))
	}
	for _, c := range conns {
		c.requestLogout(grace)
	}
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Close()
		return ctx.Err()
	}
}

// register makes s the session of its initiator port, closing the
// connection of a session it reinstates (RFC 7143 6.3.5), and assigns its
// TSIH. It refuses a new session past MaxSessions.
func (t *Target) register(s *session) bool {
	t.mu.Lock()
	old := t.sessions[s.port]
	if old == nil && len(t.sessions) >= t.cfg.MaxSessions {
		t.mu.Unlock()
		return false
	}
	for {
		t.lastTSIH++
		if t.lastTSIH != 0 && !t.tsihUsed(t.lastTSIH) {
			break
		}
	}
	s.tsih = t.lastTSIH
	t.sessions[s.port] = s
	t.mu.Unlock()
	if old != nil {
		t.cfg.Logger.Info("iscsi: session reinstated", "initiator", s.port)
		old.conn.nc.Close()
	}
	return true
}

func (t *Target) tsihUsed(v uint16) bool {
	for _, s := range t.sessions {
		if s.tsih == v {
			return true
		}
	}
	return false
}

// otherConns returns the connections of every session but c's.
func (t *Target) otherConns(c *conn) []*conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*conn
	for _, s := range t.sessions {
		if s.conn != c && !s.discovery {
			out = append(out, s.conn)
		}
	}
	return out
}

// unregister forgets s unless a newer session took its place, and tells
// the server of the nexus loss.
func (t *Target) unregister(s *session) {
	t.mu.Lock()
	replaced := t.sessions[s.port] != s
	if !replaced {
		delete(t.sessions, s.port)
	}
	t.mu.Unlock()
	t.nexusLost(s, replaced)
}
