package acl

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type fakeTokens struct {
	on     bool
	tokens map[Hash]TokenRecord
}

func (f fakeTokens) ACLBootstrapped() bool { return f.on }
func (f fakeTokens) ACLToken(h Hash) (TokenRecord, bool) {
	t, ok := f.tokens[h]
	return t, ok
}

func mustToken(t *testing.T) (string, Hash) {
	t.Helper()
	s, h, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

func TestAuthorize(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	admin, adminH := mustToken(t)
	oper, operH := mustToken(t)
	read, readH := mustToken(t)
	old, oldH := mustToken(t)
	revoked, _ := mustToken(t)
	on := fakeTokens{on: true, tokens: map[Hash]TokenRecord{
		adminH: {Name: "root", Role: Admin},
		operH:  {Name: "backup-app", Role: Operator, Expires: now.Add(time.Hour)},
		readH:  {Name: "monitor", Role: Read},
		oldH:   {Name: "old", Role: Admin, Expires: now},
	}}
	off := fakeTokens{}
	const (
		addDisk = "/ferry.v1.DeviceService/AddDisk"
		submit  = "/ferry.v1.JobService/Submit"
		list    = "/ferry.v1.JobService/List"
		status_ = "/ferry.v1.ClusterService/RaftStatus"
		client  = "spiffe://prod/client/cli"
		node    = "spiffe://prod/node/n1"
	)
	bearer := func(s string) []string { return []string{BearerValue(s)} }
	for _, tc := range []struct {
		name string
		st   fakeTokens
		req  Request
		code codes.Code
		want Caller // refused (role None) or not
		msg  string // a part of the refusal
	}{
		{"before bootstrap a certificate is admin", off, Request{Method: addDisk, Cert: client}, codes.OK, Caller{Kind: Certificate, Name: client, Role: Admin}, ""},
		{"before bootstrap plaintext is anonymous admin", off, Request{Method: addDisk, Plaintext: true}, codes.OK, Caller{Kind: Anonymous, Role: Admin}, ""},
		{"before bootstrap a bad token is ignored", off, Request{Method: addDisk, Header: []string{"junk"}}, codes.OK, Caller{Kind: Anonymous, Role: Admin}, ""},
		{"unknown method", off, Request{Method: "/ferry.v1.Nope/Call"}, codes.PermissionDenied, Caller{Kind: Anonymous}, "not a method"},
		{"unknown method with admin token", on, Request{Method: "/x/y", Header: bearer(admin), Cert: client}, codes.PermissionDenied, Caller{Kind: Certificate, Name: client}, "not a method"},
		{"no token", on, Request{Method: list, Cert: client, Addr: "10.0.0.1:5"}, codes.Unauthenticated, Caller{Kind: Certificate, Name: client, Addr: "10.0.0.1:5"}, "pass -token or FERRY_TOKEN"},
		{"admin adds a disk", on, Request{Method: addDisk, Header: bearer(admin), Addr: "10.0.0.1:5"}, codes.OK, Caller{Kind: Token, Name: "root", Role: Admin, Addr: "10.0.0.1:5"}, ""},
		{"operator may not add a disk", on, Request{Method: addDisk, Header: bearer(oper), Cert: client}, codes.PermissionDenied, Caller{Kind: Token, Name: "backup-app"}, `"backup-app" has role operator; /ferry.v1.DeviceService/AddDisk needs role admin`},
		{"operator submits", on, Request{Method: submit, Header: bearer(oper)}, codes.OK, Caller{Kind: Token, Name: "backup-app", Role: Operator}, ""},
		{"read may not copy", on, Request{Method: submit, Header: bearer(read)}, codes.PermissionDenied, Caller{Kind: Token, Name: "monitor"}, "has role read; /ferry.v1.JobService/Submit needs role operator"},
		{"read lists", on, Request{Method: list, Header: bearer(read)}, codes.OK, Caller{Kind: Token, Name: "monitor", Role: Read}, ""},
		{"expired", on, Request{Method: list, Header: bearer(old)}, codes.Unauthenticated, Caller{Kind: Token, Name: "old"}, `"old" expired`},
		{"revoked or unknown", on, Request{Method: list, Header: bearer(revoked), Cert: client}, codes.Unauthenticated, Caller{Kind: Certificate, Name: client}, "unknown or revoked"},
		{"malformed", on, Request{Method: list, Header: bearer("ferry_short")}, codes.Unauthenticated, Caller{Kind: Anonymous}, "malformed"},
		{"not bearer", on, Request{Method: list, Header: []string{admin}}, codes.Unauthenticated, Caller{Kind: Anonymous}, "Bearer"},
		{"two headers", on, Request{Method: list, Header: []string{BearerValue(admin), BearerValue(read)}}, codes.Unauthenticated, Caller{Kind: Anonymous}, "2 authorization headers"},
		{"bootstrap without token after bootstrap reaches the service", on, Request{Method: BootstrapMethod, Cert: client}, codes.OK, Caller{Kind: Certificate, Name: client}, ""},
		{"node certificate asks RaftStatus", on, Request{Method: status_, Cert: node, Node: true}, codes.OK, Caller{Kind: Certificate, Name: node, Role: Read}, ""},
		{"plaintext node asks RaftStatus", on, Request{Method: status_, Plaintext: true}, codes.OK, Caller{Kind: Anonymous, Role: Read}, ""},
		{"client certificate may not ask RaftStatus without token", on, Request{Method: status_, Cert: client}, codes.Unauthenticated, Caller{Kind: Certificate, Name: client}, "no ACL token"},
		{"node certificate is no skeleton key", on, Request{Method: addDisk, Cert: node, Node: true}, codes.Unauthenticated, Caller{Kind: Certificate, Name: node}, "no ACL token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Authorize(tc.st, tc.req, now)
			if c := status.Code(err); c != tc.code {
				t.Fatalf("code %v (%v), want %v", c, err, tc.code)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q lacks %q", err, tc.msg)
				}
				if strings.Contains(err.Error(), admin) || strings.Contains(err.Error(), oper) {
					t.Errorf("error %q repeats a token", err)
				}
			}
			if got != tc.want {
				t.Errorf("caller %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	s, h := mustToken(t)
	if got, err := ParseToken(s); err != nil || got != h {
		t.Fatalf("ParseToken(new token) = %x, %v", got, err)
	}
	for _, bad := range []string{
		"", "ferry_", s[1:], s + "A", s[:len(s)-1], "FERRY_" + s[6:], strings.Replace(s, s[10:11], "+", 1),
		strings.Replace(s, s[10:11], "=", 1), " " + s[1:], TokenPrefix + strings.Repeat("\x00", 43),
	} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

func TestTokenFromHeader(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		ok   bool
	}{
		{nil, "", true}, {[]string{"Bearer abc"}, "abc", true}, {[]string{"bearer abc "}, "abc", true},
		{[]string{"Basic abc"}, "", false}, {[]string{"Bearer "}, "", false}, {[]string{"Bearer"}, "", false}, {[]string{"a", "b"}, "", false},
	} {
		got, err := TokenFromHeader(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("TokenFromHeader(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// FuzzParseToken: no input panics, and whatever parses is a token's form.
func FuzzParseToken(f *testing.F) {
	s, _, _ := NewToken()
	for _, seed := range []string{s, "", "ferry_", "Bearer " + s, s + "=", "ferry_" + strings.Repeat("A", 43)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := ParseToken(in); err == nil && (len(in) != tokenLen || !strings.HasPrefix(in, TokenPrefix)) {
			t.Fatalf("accepted %q", in)
		}
		if tok, err := TokenFromHeader([]string{in}); err == nil && tok == "" {
			t.Fatalf("header %q: no token and no error", in)
		}
	})
}

func TestCheckSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    map[string]string
		ok   bool
	}{
		{"iscsi-chap", map[string]string{"user": "u", "secret": "0123456789ab"}, true},
		{"iscsi-chap", map[string]string{"user": "u", "secret": "s", "mutual-user": "t", "mutual-secret": "m"}, true},
		{"iscsi-chap", map[string]string{"user": "u", "secret": "s", "mutual-user": "t"}, false},
		{"iscsi-chap", map[string]string{"user": "u"}, false},
		{"iscsi-chap", map[string]string{"user": "u", "secret": ""}, false},
		{"iscsi-chap", map[string]string{"user": "u", "secret": "a\nb"}, false},
		{"iscsi-chap", map[string]string{"user": "u", "secret": strings.Repeat("x", 256)}, false},
		{"iscsi-chap", map[string]string{"user": "u", "secret": "s", "password": "p"}, false},
		{"ndmp", map[string]string{"user": "ndmp", "password": "p"}, true},
		{"ndmp", nil, false},
		{"ssh", map[string]string{"user": "u"}, false},
	} {
		if err := CheckSecret(tc.name, tc.v); (err == nil) != tc.ok {
			t.Errorf("CheckSecret(%s, %v) = %v", tc.name, tc.v, err)
		}
	}
}
