package test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// recorder is a TCP proxy that keeps every byte each side of each
// connection sent: the golden NDMP traffic of ndmp/testdata is ndmjob's
// sessions recorded through one.
type recorder struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []*recorded
	open  []net.Conn // closed by Close, for a side that never hangs up
	wg    sync.WaitGroup
}

// recorded is one connection's two byte streams.
type recorded struct {
	mu             sync.Mutex
	client, server bytes.Buffer
}

// newRecorder listens on a free loopback port and forwards each
// connection to target until Close.
func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, target: target}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(r.Close)
	return r
}

// Addr is the address clients dial instead of the target's.
func (r *recorder) Addr() string { return r.ln.Addr().String() }

func (r *recorder) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		rec := &recorded{}
		r.mu.Lock()
		r.conns = append(r.conns, rec)
		r.open = append(r.open, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(s, c, rec, &rec.client)
		go r.pipe(c, s, rec, &rec.server)
	}
}

// pipe copies src to dst, recording what passes, and half-closes dst when
// src ends so that each side sees the other's close.
func (r *recorder) pipe(dst, src net.Conn, rec *recorded, into *bytes.Buffer) {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			rec.mu.Lock()
			into.Write(buf[:n])
			rec.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}

// Close stops accepting, ends every connection and waits for its
// goroutines.
func (r *recorder) Close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.open {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Sessions returns each connection's bytes, client's and server's, in the
// order they were accepted. Call it after the client has exited.
func (r *recorder) Sessions() [][2][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][2][]byte
	for _, c := range r.conns {
		c.mu.Lock()
		out = append(out, [2][]byte{bytes.Clone(c.client.Bytes()), bytes.Clone(c.server.Bytes())})
		c.mu.Unlock()
	}
	return out
}
