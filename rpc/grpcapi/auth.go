package grpcapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/ferry-san/ferry/security/acl"
	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// AuthConfig configures Auth.
type AuthConfig struct {
	// Tokens is the replicated state the tokens are looked up in
	// (*fsm.FSM). Required.
	Tokens acl.Tokens
	// Cluster is the cluster's name, which certificates carry; TLS says
	// whether the server verifies them (false: plaintext, -insecure or
	// -dev).
	Cluster string
	TLS     bool
	// Skip reports methods Auth leaves alone: the node-to-node services,
	// which cluster.PeerAuth admits by node certificate. Default: none.
	Skip func(fullMethod string) bool
	// Now is the clock tokens expire by. Default: time.Now.
	Now func() time.Time
	// Logger records refusals. Default: slog.Default().
	Logger *slog.Logger
}

// Auth resolves the caller of every call of the client API, checks it
// (security/acl.Authorize) and passes it down the call's context
// (acl.WithCaller), where handlers and the audit trail read it: it must
// come before every interceptor that reads the caller. Every node checks
// the calls it serves; none forwards a client's call to another node
// (writes reach the leader inside Raft), so a token never needs to travel
// further and a node's certificate never stands in for it.
type Auth struct{ cfg AuthConfig }

// NewAuth returns the interceptors of cfg.
func NewAuth(cfg AuthConfig) *Auth {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Skip == nil {
		cfg.Skip = func(string) bool { return false }
	}
	return &Auth{cfg: cfg}
}

// ServerOptions are the interceptors as server options.
func (a *Auth) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream)}
}

// authorize is the call's context with its caller, or the refusal.
func (a *Auth) authorize(ctx context.Context, method string) (context.Context, error) {
	req := acl.Request{Method: method, Plaintext: !a.cfg.TLS}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		req.Addr = p.Addr.String()
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		req.Header = md.Get(acl.AuthorizationHeader)
	}
	if a.cfg.TLS {
		if id, ok := mtls.PeerIdentity(ctx, a.cfg.Cluster); ok {
			req.Cert, req.Node = id.String(), id.Role == pki.RoleNode
		}
	}
	caller, err := acl.Authorize(a.cfg.Tokens, req, a.cfg.Now())
	if err != nil {
		a.cfg.Logger.Info("call refused", "method", method, "addr", req.Addr, "certificate", req.Cert, "err", err)
		return nil, err
	}
	return acl.WithCaller(ctx, caller), nil
}

func (a *Auth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if a.cfg.Skip(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (a *Auth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if a.cfg.Skip(info.FullMethod) {
		return h(srv, ss)
	}
	ctx, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, callerStream{ss, ctx})
}

// callerStream is a server stream whose context carries the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s callerStream) Context() context.Context { return s.ctx }
