package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// maxDatagram is the largest UDP payload forwarded.
const maxDatagram = 64 << 10

// UDP forwards datagrams received on its address to the target, and the
// target's answers back to their sender, like a NAT: each sender gets its own
// socket towards the target, so the target's replies find their way back.
// It is safe for concurrent use.
type UDP struct {
	pc     *net.UDPConn
	target *net.UDPAddr

	mu       sync.Mutex
	cut      bool
	closed   bool
	sessions map[string]*net.UDPConn // sender address → socket towards the target
	wg       sync.WaitGroup

	forwarded, dropped, bytes atomic.Int64
}

// NewUDP listens on listenAddr (a port of 0 picks a free one) and forwards
// to targetAddr.
func NewUDP(listenAddr, targetAddr string) (*UDP, error) {
	pc, err := net.ListenPacket("udp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen udp: %w", err)
	}
	p, err := serveUDP(pc.(*net.UDPConn), targetAddr)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return p, nil
}

func serveUDP(pc *net.UDPConn, targetAddr string) (*UDP, error) {
	target, err := net.ResolveUDPAddr("udp", targetAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", targetAddr, err)
	}
	p := &UDP{pc: pc, target: target, sessions: map[string]*net.UDPConn{}}
	p.wg.Add(1)
	go p.readLoop()
	return p, nil
}

// Addr is the address the proxy listens on, host:port.
func (p *UDP) Addr() string { return p.pc.LocalAddr().String() }

// Port is the port the proxy listens on.
func (p *UDP) Port() int { return p.pc.LocalAddr().(*net.UDPAddr).Port }

// Cut drops every datagram, either way, until Heal.
func (p *UDP) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
}

// Heal forwards datagrams again.
func (p *UDP) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Stats reports the proxy's counters.
func (p *UDP) Stats() Stats {
	return Stats{Forwarded: p.forwarded.Load(), Dropped: p.dropped.Load(), Bytes: p.bytes.Load()}
}

// Close stops the proxy and waits for its goroutines. It is safe to call
// more than once.
func (p *UDP) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sessions := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	errs := []error{p.pc.Close()}
	for _, s := range sessions {
		errs = append(errs, s.Close())
	}
	p.wg.Wait()
	return errors.Join(errs...)
}

// pass reports whether a datagram may go through now, counting it.
func (p *UDP) pass(n int) bool {
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	if cut {
		p.dropped.Add(1)
		return false
	}
	p.forwarded.Add(1)
	p.bytes.Add(int64(n))
	return true
}

func (p *UDP) readLoop() {
	defer p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := p.pc.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.pass(n) {
			continue
		}
		s, err := p.session(from)
		if err != nil {
			continue
		}
		// A lost datagram is what UDP promises anyway.
		_, _ = s.Write(buf[:n])
	}
}

// session returns the socket towards the target for sender from, opening it
// (and the goroutine relaying the target's answers) on first use.
func (p *UDP) session(from *net.UDPAddr) (*net.UDPConn, error) {
	key := from.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if s, ok := p.sessions[key]; ok {
		return s, nil
	}
	s, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: dial udp %s: %w", p.target, err)
	}
	p.sessions[key] = s
	p.wg.Add(1)
	go p.relayBack(s, from)
	return s, nil
}

// relayBack sends what the target answers on s back to the sender.
func (p *UDP) relayBack(s *net.UDPConn, to *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, err := s.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ECONNREFUSED from an ICMP port unreachable: the target is
			// down for now; keep the session for when it is back.
			continue
		}
		if p.pass(n) {
			_, _ = p.pc.WriteToUDP(buf[:n], to)
		}
	}
}
