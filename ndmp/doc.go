// Package ndmp is the wire format of NDMP version 4 (the Network Data
// Management Protocol): its messages, their XDR encoding and the record
// marking that frames them on a TCP control connection. It knows nothing
// of tapes or servers; rpc/ndmpserver is Ferry's NDMP server built on it.
//
// An NDMP control connection carries ONC RPC records (RFC 5531 record
// marking: each fragment is preceded by a 4-byte word whose top bit marks
// the last fragment of a record and whose other 31 bits give its length).
// Each record is one message: a header (sequence, time stamp, request or
// reply, message code, the sequence it replies to, an error code) and an
// XDR body (RFC 4506) whose type the message code and direction select.
//
// The message definitions are ndmp4.x, written from the NDMP v4
// specification in strict RFC 4506 types, and ndmp4_xdr.go is generated
// from it by goxdr (github.com/xdrpp/goxdr), a generator made for exactly
// this: XDR structs, unions and enums become Go types with a marshaller, so
// no encoding is written by hand. Go names follow goxdr: the specification's
// ndmp4_tape_open_request is Ndmp4_tape_open_request, its fields are
// capitalised (Device, Mode), enum values keep their names
// (NDMP4_TAPE_RDWR_MODE), and a union is a struct with its discriminant and
// one accessor per arm (addr.Addr_type, addr.Tcp_addr()).
//
// Three kinds of message flow on a connection:
//
//	request → reply     the DMA asks, the server answers (TAPE_OPEN, ...);
//	                    a reply's header names the request's sequence
//	post                notifications, log and file history messages that
//	                    the server sends and nobody answers
//	CONNECT_CLOSE       a request with no reply
//
// The messages table (messages.go) is the one place that says which body
// each message carries; NewBody, Known, IsPost and ExpectsReply read it.
// Decode never panics: goxdr reports malformed input by panicking, which
// Decode recovers and returns as a *DecodeError, with the header when it
// decoded so that a server can answer NOT_SUPPORTED or XDR_DECODE_ERR and
// keep the connection. A reply whose header carries an error has no body.
//
// Conn reads and writes messages on a socket (numbering what it sends,
// safe for concurrent senders); Client is a DMA's side, for tests and
// tools: Call waits for the reply to its request, posts arrive on a channel.
//
// FuzzDecode holds Decode to its promise and to canonical re-encoding; the
// golden tests decode traffic captured from Amanda's ndmjob and re-encode it
// byte for byte.
package ndmp
