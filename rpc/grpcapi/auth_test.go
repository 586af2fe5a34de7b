package grpcapi

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/security/acl"
)

type authTokens map[acl.Hash]acl.TokenRecord

func (authTokens) ACLBootstrapped() bool { return true }
func (a authTokens) ACLToken(h acl.Hash) (acl.TokenRecord, bool) {
	t, ok := a[h]
	return t, ok
}

type fakeServerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeServerStream) Context() context.Context { return s.ctx }

// TestAuthPutsTheCaller: unary and stream handlers see the caller the
// check resolved; refused calls never reach them; skipped (node-only)
// methods pass untouched.
func TestAuthPutsTheCaller(t *testing.T) {
	secret, h, _ := acl.NewToken()
	a := NewAuth(AuthConfig{Tokens: authTokens{h: {Name: "backup-app", Role: acl.Operator}}, Now: func() time.Time { return time.Unix(0, 0) },
		Skip: func(m string) bool { return m == "/ferry.v1.RaftTransport/Send" }})
	withToken := metadata.NewIncomingContext(context.Background(), metadata.Pairs(acl.AuthorizationHeader, acl.BearerValue(secret)))

	var got acl.Caller
	unaryHandler := func(ctx context.Context, _ any) (any, error) { got, _ = acl.CallerFrom(ctx); return nil, nil }
	if _, err := a.unary(withToken, nil, &grpc.UnaryServerInfo{FullMethod: "/ferry.v1.JobService/Submit"}, unaryHandler); err != nil || got.Name != "backup-app" || got.Kind != acl.Token {
		t.Fatalf("unary: caller %+v, err %v", got, err)
	}
	got = acl.Caller{}
	streamHandler := func(_ any, ss grpc.ServerStream) error { got, _ = acl.CallerFrom(ss.Context()); return nil }
	if err := a.stream(nil, fakeServerStream{ctx: withToken}, &grpc.StreamServerInfo{FullMethod: "/ferry.v1.JobService/Watch"}, streamHandler); err != nil || got.Role != acl.Operator {
		t.Fatalf("stream: caller %+v, err %v", got, err)
	}
	called := false
	refused := func(_ any, _ grpc.ServerStream) error { called = true; return nil }
	err := a.stream(nil, fakeServerStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: "/ferry.v1.JobService/Watch"}, refused)
	if status.Code(err) != codes.Unauthenticated || called {
		t.Fatalf("a stream without a token: %v (handler called: %v)", err, called)
	}
	if _, err := a.unary(withToken, nil, &grpc.UnaryServerInfo{FullMethod: "/ferry.v1.DeviceService/AddDisk"}, unaryHandler); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("operator AddDisk: %v", err)
	}
	if err := a.stream(nil, fakeServerStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: "/ferry.v1.RaftTransport/Send"}, refused); err != nil || !called {
		t.Fatalf("a skipped method: %v (handler called: %v)", err, called)
	}
}
