package ndmpserver

import (
	"context"

	"github.com/ferry-san/ferry/ndmp"
)

// handlerFunc handles one request. It returns the reply body, whose own
// error field carries the outcome, and a header error that is NDMP4_NO_ERR
// except where the specification answers in the header (then the body is
// left out). A request that expects no reply returns nil, NDMP4_NO_ERR.
// Handlers run on the session's reading goroutine, in message order: one
// that would block long (a stream) starts a goroutine and returns.
type handlerFunc func(ctx context.Context, s *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error)

type handler struct {
	fn handlerFunc
	// beforeAuth: allowed before CONNECT_CLIENT_AUTH succeeded.
	beforeAuth bool
}

// handlers maps each message a DMA may send to its handler; each service
// adds its own in its register function.
type handlers map[ndmp.Ndmp4_message]handler

// add registers the handler of a message that needs an authenticated DMA.
func (h handlers) add(code ndmp.Ndmp4_message, fn handlerFunc) { h[code] = handler{fn: fn} }

// addOpen registers one allowed before authentication.
func (h handlers) addOpen(code ndmp.Ndmp4_message, fn handlerFunc) {
	h[code] = handler{fn: fn, beforeAuth: true}
}

// dispatch handles one decoded message and reports whether the connection
// goes on (false after CONNECT_CLOSE or a failed write).
func (s *session) dispatch(m *ndmp.Message) bool {
	if m.IsReply() || ndmp.IsPost(m.Header.Message_code) {
		// A DMA does not answer a server's posts; anything else it sends
		// that is not a request is ignored rather than fatal.
		s.log.Debug("NDMP message ignored: not a request", "msg", m.String())
		return true
	}
	h, ok := s.srv.handlers[m.Header.Message_code]
	var reply ndmp.Body
	headerErr := ndmp.NDMP4_NO_ERR
	switch {
	case !s.authed && !(ok && h.beforeAuth):
		headerErr = ndmp.NDMP4_NOT_AUTHORIZED_ERR
	case !ok:
		headerErr = ndmp.NDMP4_NOT_SUPPORTED_ERR
	default:
		reply, headerErr = h.fn(s.ctx, s, m)
	}
	if m.Header.Message_code == ndmp.NDMP4_CONNECT_CLOSE {
		return false
	}
	if !ndmp.ExpectsReply(m.Header.Message_code) && ok {
		return true
	}
	if err := s.conn.Reply(&m.Header, headerErr, reply); err != nil {
		s.log.Info("NDMP reply not sent", "msg", m.String(), "err", err)
		return false
	}
	return true
}
