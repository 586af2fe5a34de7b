package ndmp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/xdrpp/goxdr/xdr"
)

// Header is the header every NDMP message starts with.
type Header = Ndmp4_header

// headerSize is the encoded size of a Header: six 4-byte words.
const headerSize = 24

// Message is one decoded NDMP message.
type Message struct {
	Header Header
	// Body is the request, post or reply body, nil for messages that carry
	// none and for replies whose header reports an error (the
	// specification sends those without a body).
	Body Body
}

// IsReply reports whether the message answers a request.
func (m *Message) IsReply() bool { return m.Header.Message_type == NDMP4_MESSAGE_REPLY }

func (m *Message) String() string {
	kind := "request"
	switch {
	case m.IsReply():
		kind = fmt.Sprintf("reply to #%d", m.Header.Reply_sequence)
	case IsPost(m.Header.Message_code):
		kind = "post"
	}
	s := fmt.Sprintf("#%d %v %s", m.Header.Sequence, m.Header.Message_code, kind)
	if m.Header.Error_code != NDMP4_NO_ERR {
		s += fmt.Sprintf(" (header error %v)", m.Header.Error_code)
	}
	return s
}

// Errors of Decode, to be checked with errors.Is.
var (
	// ErrShort: the record ends inside the header.
	ErrShort = errors.New("ndmp: record shorter than a message header")
	// ErrUnknownMessage: the header names a message this package does not
	// know. The DecodeError carries the header, so a server can answer
	// NDMP4_NOT_SUPPORTED_ERR.
	ErrUnknownMessage = errors.New("ndmp: unknown message")
	// ErrBadBody: the body does not decode as its message's type (too
	// short, a bad union arm, bad padding). The server answers
	// NDMP4_XDR_DECODE_ERR.
	ErrBadBody = errors.New("ndmp: body does not decode")
	// ErrBadMessageType: the header's message_type is neither request nor
	// reply.
	ErrBadMessageType = errors.New("ndmp: bad message type")
)

// DecodeError is a record that is not a well-formed message. When Header is
// non-nil the header decoded, so the peer can be answered.
type DecodeError struct {
	Header *Header
	Err    error  // one of the sentinels above
	Detail string // what the XDR decoder said
}

func (e *DecodeError) Error() string {
	s := e.Err.Error()
	if e.Header != nil {
		s += fmt.Sprintf(" (message %v, sequence %d)", e.Header.Message_code, e.Header.Sequence)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode parses one record (the bytes of a whole RPC record, without the
// record marks) into a message. It never panics: the generated XDR code
// reports malformed input by panicking with xdr.XdrError (or an io error),
// which is recovered here and returned. Bytes after the body are ignored,
// as the ONC RPC implementations NDMP peers use do.
func Decode(record []byte) (*Message, error) {
	if len(record) < headerSize {
		return nil, &DecodeError{Err: ErrShort, Detail: fmt.Sprintf("%d bytes", len(record))}
	}
	m := &Message{}
	r := bytes.NewReader(record)
	if err := unmarshal(r, &m.Header); err != nil {
		return nil, &DecodeError{Err: ErrShort, Detail: err.Error()}
	}
	h := m.Header
	switch h.Message_type {
	case NDMP4_MESSAGE_REQUEST, NDMP4_MESSAGE_REPLY:
	default:
		return nil, &DecodeError{Header: &h, Err: ErrBadMessageType, Detail: fmt.Sprintf("message_type %d", h.Message_type)}
	}
	if m.IsReply() && h.Error_code != NDMP4_NO_ERR {
		// No body: even a reply to a message this package does not know
		// (NOT_SUPPORTED to an extension) decodes.
		return m, nil
	}
	if !Known(h.Message_code) {
		return nil, &DecodeError{Header: &h, Err: ErrUnknownMessage, Detail: fmt.Sprintf("code %#x", uint32(h.Message_code))}
	}
	m.Body = NewBody(h.Message_code, h.Message_type)
	if m.Body == nil {
		return m, nil
	}
	if err := unmarshal(r, m.Body); err != nil {
		return nil, &DecodeError{Header: &h, Err: ErrBadBody, Detail: err.Error()}
	}
	return m, nil
}

func unmarshal(r *bytes.Reader, v Body) (err error) {
	defer func() {
		if p := recover(); p != nil {
			switch e := p.(type) {
			case error:
				err = e
			default:
				err = fmt.Errorf("%v", p)
			}
		}
	}()
	v.XdrMarshal(xdr.XdrIn{In: r}, "")
	return nil
}

// Append encodes the message onto b and returns the extended slice. A
// reply whose header reports an error is encoded without its body, as
// Decode expects.
func Append(b []byte, m *Message) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	if err := marshal(buf, &m.Header); err != nil {
		return b, err
	}
	if m.Body != nil && !(m.IsReply() && m.Header.Error_code != NDMP4_NO_ERR) {
		if err := marshal(buf, m.Body); err != nil {
			return b, err
		}
	}
	return buf.Bytes(), nil
}

// Encode returns the message's bytes (one record, without record marks).
func Encode(m *Message) ([]byte, error) { return Append(nil, m) }

// marshal encodes v; the generated code panics on values it cannot encode
// (a fixed-size opaque of the wrong length, a union with a bad tag).
func marshal(buf *bytes.Buffer, v Body) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ndmp: encoding %s: %v", v.XdrTypeName(), p)
		}
	}()
	v.XdrMarshal(xdr.XdrOut{Out: buf}, "")
	return nil
}
