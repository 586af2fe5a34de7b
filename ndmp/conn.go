package ndmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxRecord bounds the size of one record a Conn accepts. The largest
// legitimate messages are TAPE_WRITE requests and TAPE_READ replies, which
// carry one tape record (DMAs use at most a few MiB), and file history
// batches, which a server sends rather than receives.
const MaxRecord = 16 << 20

// lastFragment is the record-marking bit of a record's final fragment
// (RFC 5531, section 11).
const lastFragment = 1 << 31

// ErrRecordTooLarge: the peer announced a record larger than MaxRecord.
var ErrRecordTooLarge = errors.New("ndmp: record larger than the limit")

// ReadRecord reads one record: fragments until the one marked last, with
// the marks removed. buf is reused when it is large enough.
func ReadRecord(r io.Reader, buf []byte) ([]byte, error) { return readRecord(r, buf, MaxRecord) }

func readRecord(r io.Reader, buf []byte, limit int) ([]byte, error) {
	rec := buf[:0]
	var mark [4]byte
	for {
		if _, err := io.ReadFull(r, mark[:]); err != nil {
			if len(rec) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		m := binary.BigEndian.Uint32(mark[:])
		n := int(m &^ lastFragment)
		if len(rec)+n > limit {
			return nil, fmt.Errorf("%w: %d bytes and more (limit %d)", ErrRecordTooLarge, len(rec)+n, limit)
		}
		start := len(rec)
		rec = append(rec, make([]byte, n)...)
		if _, err := io.ReadFull(r, rec[start:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if m&lastFragment != 0 {
			return rec, nil
		}
	}
}

// WriteRecord writes rec as one record in a single fragment.
func WriteRecord(w io.Writer, rec []byte) error {
	out := make([]byte, 4, 4+len(rec))
	binary.BigEndian.PutUint32(out, uint32(len(rec))|lastFragment)
	_, err := w.Write(append(out, rec...))
	return err
}

// Conn is one NDMP control connection: it reads messages in order and sends
// requests, posts and replies, numbering what it sends. Read is for one
// goroutine; Send and Reply may be called from any number at once
// (notifications are sent by the goroutines that move data).
type Conn struct {
	c  net.Conn
	br *bufio.Reader
	// rbuf is the record buffer Read reuses.
	rbuf []byte

	mu  sync.Mutex // guards seq and serializes writes
	seq uint32
	// Now stamps each header's time_stamp; time.Now when nil.
	Now func() time.Time
	// Limit bounds the records Read accepts (MaxRecord when 0, or more).
	// A server keeps it small until the peer has authenticated, so that
	// anyone who reaches the port cannot make it hold 16 MiB per
	// connection.
	Limit int
	// Trace, when set, is called with each record read and written (raw
	// bytes, without record marks): the golden tests capture traffic with it.
	Trace func(sent bool, record []byte)
}

// NewConn wraps a connected socket.
func NewConn(c net.Conn) *Conn {
	return &Conn{c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

// NetConn is the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.c }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Read reads the next message. A record that does not decode gives a
// *DecodeError, after which the connection is still in step (the next
// record can be read); an I/O error ends the connection.
func (c *Conn) Read() (*Message, error) {
	limit := MaxRecord
	if c.Limit > 0 && c.Limit < MaxRecord {
		limit = c.Limit
	}
	rec, err := readRecord(c.br, c.rbuf, limit)
	if err != nil {
		return nil, err
	}
	if cap(rec) <= 1<<20 {
		c.rbuf = rec[:0] // keep small buffers; let a big one go
	}
	if c.Trace != nil {
		c.Trace(false, rec)
	}
	return Decode(rec)
}

// Send sends a request or post with the next sequence number, which it
// returns.
func (c *Conn) Send(code Ndmp4_message, body Body) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	h := Header{Sequence: c.seq, Message_type: NDMP4_MESSAGE_REQUEST, Message_code: code}
	return c.seq, c.write(&Message{Header: h, Body: body})
}

// Reply answers the request whose header is req. A non-zero headerErr is
// sent in the reply's header and the body left out (an unknown message, a
// body that did not decode, a message refused before authentication);
// otherwise the body carries the outcome in its own error field.
func (c *Conn) Reply(req *Header, headerErr Ndmp4_error, body Body) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	h := Header{
		Sequence:       c.seq,
		Message_type:   NDMP4_MESSAGE_REPLY,
		Message_code:   req.Message_code,
		Reply_sequence: req.Sequence,
		Error_code:     headerErr,
	}
	return c.write(&Message{Header: h, Body: body})
}

// write encodes and sends one message; c.mu is held.
func (c *Conn) write(m *Message) error {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	m.Header.Time_stamp = uint32(now().Unix())
	rec, err := Encode(m)
	if err != nil {
		return err
	}
	if c.Trace != nil {
		c.Trace(true, rec)
	}
	return WriteRecord(c.c, rec)
}
