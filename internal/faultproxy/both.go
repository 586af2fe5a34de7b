package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// bindAttempts bounds the search for a port free for both TCP and UDP.
const bindAttempts = 100

// TCPUDP forwards TCP and UDP on the same port, as a memberlist gossip port
// needs.
type TCPUDP struct {
	TCP *TCP
	UDP *UDP
}

// NewTCPUDP listens for TCP and UDP on one port of listenAddr's host (port
// 0 picks one free for both) and forwards both to targetAddr.
func NewTCPUDP(listenAddr, targetAddr string) (*TCPUDP, error) {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen address %q: %w", listenAddr, err)
	}
	attempts := 1
	if port == "0" {
		attempts = bindAttempts
	}
	var lastErr error
	for range attempts {
		ln, err := net.Listen("tcp", listenAddr)
		if err != nil {
			return nil, fmt.Errorf("faultproxy: listen: %w", err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		pc, err := net.ListenPacket("udp", bound)
		if err != nil {
			// Taken for UDP only: try another port.
			lastErr = errors.Join(err, ln.Close())
			continue
		}
		u, err := serveUDP(pc.(*net.UDPConn), targetAddr)
		if err != nil {
			return nil, errors.Join(err, pc.Close(), ln.Close())
		}
		return &TCPUDP{TCP: serveTCP(ln, targetAddr), UDP: u}, nil
	}
	return nil, fmt.Errorf("faultproxy: no port free for both TCP and UDP: %w", lastErr)
}

// Addr is the address both listen on.
func (p *TCPUDP) Addr() string { return p.TCP.Addr() }

// Port is the port both listen on.
func (p *TCPUDP) Port() int { return p.TCP.Port() }

// Cut cuts both.
func (p *TCPUDP) Cut() {
	p.TCP.Cut()
	p.UDP.Cut()
}

// Heal heals both.
func (p *TCPUDP) Heal() {
	p.TCP.Heal()
	p.UDP.Heal()
}

// Stats adds both proxies' counters.
func (p *TCPUDP) Stats() Stats {
	t, u := p.TCP.Stats(), p.UDP.Stats()
	return Stats{Accepted: t.Accepted, Refused: t.Refused, Forwarded: u.Forwarded, Dropped: u.Dropped, Bytes: t.Bytes + u.Bytes}
}

// Close closes both.
func (p *TCPUDP) Close() error { return errors.Join(p.TCP.Close(), p.UDP.Close()) }
