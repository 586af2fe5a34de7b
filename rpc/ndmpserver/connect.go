package ndmpserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"

	"github.com/ferry-san/ferry/ndmp"
)

// The CONNECT service: version negotiation and authentication.
func registerConnect(h handlers) {
	h.addOpen(ndmp.NDMP4_CONNECT_OPEN, connectOpen)
	h.addOpen(ndmp.NDMP4_CONNECT_CLIENT_AUTH, connectClientAuth)
	h.addOpen(ndmp.NDMP4_CONNECT_SERVER_AUTH, connectServerAuth)
	h.addOpen(ndmp.NDMP4_CONNECT_CLOSE, func(context.Context, *session, *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
		return nil, ndmp.NDMP4_NO_ERR
	})
	h.addOpen(ndmp.NDMP4_CONFIG_GET_AUTH_ATTR, configGetAuthAttr)
}

// connectOpen accepts version 4 only. Another version is refused with
// NOT_SUPPORTED and the connection kept, so a DMA can try again with 4.
func connectOpen(_ context.Context, s *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	req := m.Body.(*ndmp.Ndmp4_connect_open_request)
	r := &ndmp.Ndmp4_connect_open_reply{}
	switch {
	case req.Protocol_version != ndmp.NDMP4VER:
		s.log.Info("NDMP version refused", "version", req.Protocol_version)
		r.Error = ndmp.NDMP4_NOT_SUPPORTED_ERR
	case s.opened:
		r.Error = ndmp.NDMP4_ILLEGAL_STATE_ERR
	default:
		s.opened = true
	}
	return r, ndmp.NDMP4_NO_ERR
}

func connectClientAuth(_ context.Context, s *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	req := m.Body.(*ndmp.Ndmp4_connect_client_auth_request)
	r := &ndmp.Ndmp4_connect_client_auth_reply{}
	if s.authed {
		r.Error = ndmp.NDMP4_ILLEGAL_STATE_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	ok := false
	var method AuthMethod
	user := ""
	wantUser, password := s.srv.credentials()
	// No credentials (none set yet): nobody gets in by them.
	set := wantUser != "" && password != ""
	switch req.Auth_data.Auth_type {
	case ndmp.NDMP4_AUTH_NONE:
		method = AuthNone
		ok = s.srv.accepts(AuthNone)
	case ndmp.NDMP4_AUTH_TEXT:
		method = AuthText
		t := req.Auth_data.Auth_text()
		user = t.Auth_id
		ok = set && s.srv.accepts(AuthText) && equal(t.Auth_id, wantUser) && equal(t.Auth_password, password)
	case ndmp.NDMP4_AUTH_MD5:
		method = AuthMD5
		d := req.Auth_data.Auth_md5()
		user = d.Auth_id
		if set && s.challenge != nil && s.srv.accepts(AuthMD5) {
			want := ndmp.MD5Digest(password, *s.challenge)
			ok = equal(d.Auth_id, wantUser) && subtle.ConstantTimeCompare(want[:], d.Auth_digest[:]) == 1
		}
		s.challenge = nil // a challenge is good for one try
	}
	if !ok {
		s.log.Warn("NDMP authentication refused", "method", method, "user", user)
		r.Error = ndmp.NDMP4_NOT_AUTHORIZED_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	s.authed = true
	s.conn.Limit = 0 // tape records now: up to ndmp.MaxRecord
	s.log.Info("NDMP DMA authenticated", "method", method, "user", user)
	return r, ndmp.NDMP4_NO_ERR
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// connectServerAuth: the server does not authenticate itself to DMAs.
func connectServerAuth(context.Context, *session, *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	return &ndmp.Ndmp4_connect_server_auth_reply{Error: ndmp.NDMP4_NOT_SUPPORTED_ERR}, ndmp.NDMP4_NO_ERR
}

// configGetAuthAttr hands out a fresh MD5 challenge.
func configGetAuthAttr(_ context.Context, s *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	req := m.Body.(*ndmp.Ndmp4_config_get_auth_attr_request)
	r := &ndmp.Ndmp4_config_get_auth_attr_reply{}
	r.Server_attr.Auth_type = req.Auth_type
	switch req.Auth_type {
	case ndmp.NDMP4_AUTH_MD5:
		if !s.srv.accepts(AuthMD5) {
			r.Error = ndmp.NDMP4_NOT_SUPPORTED_ERR
			r.Server_attr.Auth_type = ndmp.NDMP4_AUTH_NONE
			break
		}
		var ch [64]byte
		if _, err := rand.Read(ch[:]); err != nil {
			r.Error = ndmp.NDMP4_UNDEFINED_ERR
			r.Server_attr.Auth_type = ndmp.NDMP4_AUTH_NONE
			break
		}
		s.challenge = &ch
		*r.Server_attr.Challenge() = ch
	case ndmp.NDMP4_AUTH_TEXT, ndmp.NDMP4_AUTH_NONE:
	default:
		r.Error = ndmp.NDMP4_ILLEGAL_ARGS_ERR
		r.Server_attr.Auth_type = ndmp.NDMP4_AUTH_NONE
	}
	return r, ndmp.NDMP4_NO_ERR
}
