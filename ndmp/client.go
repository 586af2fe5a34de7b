package ndmp

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/xdrpp/goxdr/xdr"
)

// Client is the DMA side of a control connection, for tests and tools: Call
// sends a request and waits for its reply, and every post the server sends
// (notifications, log messages, file history) arrives on Posts.
type Client struct {
	conn *Conn

	mu      sync.Mutex
	pending map[uint32]chan *Message
	err     error // why the reader stopped

	// Posts receives the server's posts in order. It is buffered; a client
	// that never reads it stops receiving replies once the buffer is full.
	Posts chan *Message
	done  chan struct{}
}

// Dial connects to an NDMP server and reads its NOTIFY_CONNECTION_STATUS,
// which must say CONNECTED.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := NewClient(NewConn(nc))
	select {
	case m := <-c.Posts:
		st, ok := m.Body.(*Ndmp4_notify_connection_status_post)
		switch {
		case !ok:
			c.Close()
			return nil, fmt.Errorf("ndmp: %s did not greet with NOTIFY_CONNECTION_STATUS: %v", addr, m)
		case st.Reason != NDMP4_CONNECTED:
			c.Close()
			return nil, fmt.Errorf("ndmp: %s answered %v: %s", addr, st.Reason, st.Text_reason)
		}
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("ndmp: %s: %w", addr, c.Err())
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// NewClient starts reading conn.
func NewClient(conn *Conn) *Client {
	c := &Client{conn: conn, pending: map[uint32]chan *Message{}, Posts: make(chan *Message, 4096), done: make(chan struct{})}
	go c.read()
	return c
}

// Conn is the client's connection.
func (c *Client) Conn() *Conn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) read() {
	defer close(c.done)
	for {
		m, err := c.conn.Read()
		var de *DecodeError
		if errors.As(err, &de) {
			continue // a reply we cannot decode: its caller times out
		}
		if err != nil {
			c.mu.Lock()
			c.err = err
			for _, ch := range c.pending {
				close(ch)
			}
			c.pending = nil
			c.mu.Unlock()
			return
		}
		if !m.IsReply() {
			c.Posts <- m
			continue
		}
		c.mu.Lock()
		ch := c.pending[m.Header.Reply_sequence]
		delete(c.pending, m.Header.Reply_sequence)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// Call sends a request and returns its reply. A reply whose header carries
// an error is returned with a nil Body and no Go error: callers check
// Header.Error_code and the body's Error field alike.
func (c *Client) Call(ctx context.Context, code Ndmp4_message, body Body) (*Message, error) {
	ch := make(chan *Message, 1)
	// The sequence number is taken and the reply channel registered
	// before the request is written, so the reply cannot outrun it.
	c.conn.mu.Lock()
	c.conn.seq++
	seq := c.conn.seq
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		c.conn.mu.Unlock()
		return nil, fmt.Errorf("ndmp: connection closed: %w", c.Err())
	}
	c.pending[seq] = ch
	c.mu.Unlock()
	err := c.conn.write(&Message{Header: Header{Sequence: seq, Message_type: NDMP4_MESSAGE_REQUEST, Message_code: code}, Body: body})
	c.conn.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !ExpectsReply(code) {
		return nil, nil
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("ndmp: connection closed awaiting %v: %w", code, c.Err())
		}
		return m, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Open sends CONNECT_OPEN for version 4 and fails unless it is accepted.
func (c *Client) Open(ctx context.Context) error {
	m, err := c.Call(ctx, NDMP4_CONNECT_OPEN, &Ndmp4_connect_open_request{Protocol_version: NDMP4VER})
	if err != nil {
		return err
	}
	return ReplyError(m)
}

// AuthText authenticates with a clear-text password.
func (c *Client) AuthText(ctx context.Context, user, password string) error {
	var a Ndmp4_connect_client_auth_request
	a.Auth_data.Auth_type = NDMP4_AUTH_TEXT
	*a.Auth_data.Auth_text() = Ndmp4_auth_text{Auth_id: user, Auth_password: password}
	m, err := c.Call(ctx, NDMP4_CONNECT_CLIENT_AUTH, &a)
	if err != nil {
		return err
	}
	return ReplyError(m)
}

// AuthMD5 authenticates with the MD5 challenge of CONFIG_GET_AUTH_ATTR.
func (c *Client) AuthMD5(ctx context.Context, user, password string) error {
	m, err := c.Call(ctx, NDMP4_CONFIG_GET_AUTH_ATTR, &Ndmp4_config_get_auth_attr_request{Auth_type: NDMP4_AUTH_MD5})
	if err != nil {
		return err
	}
	if err := ReplyError(m); err != nil {
		return err
	}
	attr := m.Body.(*Ndmp4_config_get_auth_attr_reply).Server_attr
	if attr.Auth_type != NDMP4_AUTH_MD5 {
		return fmt.Errorf("ndmp: server answered auth type %v to an MD5 challenge request", attr.Auth_type)
	}
	var a Ndmp4_connect_client_auth_request
	a.Auth_data.Auth_type = NDMP4_AUTH_MD5
	md := a.Auth_data.Auth_md5()
	md.Auth_id = user
	md.Auth_digest = MD5Digest(password, *attr.Challenge())
	m, err = c.Call(ctx, NDMP4_CONNECT_CLIENT_AUTH, &a)
	if err != nil {
		return err
	}
	return ReplyError(m)
}

// MD5Digest is NDMP's MD5 authentication digest: MD5 of a 128-byte message
// holding the password at its start, the 64-byte challenge ending where the
// second copy of the password begins, and that copy ending the message,
// zeros elsewhere. The specification's wording leaves the layout open for
// passwords over 32 bytes; like the implementations DMAs interoperate with
// (NetApp's, ndmjob's), only the first 32 bytes of a password are used.
func MD5Digest(password string, challenge [64]byte) [16]byte {
	pw := []byte(password)
	if len(pw) > 32 {
		pw = pw[:32]
	}
	var msg [128]byte
	copy(msg[:], pw)
	copy(msg[64-len(pw):], challenge[:])
	copy(msg[128-len(pw):], pw)
	return md5.Sum(msg[:])
}

// ReplyError returns nil when a reply reports no error in its header nor
// in its body's error field, and an *Error otherwise.
func ReplyError(m *Message) error {
	if m.Header.Error_code != NDMP4_NO_ERR {
		return &Error{Message: m.Header.Message_code, Code: m.Header.Error_code, InHeader: true}
	}
	if code := BodyError(m.Body); code != NDMP4_NO_ERR {
		return &Error{Message: m.Header.Message_code, Code: code}
	}
	return nil
}

// BodyError is a reply body's error field (every v4 reply body has one),
// NDMP4_NO_ERR for bodies without.
func BodyError(b Body) Ndmp4_error {
	if b == nil {
		return NDMP4_NO_ERR
	}
	var code Ndmp4_error
	b.XdrMarshal(&errorFinder{found: &code}, "")
	return code
}

// errorFinder is an XDR walker that stops at the first ndmp4_error value of
// a body (every v4 reply has its error as the first or second field).
type errorFinder struct {
	found *Ndmp4_error
	done  bool
}

func (f *errorFinder) Sprintf(string, ...any) string { return "" }

func (f *errorFinder) Marshal(_ string, v xdr.XdrType) {
	if f.done {
		return
	}
	switch e := v.(type) {
	case *Ndmp4_error:
		*f.found = *e
		f.done = true
	case xdr.XdrAggregate:
		if _, ok := v.(xdr.XdrVec); ok {
			return
		}
		if _, ok := v.(xdr.XdrUnion); ok {
			return
		}
		e.XdrRecurse(f, "")
	}
}

// Error is an NDMP error a peer answered.
type Error struct {
	Message  Ndmp4_message
	Code     Ndmp4_error
	InHeader bool
}

func (e *Error) Error() string {
	where := ""
	if e.InHeader {
		where = " (in the header)"
	}
	return fmt.Sprintf("ndmp: %v: %v%s", e.Message, e.Code, where)
}
