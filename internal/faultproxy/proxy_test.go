package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// ioTimeout bounds every read and write of these tests; a cut connection
// fails well within it.
const ioTimeout = 5 * time.Second

// silence is how long a test listens to conclude that nothing comes back
// through a cut proxy: absence cannot be polled for.
const silence = 300 * time.Millisecond

// echoTCP serves line echo on a free port until the test ends.
func echoTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echoUDP echoes datagrams on a free port until the test ends.
func echoUDP(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().String()
}

// roundTrip sends a line on c and returns the line read back.
func roundTrip(c net.Conn, msg string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

// answers reports whether a new connection to addr echoes a line: a reset
// may come during the handshake or at the first read.
func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return false
	}
	defer c.Close()
	got, err := roundTrip(c, "anyone?")
	return err == nil && got == "anyone?"
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tcpProxy is the TCP side of either constructor.
type tcpProxy interface {
	Addr() string
	Cut()
	Heal()
	Stats() Stats
	Close() error
}

func TestTCP(t *testing.T) {
	constructors := []struct {
		name string
		new  func(listen, target string) (tcpProxy, error)
	}{
		{"New", func(l, tg string) (tcpProxy, error) { return New(l, tg) }},
		{"NewTCPUDP", func(l, tg string) (tcpProxy, error) {
			p, err := NewTCPUDP(l, tg)
			if err != nil {
				return nil, err
			}
			return p, nil
		}},
	}
	steps := []struct {
		name string
		run  func(t *testing.T, p tcpProxy)
	}{
		{"forwards both ways", func(t *testing.T, p tcpProxy) {
			c := dialTCP(t, p.Addr())
			for _, msg := range []string{"hello", "again"} {
				if got, err := roundTrip(c, msg); err != nil || got != msg {
					t.Fatalf("round trip %q: got %q, %v", msg, got, err)
				}
			}
			if s := p.Stats(); s.Accepted != 1 {
				t.Errorf("stats %+v, want 1 accepted", s)
			}
		}},
		{"cut resets open connections", func(t *testing.T, p tcpProxy) {
			c := dialTCP(t, p.Addr())
			if _, err := roundTrip(c, "before"); err != nil {
				t.Fatal(err)
			}
			p.Cut()
			if got, err := roundTrip(c, "after"); err == nil {
				t.Fatalf("a cut connection still answered %q", got)
			}
		}},
		{"cut refuses new connections, heal accepts them", func(t *testing.T, p tcpProxy) {
			p.Cut()
			if answers(p.Addr()) {
				t.Fatal("a connection made while cut answered")
			}
			if s := p.Stats(); s.Refused != 1 || s.Accepted != 0 {
				t.Errorf("stats %+v, want 1 refused, 0 accepted", s)
			}
			p.Heal()
			if !answers(p.Addr()) {
				t.Fatal("no answer after heal")
			}
		}},
		{"close ends connections and listening", func(t *testing.T, p tcpProxy) {
			c := dialTCP(t, p.Addr())
			if _, err := roundTrip(c, "x"); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
			if _, err := roundTrip(c, "y"); err == nil {
				t.Fatal("connection still answers after close")
			}
			if c2, err := net.DialTimeout("tcp", p.Addr(), ioTimeout); err == nil {
				c2.Close()
				t.Fatal("still listening after close")
			}
		}},
	}
	for _, k := range constructors {
		for _, s := range steps {
			t.Run(k.name+"/"+s.name, func(t *testing.T) {
				p, err := k.new("127.0.0.1:0", echoTCP(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close() })
				s.run(t, p)
			})
		}
	}
}

func TestTCPTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	p, err := New("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if answers(p.Addr()) {
		t.Fatal("a proxy to nothing answered")
	}
}

// udpProxy is the UDP side of either constructor.
type udpProxy interface {
	Addr() string
	Cut()
	Heal()
	Stats() Stats
	Close() error
}

func TestUDP(t *testing.T) {
	constructors := []struct {
		name string
		new  func(listen, target string) (udpProxy, error)
	}{
		{"NewUDP", func(l, tg string) (udpProxy, error) { return NewUDP(l, tg) }},
		{"NewTCPUDP", func(l, tg string) (udpProxy, error) {
			p, err := NewTCPUDP(l, tg)
			if err != nil {
				return nil, err
			}
			return p, nil
		}},
	}
	// exchange sends msg from c through the proxy and reports what came back
	// within wait.
	exchange := func(t *testing.T, c net.PacketConn, to net.Addr, msg string, wait time.Duration) (string, bool) {
		t.Helper()
		if _, err := c.WriteTo([]byte(msg), to); err != nil {
			t.Fatal(err)
		}
		if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, _, err := c.ReadFrom(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n]), true
	}
	for _, k := range constructors {
		t.Run(k.name, func(t *testing.T) {
			p, err := k.new("127.0.0.1:0", echoUDP(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			to, err := net.ResolveUDPAddr("udp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			clients := make([]net.PacketConn, 2)
			for i := range clients {
				if clients[i], err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				defer clients[i].Close()
			}
			steps := []struct {
				name   string
				before func()
				client int
				echoed bool
			}{
				{"forwards and relays the answer", nil, 0, true},
				{"a second sender gets its own answers", nil, 1, true},
				{"cut drops", p.Cut, 0, false},
				{"cut drops for every sender", nil, 1, false},
				{"heal forwards again", p.Heal, 0, true},
			}
			for i, s := range steps {
				if s.before != nil {
					s.before()
				}
				msg := strings.Repeat("x", i+1)
				wait := ioTimeout
				if !s.echoed {
					wait = silence
				}
				got, ok := exchange(t, clients[s.client], to, msg, wait)
				if ok != s.echoed || (ok && got != msg) {
					t.Errorf("%s: got %q (answered %v), want answered %v", s.name, got, ok, s.echoed)
				}
			}
			if st := p.Stats(); st.Dropped != 2 || st.Forwarded != 6 {
				t.Errorf("stats %+v, want 2 dropped and 6 forwarded (3 each way)", st)
			}
		})
	}
}

func TestTCPUDPSharesOnePort(t *testing.T) {
	p, err := NewTCPUDP("127.0.0.1:0", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.TCP.Port() != p.UDP.Port() || p.Port() != p.TCP.Port() {
		t.Fatalf("TCP port %d, UDP port %d: want one port", p.TCP.Port(), p.UDP.Port())
	}
}

func TestBadAddresses(t *testing.T) {
	cases := []struct {
		name string
		new  func() error
	}{
		{"New: target without a port", func() error { _, err := New("127.0.0.1:0", "localhost"); return err }},
		{"New: listen address taken", func() error {
			p, err := New("127.0.0.1:0", "127.0.0.1:9")
			if err != nil {
				return nil
			}
			defer p.Close()
			_, err = New(p.Addr(), "127.0.0.1:9")
			return err
		}},
		{"NewUDP: target without a port", func() error { _, err := NewUDP("127.0.0.1:0", "localhost"); return err }},
		{"NewUDP: bad listen address", func() error { _, err := NewUDP("nowhere", "127.0.0.1:9"); return err }},
		{"NewTCPUDP: bad listen address", func() error { _, err := NewTCPUDP("nowhere", "127.0.0.1:9"); return err }},
		{"NewTCPUDP: target without a port", func() error { _, err := NewTCPUDP("127.0.0.1:0", "localhost"); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.new(); err == nil || !strings.Contains(err.Error(), "faultproxy") {
				t.Fatalf("got %v, want a faultproxy error", err)
			}
		})
	}
}
