package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds connecting to the target; a target that is down makes
// the proxy drop the client's connection, as the target itself would.
const dialTimeout = 2 * time.Second

// TCP forwards every connection accepted on its address to the target.
// It is safe for concurrent use.
type TCP struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[*tcpPair]struct{}
	wg     sync.WaitGroup

	accepted, refused atomic.Int64
	bytes             atomic.Int64
}

// tcpPair is one client connection and the proxy's connection to the
// target on its behalf.
type tcpPair struct {
	client net.Conn

	mu     sync.Mutex
	target net.Conn
	closed bool
}

// setTarget records the connection to the target; false means the pair was
// closed meanwhile and t must be dropped.
func (p *tcpPair) setTarget(t net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.target = t
	return true
}

// close resets both sides: a cut must look like a broken network to the
// peers, not like an orderly end of stream.
func (p *tcpPair) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	reset(p.client)
	if p.target != nil {
		reset(p.target)
	}
}

// reset closes c with SO_LINGER 0, so that the peer reads ECONNRESET.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// New listens on listenAddr (a port of 0 picks a free one) and forwards
// every TCP connection to targetAddr, which need not be up yet: it is dialled
// per connection.
func New(listenAddr, targetAddr string) (*TCP, error) {
	if _, _, err := net.SplitHostPort(targetAddr); err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", targetAddr, err)
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	return serveTCP(ln, targetAddr), nil
}

func serveTCP(ln net.Listener, targetAddr string) *TCP {
	p := &TCP{ln: ln, target: targetAddr, conns: map[*tcpPair]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p
}

// Addr is the address the proxy listens on, host:port.
func (p *TCP) Addr() string { return p.ln.Addr().String() }

// Port is the port the proxy listens on.
func (p *TCP) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Cut resets every forwarded connection and every new one until Heal.
func (p *TCP) Cut() {
	p.mu.Lock()
	p.cut = true
	pairs := make([]*tcpPair, 0, len(p.conns))
	for c := range p.conns {
		pairs = append(pairs, c)
	}
	p.mu.Unlock()
	for _, c := range pairs {
		c.close()
	}
}

// Heal forwards new connections again.
func (p *TCP) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Stats counts what the proxy did since it started.
type Stats struct {
	// Accepted are TCP connections forwarded; Refused were reset while cut.
	Accepted, Refused int64
	// Forwarded are UDP datagrams forwarded (either way); Dropped were
	// dropped while cut.
	Forwarded, Dropped int64
	// Bytes is the payload forwarded, both directions.
	Bytes int64
}

// Stats reports the proxy's counters.
func (p *TCP) Stats() Stats {
	return Stats{Accepted: p.accepted.Load(), Refused: p.refused.Load(), Bytes: p.bytes.Load()}
}

// Close stops listening, resets every connection and waits for the
// forwarding goroutines. It is safe to call more than once.
func (p *TCP) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *TCP) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		pair := &tcpPair{client: c}
		p.mu.Lock()
		if p.cut || p.closed {
			p.mu.Unlock()
			p.refused.Add(1)
			pair.close()
			continue
		}
		p.conns[pair] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(pair)
	}
}

// forward dials the target for one client and copies both ways until
// either side ends or the proxy cuts the pair.
func (p *TCP) forward(pair *tcpPair) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, pair)
		p.mu.Unlock()
		pair.close()
	}()
	t, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		return
	}
	// A Cut while dialling has closed the pair.
	if !pair.setTarget(t) {
		reset(t)
		p.refused.Add(1)
		return
	}
	p.accepted.Add(1)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		n, _ := io.Copy(dst, src)
		p.bytes.Add(n)
		// Pass a half-close on, so request/response protocols that close
		// their sending side still get their answer.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(t, pair.client)
	go pipe(pair.client, t)
	<-done
	<-done
}
